"""How long training will take, measured on the real model before the first step.

``measure_rates`` times a few forward + backward passes of real batches and one evaluation,
changing nothing (the gradients are dropped, the optimiser does not step, the random states are
put back); ``estimate_seconds`` turns those rates into a time for the steps left, bounded by the
time budget; and one realignment's time (the trainer keeps the final ones within the budget).
Not measured: the optimiser's step (fused Adam: a few percent of a step), checkpoints and the
final baking.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

from neural_atlases.model.losses import sum_terms
from neural_atlases.preprocess.flow import FlowOptions
from neural_atlases.training.realign import layer_flows
from neural_atlases.training.trainer import Trainer
from neural_atlases.training.variants import variant_of

TRIALS = 3
"""Timed passes (after one untimed warm-up)."""


@dataclass(frozen=True)
class Rates:
    step_seconds: float
    """Median seconds of one forward + backward pass of a training batch."""
    eval_seconds: float
    """Seconds of one evaluation."""
    realign_seconds: float = 0.0
    """Seconds of one realignment of every layer (0 where the model's variant does not realign):
    one frame's read of the reconstruction and its flow, times the frames."""


def _sync(device: torch.device) -> None:
    """Wait for queued GPU work, so that a clock reading covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_rates(trainer: Trainer, eval_frames: list[int], trials: int = TRIALS) -> Rates:
    """Time ``trials`` forward + backward passes (after a warm-up) and one evaluation."""
    tc, lc = trainer.config.train, trainer.config.losses
    weights = trainer.weights(trainer.fraction())
    rigid = "global_rigidity_background" in weights
    sampler_state = trainer.sampler.generator.get_state()
    torch_state = torch.get_rng_state()
    device = next(trainer.model.parameters()).device
    times = []
    for i in range(trials + 1):
        _sync(device)
        start = time.perf_counter()
        batch = trainer.sampler.sample(
            tc.batch_size,
            int(tc.batch_size * tc.flow_batch_fraction),
            rigid_size=tc.batch_size // 8 if rigid else 0,
            rigid_step=lc.global_rigidity_px,
        )
        terms = trainer.model.get_loss_dict(trainer.model.get_outputs(batch), batch)
        total = sum_terms(weights[k] * v for k, v in terms.items() if weights.get(k, 0.0) > 0.0)
        total.backward()
        trainer.optimiser.zero_grad(set_to_none=True)
        _sync(device)
        if i:  # the first pass warms up
            times.append(time.perf_counter() - start)
    start = time.perf_counter()
    trainer.evaluate(eval_frames)  # returns a float: the GPU has finished
    eval_seconds = time.perf_counter() - start
    realign_seconds = 0.0
    if variant_of(trainer.config.model).realigns and trainer.model.num_layers > 1:
        frame = (trainer.sampler.frames[0] * 255.0 + 0.5).to(torch.uint8).cpu().numpy()
        start = time.perf_counter()
        layer_flows(trainer.model, frame, 0, list(range(1, trainer.model.num_layers)), FlowOptions())
        realign_seconds = (time.perf_counter() - start) * trainer.model.video.frames
    trainer.sampler.generator.set_state(sampler_state)
    torch.set_rng_state(torch_state)
    return Rates(statistics.median(times), eval_seconds, realign_seconds)


def estimate_seconds(steps_left: int, eval_every: int, rates: Rates, budget_seconds: float | None) -> float:
    """Seconds for ``steps_left`` steps with an evaluation every ``eval_every`` steps (and one at
    the end), at most ``budget_seconds`` when a budget is set.

    >>> estimate_seconds(1000, 500, Rates(0.01, 0.5), None)
    11.0
    >>> estimate_seconds(1000, 500, Rates(0.01, 0.5), 5.0)
    5.0
    """
    evals = steps_left // max(eval_every, 1) + (1 if steps_left % max(eval_every, 1) else 0)
    seconds = steps_left * rates.step_seconds + evals * rates.eval_seconds
    return min(seconds, budget_seconds) if budget_seconds is not None else seconds
