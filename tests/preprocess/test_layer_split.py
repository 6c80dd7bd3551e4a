"""The foreground split among several layers: tracking seeds, assigning pixels by motion, and the
whole split on a two-sprite scene."""

from __future__ import annotations

import numpy as np
import pytest

from neural_atlases.data.synthetic import SCRIBBLE_COLOURS, SceneConfig, make_scene
from neural_atlases.preprocess.flow import FlowOptions, compute_flows, consistency_mask
from neural_atlases.preprocess.instances import instance_seeds
from neural_atlases.preprocess.layer_split import (
    NONE,
    assign_by_motion,
    fill_nearest,
    motion_seeds,
    split_foreground,
    track_seeds,
)


def _translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def _two_halves(h: int = 20, w: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """A flow ``[H, W, 2]``: the left half moves by (1, 0), the right half by (0, 2); and the
    true layer of each pixel ``[H, W]``."""
    flow = np.zeros((h, w, 2), np.float32)
    truth = np.zeros((h, w), np.int16)
    flow[:, : w // 2] = (1, 0)
    flow[:, w // 2 :] = (0, 2)
    truth[:, w // 2 :] = 1
    return flow, truth


def test_fill_nearest_takes_the_nearest_known_label():
    labels = np.array([[0, -1, -1, -1, 1]], np.int16)
    known = labels >= 0
    assert fill_nearest(labels, known).tolist() == [[0, 0, 0, 1, 1]]
    assert fill_nearest(labels, np.zeros_like(known)).tolist() == labels.tolist()


def test_assign_by_motion_separates_two_translations_exactly():
    flow, truth = _two_halves()
    valid = np.ones(truth.shape, bool)
    foreground = np.ones(truth.shape, bool)
    foreground[0, 0] = False
    models = [[_translation(1, 0), _translation(0, 2)]]
    labels = assign_by_motion([(flow, valid)], models, foreground)
    assert labels[0, 0] == NONE
    assert np.array_equal(labels[foreground], truth[foreground])


def test_assign_by_motion_fills_pixels_without_consistent_flow():
    flow, truth = _two_halves()
    valid = np.ones(truth.shape, bool)
    valid[:, 3:6] = False  # inside the left half, away from the boundary
    models = [[_translation(1, 0), _translation(0, 2)]]
    labels = assign_by_motion([(flow, valid)], models, np.ones(truth.shape, bool))
    assert np.array_equal(labels, truth)


def test_track_seeds_follows_the_flow_both_ways_and_stops_where_it_is_inconsistent():
    t, h, w = 4, 12, 16
    forward = np.tile(np.array([2.0, 1.0], np.float32), (t - 1, h, w, 1))
    backward = -forward
    valid = np.ones((t - 1, h, w), bool)
    seeds = np.full((t, h, w), NONE, np.int16)
    seeds[1, 3, 3] = 1  # layer 1 at (3, 3) on frame 1
    tracked = track_seeds(seeds, forward, backward, valid, valid, np.ones((t, h, w)))
    for frame, (x, y) in enumerate([(1, 2), (3, 3), (5, 4), (7, 5)]):
        assert tracked[frame, y, x] == 1
        assert (tracked[frame] >= 0).sum() == 1
    valid[1, 3, 3] = False  # frame 1 -> 2 inconsistent there: the point stops
    tracked = track_seeds(seeds, forward, backward, valid, valid, np.ones((t, h, w)))
    assert (tracked[2] >= 0).sum() == 0 and (tracked[3] >= 0).sum() == 0 and tracked[0, 2, 1] == 1


def test_a_single_layer_gets_the_whole_mask():
    masks = np.random.default_rng(0).random((3, 8, 8)).astype(np.float32)
    flows = np.zeros((2, 8, 8, 2), np.float32)
    valid = np.ones((2, 8, 8), bool)
    seeds = np.full((3, 8, 8), NONE, np.int16)
    weights = split_foreground(masks, seeds, flows, flows, valid, valid, 1)
    assert weights.shape == (1, 3, 8, 8) and np.array_equal(weights[0], masks)


@pytest.fixture(scope="module")
def crossing():
    """A small two-sprite scene, its consecutive flow and the seeds from its scribbles."""
    scene = make_scene(SceneConfig(width=96, height=64, frames=10, sprites=2))
    forward, backward = compute_flows(scene.frames, 1, FlowOptions())
    fv, bv = consistency_mask(forward, backward), consistency_mask(backward, forward)
    seeds = np.full(scene.alpha.shape, NONE, np.int16)
    for k, colour in enumerate(SCRIBBLE_COLOURS[1:]):
        seeds[(scene.scribbles == colour).all(-1)] = k
    return scene, (forward, backward, fv, bv), seeds


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_split_follows_each_sprite_from_its_scribbles(crossing):
    scene, flows, seeds = crossing
    masks = (scene.alpha > 0.5).astype(np.float32)
    weights = split_foreground(masks, seeds, *flows, 2)
    assert weights.shape == (2, *masks.shape)
    assert np.allclose(weights.sum(0), masks)
    for k in range(2):
        assert _iou(weights[k] > 0.5, scene.sprite_alpha[k] > 0.5) > 0.8


def test_motion_seeds_put_each_layer_on_one_sprite(crossing):
    scene, (forward, _, fv, _), _ = crossing
    seeds = motion_seeds((scene.alpha > 0.5).astype(np.float32), forward, fv, 2)
    assert (seeds[1:] == NONE).all()
    found = []
    for k in range(2):
        on = [(scene.sprite_alpha[j, 0][seeds[0] == k] > 0.5).mean() for j in range(2)]
        assert max(on) > 0.9
        found.append(int(np.argmax(on)))
    assert sorted(found) == [0, 1]


@pytest.fixture(scope="module")
def meeting():
    """Two small sprites, apart at first and at the end; sprite 1 passes in front of sprite 0 and
    hides it for a while."""
    scene = make_scene(SceneConfig(width=192, height=128, frames=24, sprites=2, sprite_size=0.15))
    forward, backward = compute_flows(scene.frames, 1, FlowOptions())
    return scene, (
        forward,
        backward,
        consistency_mask(forward, backward),
        consistency_mask(backward, forward),
    )


def test_instance_seeds_give_each_separate_sprite_its_own_layer(meeting):
    scene, flows = meeting
    masks = (scene.alpha > 0.5).astype(np.float32)
    seeds = instance_seeds(masks, *flows[:2], max_layers=4)
    assert int(seeds.max()) + 1 == 2  # two sprites: two layers, not one for the piece they make together
    found = []
    for k in range(2):
        at = seeds == k
        on = [(scene.sprite_alpha[j][at] > 0.5).mean() for j in range(2)]
        assert max(on) > 0.9  # on one sprite, not on both where they meet
        found.append(int(np.argmax(on)))
    assert sorted(found) == [0, 1]
    assert instance_seeds(masks, *flows[:2], max_layers=1).max() == 0


def test_instance_seeds_find_one_layer_for_one_subject():
    scene = make_scene(SceneConfig(width=128, height=80, frames=24, sprites=1, sprite_size=0.2))
    forward, backward = compute_flows(scene.frames, 1, FlowOptions())
    masks = (scene.alpha > 0.5).astype(np.float32)
    seeds = instance_seeds(masks, forward, backward, max_layers=4)
    assert int(seeds.max()) == 0
    assert (scene.alpha[seeds == 0] > 0.5).mean() > 0.95
    assert (seeds[0] == 0).any() and (seeds[-1] == 0).any()  # carried to every frame
    assert (instance_seeds(np.zeros_like(masks), forward, backward, max_layers=4) == NONE).all()
