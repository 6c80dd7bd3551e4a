"""The ``train`` job: prepare, build or resume the model, optimise, bake, write the atlases."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import torch

from neural_atlases.baking.bake import Baked
from neural_atlases.config import Config, load_config, to_dict
from neural_atlases.device import pick_device
from neural_atlases.errors import UserError
from neural_atlases.io.images import remove_partial_writes
from neural_atlases.io.lock import project_lock
from neural_atlases.io.project import Project
from neural_atlases.model.atlas_model import AtlasModel
from neural_atlases.pipeline.prepare import Prepared, prepare
from neural_atlases.pipeline.report import clear_media, refresh_media, try_write_report, write_report
from neural_atlases.pipeline.request import TrainRequest, check_request
from neural_atlases.pipeline.trained import bake_project, checkpoint_path, snapshot_path
from neural_atlases.preprocess.mask_names import check_foreground_class
from neural_atlases.progress import Progress
from neural_atlases.report.page import duration
from neural_atlases.training.checkpoint import (
    load_checkpoint,
    remove_partial_checkpoints,
    restore_state,
    save_checkpoint,
    set_rng_states,
)
from neural_atlases.training.estimate import TRIALS, Rates, estimate_seconds, measure_rates
from neural_atlases.training.log import LOSS_EVERY, LossMeter, append_record
from neural_atlases.training.prefit import prefit_mappings
from neural_atlases.training.sampler import PixelSampler
from neural_atlases.training.trainer import Trainer, TrainState
from neural_atlases.training.variants import build_model, check_model_config, model_from_meta

BAKE_RESERVE_S = 0.08
"""Share of a time budget kept back for baking, writing the atlases and the report at the end."""


def release_memory() -> None:
    """Hand memory freed by preprocessing back to the system (glibc keeps it otherwise), so that
    training's peak does not stack on top of it."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block SIGTERM (a shutdown, a plain ``kill``) stops like Ctrl-C: it raises
    ``KeyboardInterrupt``, so training saves a checkpoint before it exits. Off the main thread
    (where handlers cannot be set) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Snapshots:
    """Copies of the checkpoint taken at given minutes since ``start`` (``time.monotonic()``).

    ``check()`` is called between steps; it saves, through ``save(path, elapsed_seconds)``, every
    snapshot whose time has come (at the first call at or after it, so a snapshot's true time,
    which it records, may be a step later than asked).
    """

    def __init__(self, minutes: tuple[float, ...], start: float, save: Callable[[float, float], None]):
        self.pending = sorted(minutes)
        self.start = start
        self.save = save

    def check(self) -> None:
        elapsed = time.monotonic() - self.start
        while self.pending and elapsed >= self.pending[0] * 60.0:
            self.save(self.pending.pop(0), elapsed)


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
        train = replace(train, steps=request.steps)
    if request.seed is not None:
        train = replace(train, seed=request.seed)
    return replace(config, train=train), payload


def train_project(project: Project, request: TrainRequest) -> Baked:
    """Train (or resume) a project and bake the result; returns the baked maps.

    Holds the project's lock throughout (``io.lock``): a second ``train`` on the same project
    refuses with a ``UserError`` naming the running one.
    """
    start = time.monotonic()
    check_request(request)  # before the lock: a mistyped flag leaves no trace in the project
    device = pick_device(request.device)
    with project_lock(project.results_dir, "train"):
        remove_partial_checkpoints(project.checkpoints_dir)
        for folder in (project.cache_dir, project.masks_out_dir):  # written by train alone
            remove_partial_writes(folder)
        return _train(project, request, device, start)


def _train(project: Project, request: TrainRequest, device: torch.device, start: float) -> Baked:
    """The run, step by step: config, prepared data, model and trainer, pre-fit, budget,
    optimisation, bake."""
    config, payload = _config(project, request)
    check_model_config(config)  # before any heavy work, as the config's own keys were
    check_foreground_class(config.preprocess.foreground_class)
    torch.manual_seed(config.train.seed)
    prepared = _prepare(project, config, payload)
    # foreground_layers 0 ("one a subject") is resolved by prepare; the checkpoint keeps the number
    config = replace(config, model=replace(config.model, foreground_layers=prepared.foreground_layers))
    prepare_seconds = time.monotonic() - start
    trainer = _start_trainer(project, config, prepared, payload, device)
    saver = _Saver(project, trainer, prepared.fingerprint)
    snapshots = Snapshots(request.snapshot_minutes, start, saver.snapshot)
    snapshots.check()
    if payload is None and config.train.prefit_steps > 0:
        prefit(trainer.model, config, request, start, snapshots)
    rates = measure_rates(trainer, trainer.eval_frames())  # before the budget is set: it counts
    trainer.realign_seconds, trainer.eval_seconds = rates.realign_seconds, rates.eval_seconds
    _set_budget(trainer.state, request, start)
    train_seconds = _optimise(project, trainer, saver, snapshots, training_plan(trainer, device, rates))
    return _bake(project, trainer, prepared, start, {"prepare": prepare_seconds, "train": train_seconds})


