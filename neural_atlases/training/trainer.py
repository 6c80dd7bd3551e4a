"""The optimisation loop. Side effects (progress, evaluation, checkpoints) are explicit calls of
the caller's, never hidden in ``try/except``; a non-finite loss stops with a message that names
the step and the term."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from neural_atlases.config import Config
from neural_atlases.errors import UserError
from neural_atlases.model.atlas_model import AtlasModel
from neural_atlases.model.losses import sum_terms
from neural_atlases.training.optim import Adam
from neural_atlases.training.realign import realign_layers
from neural_atlases.training.sampler import PixelSampler
from neural_atlases.training.variants import variant_of


class TrainingDiverged(UserError):
    """A loss term became NaN or infinite."""


@dataclass
class TrainState:
    """What a checkpoint records of the loop besides the weights."""

    step: int = 0
    seconds: float = 0.0
    """Training seconds so far, over every run that resumed this one."""
    budget_seconds: float | None = None
    """Total training seconds this run may reach (None: bounded by steps only)."""
    history: list[dict[str, float]] = field(default_factory=list)


def _param_groups(model: AtlasModel, config: Config) -> list[dict]:
    tc = config.train
    groups: dict[str, list[torch.nn.Parameter]] = {"atlas": [], "transform": [], "residual": [], "alpha": []}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if name.startswith("atlases."):
            groups["atlas"].append(p)
        elif ".residuals." in name:
            groups["residual"].append(p)
        elif name.startswith("mappings."):
            groups["transform"].append(p)
        else:
            groups["alpha"].append(p)
    lrs = {
        "atlas": tc.lr_atlas,
        "transform": tc.lr_transform,
        "residual": tc.lr_residual,
        "alpha": tc.lr_alpha,
    }
    return [{"params": ps, "lr": lrs[k], "base_lr": lrs[k], "name": k} for k, ps in groups.items() if ps]


def make_optimiser(model: AtlasModel, config: Config) -> Adam:
    """Adam over the fields, one learning rate per kind of parameter (fused where it can be)."""
    beta1, beta2 = config.train.adam_betas  # two of them (``config.validate``)
    return Adam(_param_groups(model, config), betas=(beta1, beta2), eps=config.train.adam_eps)


def training_fraction(state: TrainState, steps: int) -> float:
    """How far training is, in [0, 1]: by steps, or by time when the run has a time budget
    (``--max-minutes``), whichever is further. Without a budget it depends on the step alone, so
    a run resumed from a checkpoint follows the schedules of an uninterrupted one exactly."""
    by_steps = state.step / max(steps, 1)
    budget = state.budget_seconds
    by_time = state.seconds / budget if budget else 0.0
    return min(1.0, max(by_steps, by_time))


def cosine_ratio(fraction: float, final_ratio: float) -> float:
    """Learning-rate multiplier: 1 at the start, ``final_ratio`` at the end, cosine between."""
    f = min(max(fraction, 0.0), 1.0)
    return final_ratio + (1.0 - final_ratio) * 0.5 * (1.0 + math.cos(math.pi * f))


class Trainer:
    """Runs steps of the model on batches of the sampler."""

    def __init__(
        self,
        model: AtlasModel,
        sampler: PixelSampler,
        config: Config,
        optimiser: Adam | None = None,
        state: TrainState | None = None,
    ) -> None:
        self.model = model
        self.sampler = sampler
        self.config = config
        self.optimiser = optimiser or make_optimiser(model, config)
        self.state = state or TrainState()
        self.realign_seconds = 0.0
        """How long the last realignment took (0 until one ran): the final ones are reserved."""
        self.eval_seconds = 0.0
        """How long the last evaluation took."""
        model.set_mixed_precision(config.train.mixed_precision)

    def fraction(self) -> float:
        """How far training is, by steps or by time, whichever is further (``training_fraction``)."""
        return training_fraction(self.state, self.config.train.steps)

    def weights(self, fraction: float) -> dict[str, float]:
        """Each loss term's weight at a point of training (schedules applied: windows in steps
        where the config gives them, else in fractions of training)."""
        lc = self.config.losses
        step = self.state.step
        bootstrap = step < lc.bootstrap_steps if lc.bootstrap_steps else fraction < lc.bootstrap_fraction
        rigid = (
            step < lc.global_rigidity_steps
            if lc.global_rigidity_steps
            else fraction < lc.global_rigidity_fraction
        )
        w = {
            "rgb": lc.rgb,
            "gradient": lc.gradient,
            "sparsity": lc.sparsity,
            "rigidity": lc.rigidity,
            "flow": lc.flow,
            "alpha_flow": lc.alpha_flow,
            "hidden_flow": lc.hidden_flow,
            "bootstrap": lc.bootstrap if bootstrap else 0.0,
            "scribble": lc.scribble,
            "alpha_residual": lc.alpha_residual,
            "texture_checker": lc.texture_checker,
            "plate": lc.plate,
        }
        if rigid:
            w["global_rigidity_background"] = lc.global_rigidity_background
            w["global_rigidity_foreground"] = lc.global_rigidity_foreground
        if lc.release_units:  # the release sums colour errors over the channels
            w["rgb"] *= 3.0
            w["gradient"] *= 3.0
        return w

    def step(self) -> dict[str, float]:
        """One optimisation step; returns the weighted terms and their total, as floats."""
        tc, lc = self.config.train, self.config.losses
        fraction = self.fraction()
        ratio = cosine_ratio(fraction, tc.lr_final_ratio)
        for group in self.optimiser.param_groups:
            group["lr"] = group["base_lr"] * ratio
        weights = self.weights(fraction)
        rigid = "global_rigidity_background" in weights
        batch = self.sampler.sample(
            tc.batch_size,
            int(tc.batch_size * tc.flow_batch_fraction),
            rigid_size=int(tc.batch_size * tc.rigid_batch_fraction) if rigid else 0,
            rigid_step=lc.global_rigidity_px,
        )
        out = self.model.get_outputs(batch)
        terms = self.model.get_loss_dict(out, batch)
        weighted = {k: weights[k] * v for k, v in terms.items() if weights.get(k, 0.0) > 0.0}
        total = sum_terms(weighted.values())
        self.optimiser.zero_grad(set_to_none=True)
        total.backward()
        # one device-to-host copy for every term and the plain rgb error
        host = torch.stack([*weighted.values(), terms["rgb"]]).detach().tolist()
        values = dict(zip(weighted, host[:-1], strict=True))
        for name, value in values.items():
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"training diverged at step {self.state.step + 1}: loss term '{name}' is {value}"
                )
        self.optimiser.step()
        self.state.step += 1
        values["total"] = sum(values.values())
        values["rgb_psnr"] = 10.0 * math.log10(1.0 / max(host[-1], 1e-12))
        return values

    @torch.no_grad()
    def evaluate(self, frames: list[int]) -> float:
        """Reconstruction PSNR (dB) over some frames, rendered from the fields."""
        target = self.sampler.frames
        errors = [float((self.model.render_frame(t).clamp(0, 1) - target[t]).square().mean()) for t in frames]
        return 10.0 * math.log10(1.0 / max(sum(errors) / len(errors), 1e-12))

    def eval_frames(self) -> list[int]:
        """The frames ``evaluate`` is run on during training: first, last and two between."""
        n = self.sampler.num_frames
        return sorted({0, n // 3, (2 * n) // 3, n - 1})

    def realign(self) -> None:
        """Pull every foreground layer onto the reconstruction (``training.realign``), where the
        model's variant realigns."""
        if not variant_of(self.config.model).realigns:
            return
        frames = (self.sampler.frames * 255.0 + 0.5).to(torch.uint8).cpu().numpy()
        realign_layers(self.model, frames, list(range(1, self.model.num_layers)))

    def done(self) -> bool:
        """Whether the step count is reached, or the time budget would be by the end of the run's
        last step, final realignments and evaluation (``finish_seconds``) included."""
        if self.state.step >= self.config.train.steps:
            return True
        budget = self.state.budget_seconds
        return budget is not None and self.state.seconds + self.finish_seconds() >= budget

    def finish_seconds(self) -> float:
        """What a run does after its last step, at the times measured so far: ``realign_final``
        realignments and an evaluation (Big Buck Bunny at 768x432: about 20 s each realignment)."""
        return self.config.train.realign_final * self.realign_seconds + self.eval_seconds

    def _timed_realign(self) -> None:
        start = time.perf_counter()
        self.realign()
        self.realign_seconds = time.perf_counter() - start

    def _timed_evaluate(self, frames: list[int]) -> float:
        start = time.perf_counter()
        value = self.evaluate(frames)
        self.eval_seconds = time.perf_counter() - start
        return value

    def run(
        self,
        on_step: Callable[[dict[str, float]], None] | None = None,
        on_eval: Callable[[float], None] | None = None,
        on_checkpoint: Callable[[], None] | None = None,
    ) -> None:
        """Steps until the step count or the time budget is reached, calling back between steps."""
        tc = self.config.train
        eval_frames = self.eval_frames()
        pending = sorted(f for f in tc.realign_at if f > self.fraction())
        last = time.perf_counter()
        while not self.done():
            if pending and self.fraction() >= pending[0]:
                pending.pop(0)
                self._timed_realign()
            values = self.step()
            now = time.perf_counter()
            self.state.seconds += now - last  # wall time, evaluations and checkpoints included
            last = now
            if on_step:
                on_step(values)
            step, finished = self.state.step, self.done()
            if step % tc.eval_every == 0 or finished:
                value = self._timed_evaluate(eval_frames)
                self.state.history.append(
                    {
                        "step": step,
                        "seconds": self.state.seconds,
                        "psnr": value,
                        **{k: v for k, v in values.items() if k != "rgb_psnr"},
                    }
                )
                if on_eval:
                    on_eval(value)
            if finished:
                for _ in range(tc.realign_final):
                    self._timed_realign()
                now = time.perf_counter()
                self.state.seconds += now - last  # the evaluation and realignments: within the budget
                last = now
            if on_checkpoint and (step % tc.checkpoint_every == 0 or finished):
                on_checkpoint()
