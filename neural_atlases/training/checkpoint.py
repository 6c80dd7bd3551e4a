"""Checkpoints: written atomically, holding everything that rebuilds and resumes a run.

A checkpoint carries the config it was built from, the model's geometry (``AtlasModel.meta``),
its weights, the optimiser, the loop's state and the random-number states; ``load_checkpoint``
rebuilds the model from it alone. It is written to a temporary file, flushed and synced, then
renamed over the last one, so the last good checkpoint survives any interruption.
"""

from __future__ import annotations

import os
import random
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neural_atlases.config import Config, from_dict, to_dict
from neural_atlases.errors import UserError
from neural_atlases.io.images import new_file_mode
from neural_atlases.model.atlas_model import AtlasModel
from neural_atlases.training.optim import Adam
from neural_atlases.training.trainer import TrainState
from neural_atlases.training.variants import model_from_meta

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT_VERSION = 2  # 2: the model keeps the background's first fill (``AtlasModel.plate``)
TEMPORARY_PREFIX = ".checkpoint-"
"""Checkpoints are written under ``.checkpoint-XXXX.tmp`` beside the last one, then renamed."""


class _WriteRecorder:
    """A binary file that remembers the ``OSError`` of a failed write: ``torch.save`` reports a
    full disk as a bare ``RuntimeError`` ("unexpected pos"), which says nothing to a user."""

    def __init__(self, file) -> None:
        self.file = file
        self.error: OSError | None = None

    def write(self, data) -> int:
        try:
            return self.file.write(data)
        except OSError as e:
            self.error = e
            raise

    def flush(self) -> None:
        self.file.flush()


def rng_states() -> dict[str, Any]:
    """The global random-number states: torch (CPU and CUDA), NumPy and Python's."""
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what ``rng_states`` returned (CUDA states only where there are as many devices)."""
    torch.set_rng_state(states["torch"])
    cuda = states.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])


def remove_partial_checkpoints(folder: Path) -> list[Path]:
    """Delete the temporary files of checkpoint writes that were killed halfway; returns them.

    Only for the process that holds the project's lock (``io.lock``): another writer's temporary
    file would otherwise go too.
    """
    if not folder.is_dir():
        return []
    partial = [p for p in folder.glob(f"{TEMPORARY_PREFIX}*.tmp") if p.is_file()]
    for path in partial:
        path.unlink(missing_ok=True)
    return partial


def save_checkpoint(
    path: Path,
    model: AtlasModel,
    config: Config,
    state: TrainState,
    optimiser: Adam | None = None,
    sampler_generator: torch.Generator | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically (temporary file, fsync, rename).

    A write that fails (a full disk, no permission) removes its temporary file, keeps the last
    checkpoint as it was, and raises ``UserError`` naming ``path``.
    """
    payload = {
        "version": FORMAT_VERSION,
        "config": to_dict(config),
        "meta": model.meta(),
        "model": model.state_dict(),
        "optimiser": optimiser.state_dict() if optimiser is not None else None,
        "state": asdict(state),
        "torch_rng": torch.get_rng_state(),
        "rng": rng_states(),
        "sampler_rng": sampler_generator.get_state() if sampler_generator is not None else None,
        "extra": extra or {},
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise UserError(f"cannot write checkpoint {path}: {e.strerror or e}") from None
    recorder = None
    try:
        with os.fdopen(fd, "wb") as f:
            recorder = _WriteRecorder(f)
            # torch.save writes to any object with write(); its annotation asks for IO[bytes]
            torch.save(payload, recorder)  # type: ignore[arg-type]
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), new_file_mode())  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        error = e if isinstance(e, OSError) else getattr(recorder, "error", None)
        if error is not None:
            raise UserError(
                f"cannot write checkpoint {path}: {error.strerror or error} (the last good one is kept)"
            ) from None
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
    model = model_from_meta(config.model, payload["meta"])
    model.load_state_dict(payload["model"])
    return model.to(device), config, payload


def restore_state(payload: dict[str, Any]) -> TrainState:
    """The loop state saved in a checkpoint."""
    return TrainState(**payload["state"])