def _prepare(project: Project, config: Config, payload: dict | None) -> Prepared:
    """``pipeline.prepare``, checked against the checkpoint a run resumes."""
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
    return prepared


def _start_trainer(
    project: Project, config: Config, prepared: Prepared, payload: dict | None, device: torch.device
) -> Trainer:
    """The model (built by its variant, or the checkpoint's), its sampler and trainer, with every
    state a resumed run continues from."""
    if payload is None:  # a fresh start: the log and the report's media of an earlier model go
        project.training_log_path.unlink(missing_ok=True)
        clear_media(project)
        model = build_model(
            config.model, prepared.frames, prepared.layer_weights, prepared.transforms, prepared.corrections
        )
        state = TrainState()
    else:
        model = model_from_meta(config.model, payload["meta"])
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
        if "rng" in payload:
            set_rng_states(payload["rng"])
        else:  # a checkpoint from before the NumPy and Python states were saved
            torch.set_rng_state(payload["torch_rng"])
    return trainer


class _Saver:
    """Writes a run's checkpoint, and its snapshots (without the optimiser)."""

    def __init__(self, project: Project, trainer: Trainer, fingerprint: str) -> None:
        self.project, self.trainer, self.fingerprint = project, trainer, fingerprint

    def checkpoint(self) -> None:
        t = self.trainer
        extra = {"fingerprint": self.fingerprint}
        path = checkpoint_path(self.project)
        save_checkpoint(path, t.model, t.config, t.state, t.optimiser, t.sampler.generator, extra=extra)

    def snapshot(self, minutes: float, elapsed: float) -> None:
        t = self.trainer
        extra = {"fingerprint": self.fingerprint, "wall_seconds": elapsed, "snapshot_minutes": minutes}
        path = snapshot_path(self.project, minutes)
        save_checkpoint(path, t.model, t.config, t.state, None, t.sampler.generator, extra)


def _set_budget(state: TrainState, request: TrainRequest, start: float) -> None:
    """The training seconds the run may reach: what ``--max-minutes`` leaves, less the bake's share."""
    if request.max_minutes is not None:
        remaining = request.max_minutes * 60.0 - (time.monotonic() - start)
        state.budget_seconds = state.seconds + max(remaining * (1.0 - BAKE_RESERVE_S) - 2.0, 1.0)
    else:
        state.budget_seconds = None


class _StepLog:
    """What the optimisation shows and logs between steps: the bar, the loss records, the
    snapshots, the report after each evaluation."""

    def __init__(self, project: Project, trainer: Trainer, bar: Progress, snapshots: Snapshots) -> None:
        self.project, self.trainer, self.bar, self.snapshots = project, trainer, bar, snapshots
        self.meter = LossMeter()

    def log_losses(self, psnr: float | None = None) -> None:
        state = self.trainer.state
        record = {"event": "loss", "step": state.step, "seconds": state.seconds}
        record.update(time=time.time(), **self.meter.means())
        if psnr is not None:
            record["psnr"] = psnr
        append_record(self.project.training_log_path, record)
        self.meter.reset()

    def on_step(self, values: dict[str, float]) -> None:
        self.bar.update(1, loss=values["total"])
        self.snapshots.check()
        self.meter.add(values)
        step, trainer = self.trainer.state.step, self.trainer
        if step % LOSS_EVERY == 0 and step % trainer.config.train.eval_every != 0 and not trainer.done():
            self.log_losses()

    def on_eval(self, psnr: float) -> None:
        self.bar.update(0, psnr=psnr)  # shown from the first evaluation on
        self.log_losses(psnr)
        try_write_report(self.project)


