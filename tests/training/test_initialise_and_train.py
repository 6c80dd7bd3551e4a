"""Tests of neural_atlases.training.initialise and a tiny end-to-end run of
neural_atlases.pipeline.train (train, bake, reconstruct, resume)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neural_atlases.config import ModelConfig
from neural_atlases.conventions import normalised_to_pixel, pixel_to_normalised, pixels_per_unit
from neural_atlases.data.synthetic import SceneConfig, make_scene, write_project
from neural_atlases.editing.render import Renderer, RenderOptions
from neural_atlases.errors import UserError
from neural_atlases.evaluation.evaluate import psnr
from neural_atlases.io.project import Project
from neural_atlases.pipeline.train import TrainRequest, train_project
from neural_atlases.pipeline.trained import checkpoint_path, load_trained
from neural_atlases.training.checkpoint import load_checkpoint
from neural_atlases.training.initialise import (
    aligned_side,
    content_box,
    largest_side,
    pixel_to_normalised_matrix,
    place_atlas,
    push_pull_fill,
    visibility,
)
from neural_atlases.training.variants import build_model

SMALL_CONFIG = {
    "train": {"batch_size": 512, "eval_every": 10, "checkpoint_every": 10},
    "preprocess": {"flow_gaps": [1, 2]},
}


def _apply(m: np.ndarray, xy: np.ndarray) -> np.ndarray:
    p = np.concatenate([xy, np.ones((len(xy), 1))], 1) @ m.T
    return p[:, :2] / p[:, 2:]


# -- push-pull fill -------------------------------------------------------------------------------
def test_push_pull_fill_keeps_known_texels_and_fills_the_rest():
    rng = np.random.default_rng(0)
    h, w = 23, 37
    colour = rng.random((h, w, 3))
    weight = (rng.random((h, w)) < 0.3).astype(np.float64)
    weight[10:20, 5:30] = 0.0  # a large hole
    out = push_pull_fill(colour * weight[..., None], weight)
    assert out.shape == (h, w, 3) and out.dtype == np.float32
    assert np.isfinite(out).all()
    known = weight > 0
    np.testing.assert_allclose(out[known], colour[known], atol=1e-6)
    # filled texels are averages of known colours: inside their range
    assert out.min() >= colour[known].min() - 1e-6 and out.max() <= colour[known].max() + 1e-6


def test_push_pull_fill_normalises_weights_above_one():
    weighted = np.zeros((8, 8, 1))
    weight = np.zeros((8, 8))
    weighted[2, 3], weight[2, 3] = 1.5, 3.0  # three samples of 0.5
    out = push_pull_fill(weighted, weight)
    assert out[2, 3, 0] == pytest.approx(0.5)
    np.testing.assert_allclose(out, 0.5, atol=1e-6)  # the only colour there is


def test_push_pull_fill_constant_colour_stays_constant():
    weight = np.zeros((16, 9))
    weight[0, 0] = weight[15, 8] = weight[7, 4] = 1.0
    out = push_pull_fill(np.full((16, 9, 3), 0.25) * weight[..., None], weight)
    np.testing.assert_allclose(out, 0.25, atol=1e-6)


@pytest.mark.parametrize("hw", [(1, 1), (2, 5), (5, 2), (3, 3)])
def test_push_pull_fill_tiny_and_empty(hw):
    h, w = hw
    out = push_pull_fill(np.zeros((h, w, 3)), np.zeros((h, w)))
    assert out.shape == (h, w, 3) and np.isfinite(out).all()
    weight = np.zeros((h, w))
    weight[0, 0] = 1.0
    colour = np.zeros((h, w, 3))
    colour[0, 0] = [0.1, 0.2, 0.3]
    out = push_pull_fill(colour, weight)
    np.testing.assert_allclose(out.reshape(-1, 3), np.tile([0.1, 0.2, 0.3], (h * w, 1)), atol=1e-6)


# -- placing an atlas -----------------------------------------------------------------------------
def test_content_box_of_identity_transforms_is_the_frame():
    weights = np.ones((3, 32, 48))
    transforms = np.tile(np.eye(3), (3, 1, 1))
    assert content_box(transforms, weights) == (0.0, 0.0, 47.0, 31.0)


def test_content_box_follows_translations_and_weights():
    t = np.tile(np.eye(3), (2, 1, 1))
    t[1, 0, 2], t[1, 1, 2] = 10.0, -5.0
    weights = np.zeros((2, 20, 30))
    weights[0, 4:9, 8:13] = 1.0  # a 5x5 square at x 8..12, y 4..8
    weights[1, 4:9, 8:13] = 1.0  # the same square, moved by (10, -5)
    x0, y0, x1, y1 = content_box(t, weights, stride=1)
    assert (x0, y0, x1, y1) == (8.0, -1.0, 22.0, 8.0)


def test_content_box_with_no_pixels_of_the_layer_is_the_frame():
    assert content_box(np.tile(np.eye(3), (2, 1, 1)), np.zeros((2, 10, 12))) == (0.0, 0.0, 11.0, 9.0)


@pytest.mark.parametrize("margin", [0, 4, 16])
def test_place_atlas_on_identity_holds_the_frame_with_the_margin(margin):
    h, w = 32, 48
    config = ModelConfig(atlas_scale=1.0, atlas_margin=margin)
    box = content_box(np.tile(np.eye(3), (2, 1, 1)), np.ones((2, h, w)))
    geometry, to_uv = place_atlas(box, (h, w), config)
    ah, aw = geometry.atlas_height, geometry.atlas_width
    assert (ah, aw) == (aligned_side(h + 2 * margin, config), aligned_side(w + 2 * margin, config))
    assert h + 2 * margin <= ah < h + 2 * margin + 8 and w + 2 * margin <= aw < w + 2 * margin + 8
    ys, xs = np.mgrid[0:h, 0:w]
    pix = np.stack([xs.ravel(), ys.ravel()], -1).astype(np.float64)
    uv = torch.from_numpy(_apply(to_uv, pix))
    texel = normalised_to_pixel(uv, geometry.atlas_height, geometry.atlas_width).numpy()
    np.testing.assert_allclose(texel, pix + margin, atol=1e-9)
    # nominal scale: one frame pixel is one texel
    assert geometry.scale == pytest.approx(pixels_per_unit(h, w) / pixels_per_unit(ah, aw))


def test_place_atlas_scales_with_atlas_scale():
    geometry, to_uv = place_atlas(
        (0.0, 0.0, 47.0, 31.0), (32, 48), ModelConfig(atlas_scale=2.0, atlas_margin=2)
    )
    assert (geometry.atlas_height, geometry.atlas_width) == (73, 105)  # 62 + 1 + 4, 94 + 1 + 4, aligned
    texel = normalised_to_pixel(
        torch.from_numpy(_apply(to_uv, np.array([[0.0, 0.0], [47.0, 31.0]]))), 73, 105
    ).numpy()
    np.testing.assert_allclose(texel, [[2.0, 2.0], [96.0, 64.0]], atol=1e-9)


def test_place_atlas_shrinks_to_the_maximum_side():
    config = ModelConfig(max_atlas_side=100, atlas_margin=4)
    geometry, _ = place_atlas((0.0, 0.0, 999.0, 499.0), (500, 1000), config)
    assert geometry.atlas_width == 97 and geometry.atlas_height <= 97  # the largest aligned side


@pytest.mark.parametrize("box_width", [4465.882941470735, 4648.824412206103])
def test_place_atlas_never_passes_the_maximum_side(box_width):
    geometry, _ = place_atlas((0.0, 0.0, box_width, 100.0), (720, 1280), ModelConfig())
    assert geometry.atlas_width <= 4096


def test_pixel_to_normalised_matrix_is_the_convention():
    m = pixel_to_normalised_matrix(32, 48)
    pix = np.array([[0.0, 0.0], [47.0, 31.0], [10.5, 3.25]])
    expected = pixel_to_normalised(torch.from_numpy(pix), 32, 48).numpy()
    np.testing.assert_allclose(_apply(m, pix), expected, atol=1e-12)


def test_a_subject_always_in_one_place_leaves_no_colour_in_the_first_fill():
    from neural_atlases.training.initialise import owned

    np.testing.assert_array_equal(owned(np.array([0.0, 0.02, 0.49, 0.5, 0.9])), [0, 0, 0, 0.5, 0.9])
    t, h, w = 70, 8, 12
    frames = np.full((t, h, w, 3), 40, np.uint8)
    frames[:, 2:6, 4:8] = 230  # a subject that never moves aside
    soft = np.full((t, h, w), 1.0)
    soft[:, 2:6, 4:8] = 0.02  # a soft mask leaves it a little background weight on every frame
    transforms = np.tile(np.eye(3), (2, t, 1, 1))
    model = build_model(
        ModelConfig(atlas_scale=1.0, atlas_margin=0, atlas_levels=1),
        frames,
        np.stack([soft, 1.0 - soft]),
        transforms,
    )
    background = model.first_fill().numpy()
    assert background[3:5, 5:7].max() < 100 / 255.0  # filled from around it, not with its colour


def test_build_model_on_a_static_clip_puts_the_frame_in_the_background_atlas():
    t, h, w, margin = 3, 12, 20, 3
    frame = np.random.default_rng(1).integers(0, 256, (h, w, 3), dtype=np.uint8)
    frames = np.repeat(frame[None], t, 0)
    weights = np.stack([np.ones((t, h, w)), np.zeros((t, h, w))])  # everything is background
    transforms = np.tile(np.eye(3), (2, t, 1, 1))
    model = build_model(
        ModelConfig(atlas_scale=1.0, atlas_margin=margin, atlas_levels=2), frames, weights, transforms
    )
    g = model.geometries[0]
    assert (g.atlas_height, g.atlas_width) == (h + 2 * margin + 1, w + 2 * margin + 1)  # odd: 2 levels align
    atlas = model.atlases[0].texture().detach().numpy()
    np.testing.assert_allclose(atlas[margin : margin + h, margin : margin + w], frame / 255.0, atol=1e-5)
    assert np.isfinite(atlas).all()
    np.testing.assert_array_equal(model.plate.numpy(), atlas)  # the plate term's first fill
    assert "plate" in model.state_dict()  # kept in checkpoints, so a resumed run holds to it too
    # the background mapping reads each pixel at its own texel
    ys, xs = np.mgrid[0:h, 0:w]
    pix = torch.from_numpy(np.stack([xs.ravel(), ys.ravel()], -1)).float()
    for frame_index in range(t):
        uv = model.mappings[0](model.normalise(pix), torch.full((h * w,), frame_index)).detach()
        texel = normalised_to_pixel(uv, g.atlas_height, g.atlas_width)
        torch.testing.assert_close(texel, pix + margin, rtol=0, atol=1e-3)
    # shares start from the weights: the foreground share is small everywhere
    shares = model.frame_pixels(0)["shares"]
    torch.testing.assert_close(shares[:, 1], torch.full((h * w,), 0.1), rtol=0, atol=1e-4)


# -- end to end -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scene():
    return make_scene(SceneConfig(width=48, height=32, frames=5))


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "small.json"
    path.write_text(json.dumps(SMALL_CONFIG))
    return path


def test_train_bake_reconstruct_and_resume(tmp_path, scene, config_file):
    root = tmp_path / "clip"
    write_project(scene, root)
    project = Project(root)
    baked = train_project(project, TrainRequest(config_path=config_file, steps=20, device="cpu"))

    t, h, w = 5, 32, 48
    assert baked.shape == (t, h, w)
    assert baked.num_layers == 2
    assert baked.shares.shape == (t, h, w, 2)
    np.testing.assert_allclose(np.asarray(baked.shares).sum(-1), 1.0, atol=1e-5)
    for layer in range(2):
        assert baked.maps[layer].shape == (t, h, w, 2) and baked.maps[layer].dtype == np.float32
        atlas = baked.atlases[layer]
        assert atlas.ndim == 3 and atlas.shape[2] == 4 and atlas.dtype == np.uint8
        assert atlas.shape[0] > h // 2 and atlas.shape[1] > w // 2
        assert (
            project.atlases_dir / ("background_atlas.png" if layer == 0 else "foreground_atlas_0.png")
        ).is_file()

    renderer = Renderer(baked, [None, None], RenderOptions(reconstruct=True))
    recon = np.stack(list(renderer.frames(scene.frames)))
    assert recon.shape == scene.frames.shape
    assert psnr(recon, scene.frames) > 20.0

    _, config, payload = load_checkpoint(checkpoint_path(project))
    assert payload["state"]["step"] == 20
    assert config.train.batch_size == 512 and config.train.steps == 20
    assert config.preprocess.flow_gaps == (1, 2)
    assert [e["step"] for e in payload["state"]["history"]] == [10, 20]
    assert project.load_meta()["trained_steps"] == 20

    # loading again gives the same baked maps, without training
    again = load_trained(project)
    np.testing.assert_array_equal(np.asarray(again.maps[0]), baked.maps[0])

    # a second call resumes from the checkpoint and continues the step count
    baked2 = train_project(project, TrainRequest(steps=26, device="cpu"))
    _, config2, payload2 = load_checkpoint(checkpoint_path(project))
    assert payload2["state"]["step"] == 26
    assert config2.train.batch_size == 512  # the checkpoint's config is kept
    assert [e["step"] for e in payload2["state"]["history"]] == [10, 20, 26]
    assert payload2["state"]["seconds"] > payload["state"]["seconds"]
    assert baked2.shape == (t, h, w)

    # a config that differs in more than train needs --restart
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**SMALL_CONFIG, "model": {"atlas_margin": 2}}))
    with pytest.raises(UserError, match="--restart"):
        train_project(project, TrainRequest(config_path=other, steps=30, device="cpu"))
    assert load_checkpoint(checkpoint_path(project))[2]["state"]["step"] == 26

    # steps already reached: nothing more to train, the checkpoint stays
    train_project(project, TrainRequest(steps=26, device="cpu"))
    assert load_checkpoint(checkpoint_path(project))[2]["state"]["step"] == 26


def test_train_request_errors(tmp_path, scene, config_file):
    root = tmp_path / "clip"
    write_project(scene, root)
    with pytest.raises(UserError, match="-s/--steps must be at least 1"):
        train_project(Project(root), TrainRequest(config_path=config_file, steps=0, device="cpu"))
    with pytest.raises(UserError, match="--max-minutes must be positive"):
        train_project(Project(root), TrainRequest(config_path=config_file, max_minutes=0, device="cpu"))
    with pytest.raises(UserError, match="unknown --device"):
        train_project(Project(root), TrainRequest(config_path=config_file, device="tpu"))
    assert not (root / "results" / "checkpoints").exists()


def test_a_layer_is_visible_where_no_other_foreground_layer_is():
    weights = np.zeros((3, 1, 2, 2), np.float32)
    weights[1, 0, 0, 0] = 1.0
    weights[2, 0, 1, :] = (1.0, 0.25)
    assert np.array_equal(visibility(weights, 1), [[[1.0, 1.0], [0.0, 0.75]]])
    assert np.array_equal(visibility(weights, 2), [[[0.0, 1.0], [1.0, 1.0]]])
    assert np.array_equal(visibility(weights[:2], 1), np.ones((1, 2, 2)))


def test_aligned_sides_put_every_level_on_the_finest_and_respect_the_largest_side():
    config = ModelConfig(atlas_levels=4, max_atlas_side=100)
    assert [aligned_side(n, config) for n in (2, 9, 10, 17, 96)] == [9, 9, 17, 17, 97]
    assert aligned_side(99, config) == largest_side(config) == 97  # 105 would pass the largest side
    assert aligned_side(5, ModelConfig(atlas_levels=1)) == 5
