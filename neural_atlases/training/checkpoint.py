"""Checkpoints: written atomically, holding everything that rebuilds and resumes a run.

A checkpoint carries the config it was built from, the model's geometry (``AtlasModel.meta``),
its weights, the optimiser, the loop's state and the random-number states; ``load_checkpoint``
rebuilds the model from it alone. It is written to a temporary file, flushed and synced, then
renamed over the last one, so the last good checkpoint survives any interruption.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from neural_atlases.config import Config, from_dict, to_dict
from neural_atlases.errors import UserError
from neural_atlases.model.atlas_model import AtlasModel
from neural_atlases.training.optim import Adam
from neural_atlases.training.trainer import TrainState

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT_VERSION = 1


def save_checkpoint(
    path: Path,
    model: AtlasModel,
    config: Config,
    state: TrainState,
    optimiser: Adam | None = None,
    sampler_generator: torch.Generator | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically (temporary file, fsync, rename)."""
    payload = {
        "version": FORMAT_VERSION,
        "config": to_dict(config),
        "meta": model.meta(),
        "model": model.state_dict(),
        "optimiser": optimiser.state_dict() if optimiser is not None else None,
        "state": asdict(state),
        "torch_rng": torch.get_rng_state(),
        "sampler_rng": sampler_generator.get_state() if sampler_generator is not None else None,
        "extra": extra or {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The raw checkpoint dict; a missing or unreadable file is a ``UserError``."""
    if not path.is_file():
        raise UserError(f"no trained model in {path.parent.parent.parent}: run `neural-atlases train` first")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - a torn or foreign file; say which
        raise UserError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}): delete it to retrain"
        ) from None
    if not isinstance(payload, dict) or payload.get("version") != FORMAT_VERSION:
        raise UserError(f"checkpoint {path} is from another version of neural-atlases: delete it to retrain")
    return payload


def load_checkpoint(
    path: Path, device: torch.device | str = "cpu"
) -> tuple[AtlasModel, Config, dict[str, Any]]:
    """Rebuild the model a checkpoint was saved from: ``(model, config, payload)``."""
    payload = read_checkpoint(path)
    config = from_dict(payload["config"])
    model = AtlasModel.from_meta(config.model, payload["meta"])
    model.load_state_dict(payload["model"])
    return model.to(device), config, payload


def restore_state(payload: dict[str, Any]) -> TrainState:
    """The loop state saved in a checkpoint."""
    return TrainState(**payload["state"])
