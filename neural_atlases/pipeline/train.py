"""The ``train`` job: prepare, build or resume the model, optimise, bake, write the atlases."""

from __future__ import annotations

import ctypes
import gc
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from neural_atlases.baking.bake import Baked, bake, load_baked, save_baked
from neural_atlases.config import Config, load_config, to_dict
from neural_atlases.conventions import atlas_file_name
from neural_atlases.errors import UserError
from neural_atlases.io.images import write_image
from neural_atlases.io.project import Project
from neural_atlases.model.atlas_model import AtlasModel
from neural_atlases.pipeline.prepare import prepare
from neural_atlases.progress import Progress
from neural_atlases.training.checkpoint import (
    CHECKPOINT_NAME,
    load_checkpoint,
    read_checkpoint,
    restore_state,
    save_checkpoint,
)
from neural_atlases.training.initialise import build_model
from neural_atlases.training.sampler import PixelSampler
from neural_atlases.training.trainer import Trainer, TrainState

BAKE_RESERVE_S = 0.06
"""Share of a time budget kept back for baking and writing atlases at the end."""


@dataclass(frozen=True)
class TrainRequest:
    """What the user asked ``train`` for."""

    config_path: Path | None = None
    steps: int | None = None
    max_minutes: float | None = None
    device: str = "auto"
    seed: int | None = None
    restart: bool = False


def release_memory() -> None:
    """Hand memory freed by preprocessing back to the system (glibc keeps it otherwise), so that
    training's peak does not stack on top of it."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def pick_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then the CPU; a named device must be there."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available (try --device cpu)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("--device mps: no Apple GPU is available (try --device cpu)")
    if name not in ("cpu", "cuda", "mps"):
        raise UserError(f"unknown --device {name!r}: use auto, cpu, cuda or mps")
    return torch.device(name)


def checkpoint_path(project: Project) -> Path:
    return project.checkpoints_dir / CHECKPOINT_NAME


def _config(project: Project, request: TrainRequest) -> tuple[Config, dict | None]:
    """The config in force and the checkpoint to resume (None: start afresh)."""
    path = checkpoint_path(project)
    payload = None
    if path.is_file() and not request.restart:
        _, saved, payload = load_checkpoint(path)
        config = saved
        if request.config_path is not None:
            given = load_config(request.config_path)
            if replace(given, train=saved.train) != replace(saved, train=saved.train):
                raise UserError(
                    f"{request.config_path} differs from the config of the checkpoint in {path.parent}: "
                    "add --restart to train afresh with it"
                )
            config = replace(config, train=given.train)
    else:
        config = load_config(request.config_path)
    train = config.train
    if request.steps is not None:
        if request.steps < 1:
            raise UserError(f"-s/--steps must be at least 1, got {request.steps}")
        train = replace(train, steps=request.steps)
    if request.seed is not None:
        train = replace(train, seed=request.seed)
    return replace(config, train=train), payload


def train_project(project: Project, request: TrainRequest) -> Baked:
    """Train (or resume) a project and bake the result; returns the baked maps."""
    start = time.monotonic()
    if request.max_minutes is not None and request.max_minutes <= 0:
        raise UserError(f"--max-minutes must be positive, got {request.max_minutes}")
    device = pick_device(request.device)
    config, payload = _config(project, request)
    torch.manual_seed(config.train.seed)
    prepared = prepare(project, config)
    if payload is not None and payload["extra"].get("fingerprint") != prepared.fingerprint:
        raise UserError(
            f"the frames or masks of {project.root} changed since the checkpoint was saved: "
            "add --restart to train afresh"
        )
    if config.model.foreground_layers > 1 and prepared.scribbles is None:
        print(
            f"warning: {config.model.foreground_layers} foreground layers and no scribbles in "
            f"{project.scribbles_dir}: the layers are split by motion and may swap objects",
            file=sys.stderr,
        )
    if payload is None:
        model = build_model(
            config.model, prepared.frames, prepared.layer_weights, prepared.transforms, prepared.corrections
        )
        state = TrainState()
    else:
        model = AtlasModel.from_meta(config.model, payload["meta"])
        model.load_state_dict(payload["model"])
        state = restore_state(payload)
    model = model.to(device)
    sampler = PixelSampler(
        prepared.frames,
        prepared.masks,
        prepared.flows,
        device,
        seed=config.train.seed,
        scribbles=prepared.scribbles,
    )
    prepared.flows, prepared.corrections = [], []  # the sampler and the model hold what they need
    prepared.layer_weights = None
    release_memory()
    trainer = Trainer(model, sampler, config, state=state)
    if payload is not None:
        if payload["optimiser"] is not None:
            trainer.optimiser.load_state_dict(payload["optimiser"])
        if payload["sampler_rng"] is not None:
            sampler.generator.set_state(payload["sampler_rng"])
        torch.set_rng_state(payload["torch_rng"])
    if request.max_minutes is not None:
        remaining = request.max_minutes * 60.0 - (time.monotonic() - start)
        state.budget_seconds = state.seconds + max(remaining * (1.0 - BAKE_RESERVE_S) - 2.0, 1.0)
    else:
        state.budget_seconds = None

    def save() -> None:
        save_checkpoint(
            checkpoint_path(project),
            model,
            config,
            trainer.state,
            trainer.optimiser,
            sampler.generator,
            extra={"fingerprint": prepared.fingerprint},
        )

    bar = Progress(
        total=max(config.train.steps - state.step, 0),
        description="training",
        unit="step",
        time_budget_s=None if state.budget_seconds is None else state.budget_seconds - state.seconds,
    )
    psnr_now = [float("nan")]
    with bar:
        try:
            trainer.run(
                on_step=lambda v: bar.update(1, loss=v["total"], psnr=psnr_now[0]),
                on_eval=lambda p: psnr_now.__setitem__(0, p),
                on_checkpoint=save,
            )
        except KeyboardInterrupt:
            save()
            raise UserError(
                f"interrupted at step {trainer.state.step}; the checkpoint is saved: "
                f"run `neural-atlases train -p {project.root}` to resume"
            ) from None
    step = trainer.state.step
    project.update_meta(config=to_dict(config), trained_steps=step)
    trainer.optimiser.state.clear()  # its memory is reused by baking
    release_memory()
    return bake_project(project, model, prepared.fingerprint, step=step)


def bake_project(project: Project, model: AtlasModel, fingerprint: str, step: int) -> Baked:
    """Bake a model into ``results/baked`` and write its static atlases."""
    with Progress(model.video.frames, "baking", unit="frame") as bar:
        baked = bake(model.cpu(), progress=bar.callback())
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
        model, _, _ = load_checkpoint(path)
        baked = bake_project(
            project, model, payload["extra"].get("fingerprint", ""), payload["state"]["step"]
        )
    return baked
