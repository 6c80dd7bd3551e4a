"""Tests of neural_atlases.editing.layers (each layer's own colours, animated atlases) and of
animated atlases given to the renderer (neural_atlases.pipeline.edits)."""

from __future__ import annotations

import numpy as np
import pytest

from neural_atlases.baking.bake import Baked
from neural_atlases.editing.layers import animated_atlas, layer_colours
from neural_atlases.editing.render import Renderer, RenderOptions
from neural_atlases.errors import UserError
from neural_atlases.evaluation.evaluate import psnr
from neural_atlases.io.images import write_image
from neural_atlases.pipeline.edits import given_atlases, write_animated_atlases

T, H, W = 3, 10, 14


def _baked(scale: float, seed: int = 0, smooth: bool = False) -> Baked:
    """Two layers whose maps scale the frame by ``scale`` and shift it by whole texels per frame
    (background) or by whole and half texels (foreground); a hard layer edge; random atlases."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    grid = np.stack([xs, ys], -1)
    maps = [
        np.stack([grid * scale + [2.0 + t, 1.0 + t] for t in range(T)]).astype(np.float32),
        np.stack([grid * scale + [1.0 + (0.5 if scale % 1 else 1.0) * t, 2.0] for t in range(T)]).astype(
            np.float32
        ),
    ]
    size = (int(np.ceil((H - 1) * scale)) + 6, int(np.ceil((W - 1) * scale)) + 6)
    fg = (xs >= 6).astype(np.float32)  # a hard vertical edge: soft ones can push own colours past [0, 1]
    shares = np.stack([np.stack([1.0 - fg, fg], -1)] * T).astype(np.float32)
    atlases = []
    ay, ax = np.mgrid[0 : size[0], 0 : size[1]]
    for k in range(2):
        a = rng.integers(0, 256, (*size, 4), dtype=np.uint8)
        if smooth:
            a[..., :3] = np.stack([ax * 4 + 20 + 60 * k, ay * 5 + 30, (ax + ay) * 2 + 50], -1).clip(0, 255)
        a[..., 3] = 255
        atlases.append(a)
    return Baked(maps, shares, atlases)


def _lit_frames(baked: Baked) -> np.ndarray:
    """What the atlases show, under a light that changes over the clip (which they cannot hold)."""
    blank = np.zeros((T, H, W, 3), np.uint8)
    recon = np.stack(list(Renderer(baked, [None, None], RenderOptions(reconstruct=True)).frames(blank)))
    xs = np.arange(W)[None, None, :, None]
    light = 8.0 * np.arange(T)[:, None, None, None] + 1.5 * xs
    return (recon + light).clip(0, 255).astype(np.uint8)


def _reconstruct_with(baked: Baked, frames: np.ndarray, animated: list[list[np.ndarray]]) -> np.ndarray:
    bases = [(lambda t, k=k: animated[k][t][..., :3].astype(np.float32) / 255.0) for k in range(2)]
    renderer = Renderer(baked, [None, None], RenderOptions(reconstruct=True), bases)
    return np.stack(list(renderer.frames(frames)))


def test_layer_colours_weighted_by_shares_give_back_the_frame():
    baked = _baked(1.7)
    ys, xs = np.mgrid[0:H, 0:W]
    fg = np.clip((xs - 3.0) / 6.0, 0.0, 1.0)  # a soft edge
    baked.shares[:] = np.stack([1.0 - fg, fg], -1)[None]
    frames = np.random.default_rng(3).integers(0, 256, (T, H, W, 3), dtype=np.uint8)
    for t in range(T):
        colours, residual = layer_colours(baked, t, frames[t])
        shares = baked.shares[t]
        total = sum(shares[..., k : k + 1] * (colours[k] + residual) for k in range(2))
        np.testing.assert_allclose(total, frames[t] / 255.0, atol=1e-5)


def test_animated_atlases_on_texel_aligned_maps_reconstruct_the_frames_exactly():
    baked = _baked(2.0)  # every pixel lands on a texel centre
    frames = np.random.default_rng(4).integers(0, 256, (T, H, W, 3), dtype=np.uint8)
    animated = [[animated_atlas(baked, k, t, frames[t]) for t in range(T)] for k in range(2)]
    recon = _reconstruct_with(baked, frames, animated)
    assert np.abs(recon.astype(int) - frames.astype(int)).max() <= 1


def test_animated_atlases_on_smooth_frames_reconstruct_them_above_35_db():
    baked = _baked(1.7, smooth=True)
    frames = _lit_frames(baked)
    animated = [[animated_atlas(baked, k, t, frames[t]) for t in range(T)] for k in range(2)]
    static = np.stack(list(Renderer(baked, [None, None], RenderOptions(reconstruct=True)).frames(frames)))
    recon = _reconstruct_with(baked, frames, animated)
    assert psnr(recon, frames) > 35.0
    assert psnr(recon, frames) > psnr(static, frames) + 10.0  # the frames' own colours, not the atlas's


def test_animated_atlas_keeps_the_static_atlas_where_the_frame_does_not_reach():
    baked = _baked(1.7, smooth=True)
    frames = _lit_frames(baked)
    atlas = animated_atlas(baked, 0, 1, frames[1])
    assert atlas.shape == baked.atlases[0].shape and atlas.dtype == np.uint8
    reached = np.zeros(atlas.shape[:2], bool)
    x0, y0 = np.floor(baked.maps[0][1].reshape(-1, 2).min(0)).astype(int) - 1
    x1, y1 = np.ceil(baked.maps[0][1].reshape(-1, 2).max(0)).astype(int) + 1
    reached[y0 : y1 + 1, x0 : x1 + 1] = True
    np.testing.assert_array_equal(atlas[~reached, :3], baked.atlases[0][~reached, :3])
    assert (atlas[..., 3][~reached] == 0).all()
    assert (atlas[..., 3][reached] == 255).any()  # alpha: what this frame shows


def test_bases_equal_to_the_static_atlases_change_nothing():
    baked = _baked(1.7, smooth=True)
    frames = _lit_frames(baked)
    bases = [(lambda t, k=k: baked.atlases[k][..., :3].astype(np.float32) / 255.0) for k in range(2)]
    for options in (RenderOptions(reconstruct=True), RenderOptions(remove=frozenset({1}))):
        plain = np.stack(list(Renderer(baked, [None, None], options).frames(frames)))
        based = np.stack(list(Renderer(baked, [None, None], options, bases).frames(frames)))
        np.testing.assert_array_equal(plain, based)


def test_unedited_animated_folders_render_the_input_exactly(tmp_path):
    baked = _baked(1.7, smooth=True)
    frames = _lit_frames(baked)
    folders = write_animated_atlases(baked, frames, tmp_path / "animated")
    assert [f.name for f in folders] == ["background_atlas", "foreground_atlas_0"]
    assert sorted(p.name for p in folders[1].iterdir()) == ["00000.png", "00001.png", "00002.png"]
    edits, bases = given_atlases(baked, frames, folders)
    out = np.stack(list(Renderer(baked, edits, RenderOptions(), bases).frames(frames)))
    np.testing.assert_array_equal(out, frames)
    recon = np.stack(list(Renderer(baked, edits, RenderOptions(reconstruct=True), bases).frames(frames)))
    assert psnr(recon, frames) > 35.0


def test_an_edit_on_one_animated_atlas_lands_on_its_frame_only(tmp_path):
    baked = _baked(2.0, smooth=True)
    frames = _lit_frames(baked)
    folders = write_animated_atlases(baked, frames, tmp_path / "animated")
    edited = animated_atlas(baked, 0, 1, frames[1])
    edited[4:8, 4:10, :3] = [255, 0, 0]  # texels 4..9 x 4..7 are pixels 1..3 x 1..2 of frame 1
    write_image(folders[0] / "00001.png", edited)
    edits, bases = given_atlases(baked, frames, [folders[0], None])
    out = np.stack(list(Renderer(baked, edits, RenderOptions(), bases).frames(frames)))
    np.testing.assert_array_equal(out[[0, 2]], frames[[0, 2]])
    changed = np.abs(out[1].astype(int) - frames[1].astype(int)).max(-1) > 0
    assert changed[1:3, 1:4].all()
    np.testing.assert_array_equal(out[1, 1:3, 1:4], [[[255, 0, 0]] * 3] * 2)  # the background's pixels


def test_an_animated_folder_with_the_wrong_number_of_images_is_refused(tmp_path):
    baked = _baked(1.7, smooth=True)
    frames = _lit_frames(baked)
    folders = write_animated_atlases(baked, frames, tmp_path / "animated")
    (folders[1] / "00002.png").unlink()
    with pytest.raises(UserError, match="2 images but the project has 3 frames"):
        given_atlases(baked, frames, [None, folders[1]])
