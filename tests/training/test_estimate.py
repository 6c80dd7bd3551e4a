"""Tests of neural_atlases.training.estimate: the measured training-time estimate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neural_atlases.config import from_dict
from neural_atlases.data.synthetic import SceneConfig, make_scene
from neural_atlases.training.estimate import Rates, estimate_seconds, measure_rates
from neural_atlases.training.sampler import PixelSampler
from neural_atlases.training.trainer import Trainer
from neural_atlases.training.variants import build_model


def test_estimate_counts_steps_and_evaluations():
    rates = Rates(step_seconds=0.01, eval_seconds=0.5)
    assert estimate_seconds(1000, 500, rates, None) == pytest.approx(10.0 + 2 * 0.5)
    assert estimate_seconds(1001, 500, rates, None) == pytest.approx(10.01 + 3 * 0.5)  # one at the end
    assert estimate_seconds(1000, 500, rates, 5.0) == 5.0  # the budget ends it first
    assert estimate_seconds(0, 500, rates, None) == 0.0


def _tiny_trainer(train: dict) -> Trainer:
    """A trainer of a one-layer model on a 3-frame 32x24 scene, with ``train`` settings."""
    scene = make_scene(SceneConfig(width=32, height=24, frames=3))
    config = from_dict({"train": train})
    identity = np.broadcast_to(np.eye(3), (2, scene.frames.shape[0], 3, 3)).copy()
    masks = (scene.alpha > 0.5).astype(np.float32)
    model = build_model(config.model, scene.frames, np.stack([1.0 - masks, masks]), identity)
    return Trainer(model, PixelSampler(scene.frames, masks, [], torch.device("cpu"), seed=0), config)


def test_measuring_changes_nothing_of_the_training():
    trainer = _tiny_trainer({"batch_size": 256})
    model, sampler = trainer.model, trainer.sampler
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sampler_state, torch_state = sampler.generator.get_state(), torch.get_rng_state()

    rates = measure_rates(trainer, trainer.eval_frames(), trials=2)

    assert rates.step_seconds > 0 and rates.eval_seconds > 0
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(sampler.generator.get_state(), sampler_state)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert trainer.state.step == 0


def test_a_budget_keeps_back_the_final_realignments_and_evaluation():
    trainer = _tiny_trainer({"batch_size": 256, "realign_final": 5})
    trainer.state.seconds, trainer.state.budget_seconds = 90.0, 100.0
    assert trainer.finish_seconds() == 0.0 and not trainer.done()  # nothing measured yet
    trainer.realign_seconds, trainer.eval_seconds = 1.5, 0.5
    assert trainer.finish_seconds() == pytest.approx(5 * 1.5 + 0.5)
    assert not trainer.done()  # 90 + 8 < 100
    trainer.realign_seconds = 2.0
    assert trainer.done()  # 90 + 10.5 >= 100: stop now, and end within the budget
