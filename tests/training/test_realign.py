"""Tests of neural_atlases.training.realign: every layer realigned against one reconstruction a
frame agrees with each layer's plain reference, and its time is measured before training."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from neural_atlases.config import from_dict
from neural_atlases.data.synthetic import SceneConfig, make_scene
from neural_atlases.preprocess.flow import FlowOptions
from neural_atlases.preprocess.transforms import layer_interior
from neural_atlases.training.estimate import measure_rates
from neural_atlases.training.realign import (
    CROP_MARGIN_PX,
    REALIGN_MIN_SHARE,
    consensus_flow,
    consensus_flow_near,
    realign_layer,
    realign_layers,
)
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


def test_realigning_every_layer_at_once_equals_each_layer_alone_and_the_whole_frame_reference():
    scene, _, model, _ = _two_layer_model()
    both = copy.deepcopy(model)
    moved = realign_layers(both, scene.frames, [1, 2])
    assert all(m > 0 for m in moved)
    for k in (1, 2):  # each alone, against the same (unmoved) reconstruction
        alone = copy.deepcopy(model)
        assert realign_layers(alone, scene.frames, [k]) == [moved[k - 1]]
        torch.testing.assert_close(both.mappings[k].residuals[-1], alone.mappings[k].residuals[-1])
        reference = copy.deepcopy(model)  # whole frames, not crops around the layer
        assert realign_layer(reference, scene.frames, k) == pytest.approx(moved[k - 1], rel=0.1)
        change = (both.mappings[k].residuals[-1] - model.mappings[k].residuals[-1]).detach()
        plain = (reference.mappings[k].residuals[-1] - model.mappings[k].residuals[-1]).detach()
        assert float((change - plain).abs().mean()) <= 0.1 * float(plain.abs().mean())
    assert not torch.equal(both.mappings[1].residuals[-1], model.mappings[1].residuals[-1])


def test_the_flow_on_a_crop_is_the_whole_frames_where_the_layer_is():
    scene, _, model, _ = _two_layer_model()
    forward, consistent, shares = consensus_flow(model, scene.frames[1], 1, FlowOptions())
    inside = layer_interior(shares[..., 1] > REALIGN_MIN_SHARE, 2, 64)
    near, near_consistent = consensus_flow_near(model, scene.frames[1], 1, FlowOptions(), inside)
    both = inside & consistent & near_consistent
    assert both.sum() > 0.5 * inside.sum()
    assert float(np.abs(near[both] - forward[both]).mean()) < 0.1  # pixels
    ys, xs = np.nonzero(inside)
    box = np.zeros_like(inside)
    y0, x0 = max(ys.min() - CROP_MARGIN_PX, 0), max(xs.min() - CROP_MARGIN_PX, 0)
    box[y0 : ys.max() + CROP_MARGIN_PX + 1, x0 : xs.max() + CROP_MARGIN_PX + 1] = True
    assert not near_consistent[~box].any() and not near[~box].any()  # nothing computed outside its box


def test_realignment_time_is_measured_before_training():
    scene, config, model, masks = _two_layer_model()
    sampler = PixelSampler(scene.frames, masks, [], torch.device("cpu"), seed=0)
    trainer = Trainer(model, sampler, config)
    assert measure_rates(trainer, trainer.eval_frames(), trials=1).realign_seconds > 0
