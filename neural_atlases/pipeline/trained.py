"""What a trained project holds: its checkpoint (and the snapshots of a run), its baked maps
(``results/baked``, baked again from the checkpoint when missing) and its static atlases.

Shared by the ``train`` job (``pipeline.train``), which writes them, and by what reads them
(the report, the commands that render and export, the benchmarks).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neural_atlases.baking.bake import Baked, bake, load_baked, save_baked
from neural_atlases.conventions import atlas_file_name
from neural_atlases.device import pick_device
from neural_atlases.errors import UserError
from neural_atlases.io.images import read_frames, write_image
from neural_atlases.io.project import Project
from neural_atlases.model.atlas_model import AtlasModel
from neural_atlases.progress import Progress
from neural_atlases.training.checkpoint import CHECKPOINT_NAME, load_checkpoint, read_checkpoint


def checkpoint_path(project: Project) -> Path:
    return project.checkpoints_dir / CHECKPOINT_NAME


def snapshot_path(project: Project, minutes: float) -> Path:
    """Where the snapshot taken at ``minutes`` of a run goes (``TrainRequest.snapshot_minutes``)."""
    return project.checkpoints_dir / f"snapshot_{minutes:g}min.pt"


def bake_project(project: Project, model: AtlasModel, fingerprint: str, step: int) -> Baked:
    """Bake a model into ``results/baked`` and write its static atlases."""
    with Progress(model.video.frames, "baking", unit="frame") as bar:
        baked = bake(model, progress=bar.callback())
    save_baked(baked, project.baked_dir, f"{fingerprint}:{step}")
    write_atlases(baked, project.atlases_dir)
    return baked


def write_atlases(baked: Baked, folder: Path) -> list[Path]:
    """Write each layer's static atlas as an RGBA PNG; returns the paths."""
    paths = []
    for layer, atlas in enumerate(baked.atlases):
        path = folder / atlas_file_name(layer)
        write_image(path, atlas)
        paths.append(path)
    return paths


def load_trained(project: Project) -> Baked:
    """The baked maps of a trained project (baked again from the checkpoint when missing)."""
    path = checkpoint_path(project)
    payload = read_checkpoint(path)
    key = f"{payload['extra'].get('fingerprint')}:{payload['state']['step']}"
    baked = load_baked(project.baked_dir, key)
    if baked is None:
        model, _, _ = load_checkpoint(path, pick_device("auto"))
        baked = bake_project(
            project, model, payload["extra"].get("fingerprint", ""), payload["state"]["step"]
        )
    return baked


def frames_for(project: Project, baked: Baked) -> np.ndarray:
    """The project's input frames ``[T, H, W, 3]``, checked to be the ones ``baked`` was trained on."""
    frames = read_frames(project.frames_dir)
    if frames.shape[:3] != baked.shape:
        raise UserError(
            f"the frames of {project.root} ({frames.shape[0]} of {frames.shape[2]}x{frames.shape[1]}) "
            "are not the ones the model was trained on: train again"
        )
    return frames
