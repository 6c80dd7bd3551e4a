"""What the user asked ``train`` for, and the checks on it that need no torch (the command line
runs them before any heavy import)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from neural_atlases.device import check_device_name
from neural_atlases.errors import UserError


@dataclass(frozen=True)
class TrainRequest:
    """What the user asked ``train`` for."""

    config_path: Path | None = None
    steps: int | None = None
    max_minutes: float | None = None
    device: str = "auto"
    seed: int | None = None
    restart: bool = False
    snapshot_minutes: tuple[float, ...] = ()
    """Also keep a copy of the checkpoint at each of these minutes of the run (preprocessing
    included), as ``results/checkpoints/snapshot_<M>min.pt`` (``snapshot_path``)."""


def check_request(request: TrainRequest) -> None:
    """Raise ``UserError`` for a step count, a time bound or a device name that cannot be."""
    if request.steps is not None and request.steps < 1:
        raise UserError(f"-s/--steps must be at least 1, got {request.steps}")
    if request.max_minutes is not None and request.max_minutes <= 0:
        raise UserError(f"--max-minutes must be positive, got {request.max_minutes}")
    if any(not m >= 0 for m in request.snapshot_minutes):
        raise UserError(f"--snapshots must be minutes >= 0, got {list(request.snapshot_minutes)}")
    check_device_name(request.device)