def _optimise(project: Project, trainer: Trainer, saver: _Saver, snapshots: Snapshots, plan: dict) -> float:
    """Train to the step count or the budget, with a bar and the training log; Ctrl-C or SIGTERM
    saves a checkpoint and stops with one line. Returns the seconds it took."""
    print(format_plan(plan), file=sys.stderr)  # before the bar: a terminal's bar is drawn at once
    append_record(project.training_log_path, plan)
    state = trainer.state
    bar = Progress(
        total=max(trainer.config.train.steps - state.step, 0),
        description="training",
        unit="step",
        time_budget_s=None if state.budget_seconds is None else state.budget_seconds - state.seconds,
    )
    progress = _StepLog(project, trainer, bar, snapshots)
    train_start = time.monotonic()
    with bar, sigterm_as_interrupt():
        try:
            trainer.run(on_step=progress.on_step, on_eval=progress.on_eval, on_checkpoint=saver.checkpoint)
        except KeyboardInterrupt:
            saver.checkpoint()
            raise UserError(
                f"interrupted at step {trainer.state.step}; the checkpoint is saved: "
                f"run `neural-atlases train -p {project.root}` to resume"
            ) from None
    return time.monotonic() - train_start


def _bake(
    project: Project, trainer: Trainer, prepared: Prepared, start: float, timings: dict[str, float]
) -> Baked:
    """Bake the trained model, record the run's times, refresh the report."""
    step = trainer.state.step
    project.update_meta(config=to_dict(trainer.config), trained_steps=step)
    # the optimiser's state and the flow that batches were drawn from: their memory is reused by baking
    trainer.optimiser.state.clear()
    trainer.sampler.flows.clear()
    release_memory()
    bake_start = time.monotonic()
    baked = bake_project(project, trainer.model, prepared.fingerprint, step=step)
    timings = {**timings, "bake": time.monotonic() - bake_start}
    append_record(
        project.training_log_path,
        {"event": "done", "step": step, "time": time.time(), **timings, "total": time.monotonic() - start},
    )
    refresh_media(project, baked, prepared.frames, f"{prepared.fingerprint}:{step}", step)
    write_report(project)
    return baked


def training_plan(trainer: Trainer, device: torch.device, rates: Rates) -> dict:
    """What the run will do, with an estimate of its training time from ``rates`` measured on the
    real model (``training.estimate``): a ``"plan"`` record of the training log."""
    config, state = trainer.config, trainer.state
    steps_left = max(config.train.steps - state.step, 0)
    budget_left = None if state.budget_seconds is None else max(state.budget_seconds - state.seconds, 0.0)
    t, h, w = trainer.sampler.frames.shape[:3]
    return {
        "event": "plan",
        "time": time.time(),
        "resolution": f"{w}x{h}",
        "frames": int(t),
        "device": str(device),
        "steps": config.train.steps,
        "start_step": state.step,
        "budget_seconds": budget_left,
        "estimate_seconds": estimate_seconds(steps_left, config.train.eval_every, rates, budget_left),
        "estimate_method": (
            f"{rates.step_seconds * 1000:.1f} ms a step (median of {TRIALS} timed forward + backward passes) "
            f"and {rates.eval_seconds:.2f} s an evaluation, measured before the first step"
        ),
        "config": to_dict(config),
    }


def format_plan(plan: dict) -> str:
    """The lines ``train`` prints before training."""
    steps = plan["steps"] - plan["start_step"]
    what = f"{steps} steps" + (f" (resuming at step {plan['start_step']})" if plan["start_step"] else "")
    if plan["budget_seconds"] is not None:
        what += f", or until its training time budget of {duration(plan['budget_seconds'])} runs out"
    return (
        f"training {plan['frames']} frames of {plan['resolution']} on {plan['device']}: {what}\n"
        f"estimated training time: {duration(plan['estimate_seconds'])} "
        f"({plan['estimate_method']}), then baking"
    )


def prefit(
    model: AtlasModel, config: Config, request: TrainRequest, start: float, snapshots: Snapshots
) -> None:
    """The paper model's mapping pre-fit (``training.prefit``), within the run's time budget."""
    tc = config.train
    deadline = None
    if request.max_minutes is not None:
        deadline = start + request.max_minutes * 60.0 * (1.0 - BAKE_RESERVE_S)
    with Progress(tc.prefit_steps * model.num_layers, "mapping pre-fit", unit="step") as bar:
        report = bar.callback()

        def progress(done: int, total: int) -> None:
            report(done, total)
            snapshots.check()

        errors = prefit_mappings(
            model, tc.prefit_steps, tc.batch_size, tc.lr_transform, tc.seed, deadline, progress
        )
        bar.write("mapping pre-fit: mean error " + ", ".join(f"{e:.2f}" for e in errors) + " px")
