"""Tests of neural_atlases.training.realign: every layer realigned against one reconstruction a
frame agrees with each layer's plain reference, and its time is measured before training."""

from __future__ import annotations

import copy

import numpy as np
import torch

from neural_atlases.config import from_dict
from neural_atlases.data.synthetic import SceneConfig, make_scene
from neural_atlases.training.estimate import measure_rates
from neural_atlases.training.realign import realign_layer, realign_layers
from neural_atlases.training.sampler import PixelSampler
from neural_atlases.training.trainer import Trainer
from neural_atlases.training.variants import build_model


def _two_layer_model():
    scene = make_scene(SceneConfig(width=64, height=48, frames=4, sprites=2, sprite_size=0.4))
    config = from_dict({"model": {"foreground_layers": 2}, "train": {"batch_size": 256}})
    t = scene.frames.shape[0]
    identity = np.broadcast_to(np.eye(3), (3, t, 3, 3)).copy()
    sprites = (scene.sprite_alpha > 0.5).astype(np.float32)  # [2, T, H, W]
    masks = sprites.max(0)
    model = build_model(config.model, scene.frames, np.stack([1.0 - masks, *sprites]), identity)
    with torch.no_grad():  # each sprite sure of its layer, its mapping a little off
        model.shares.logits.copy_(torch.from_numpy(16.0 * sprites.transpose(1, 2, 3, 0) - 8.0))
        for k in (1, 2):
            model.mappings[k].affine[:, :, 2] += 0.02 * k
    return scene, config, model, masks


def test_realigning_every_layer_at_once_equals_each_layer_alone():
    scene, _, model, _ = _two_layer_model()
    both = copy.deepcopy(model)
    moved = realign_layers(both, scene.frames, [1, 2])
    for k in (1, 2):  # each alone, against the same (unmoved) reconstruction
        alone = copy.deepcopy(model)
        assert realign_layer(alone, scene.frames, k) == moved[k - 1]
        for a, b in zip(both.mappings[k].residuals, alone.mappings[k].residuals, strict=True):
            torch.testing.assert_close(a, b)
    assert all(m > 0 for m in moved)
    assert not torch.equal(both.mappings[1].residuals[-1], model.mappings[1].residuals[-1])


def test_realignment_time_is_measured_before_training():
    scene, config, model, masks = _two_layer_model()
    sampler = PixelSampler(scene.frames, masks, [], torch.device("cpu"), seed=0)
    trainer = Trainer(model, sampler, config)
    assert measure_rates(trainer, trainer.eval_frames(), trials=1).realign_seconds > 0
