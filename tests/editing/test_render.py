"""Tests of neural_atlases.editing.render and neural_atlases.editing.frame_edit on small hand-built
``Baked`` maps: the fast renderer vs its per-pixel reference, atlas edits, frame edits."""

from __future__ import annotations

import numpy as np
import pytest

from neural_atlases.baking.bake import Baked
from neural_atlases.editing.frame_edit import edited_atlas, layer_ownership, splat_frame_edit
from neural_atlases.editing.render import (
    Renderer,
    RenderOptions,
    edit_from_atlas,
    redistribute,
    render_frame_reference,
    static_edit,
)
from neural_atlases.errors import UserError

T, H, W = 3, 9, 12


def _pixel_grid(t: int, h: int, w: int) -> np.ndarray:
    """``[t, h, w, 2]`` float32 (x, y) of every pixel."""
    ys, xs = np.mgrid[0:h, 0:w]
    return np.repeat(np.stack([xs, ys], -1)[None], t, 0).astype(np.float32)


def _baked(layers: int = 2, seed: int = 0) -> Baked:
    """Random maps (partly outside their atlas: border clamping), random shares, random atlases."""
    rng = np.random.default_rng(seed)
    sizes = [(14, 17), (11, 13), (12, 12)][:layers]
    maps = []
    for k in range(len(sizes)):
        m = _pixel_grid(T, H, W) * np.float32(1.0 + 0.1 * k) + rng.uniform(-1.5, 3.5, (T, H, W, 2))
        # cv2.remap interpolates on a 1/32-texel grid: on it the fast path is exact
        maps.append((np.round(m * 32) / 32).astype(np.float32))
    logits = rng.normal(size=(T, H, W, layers)) * 2.0
    logits[..., 0] = 0.0
    shares = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    atlases = []
    for ah, aw in sizes:
        a = rng.integers(0, 256, (ah, aw, 4), dtype=np.uint8)
        a[..., 3] = 255
        atlases.append(a)
    return Baked(maps, shares.astype(np.float32), atlases)


def _frames(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (T, H, W, 3), dtype=np.uint8)


def _random_edit(atlas: np.ndarray, seed: int, patch: bool = True) -> np.ndarray:
    """Premultiplied RGBA edit ``[S_h, S_w, 4]`` float32, opaque-ish on a patch, clear elsewhere."""
    rng = np.random.default_rng(seed)
    ah, aw = atlas.shape[:2]
    alpha = rng.uniform(0.3, 1.0, (ah, aw)).astype(np.float32)
    if patch:
        keep = np.zeros((ah, aw), bool)
        keep[2 : ah - 3, 3 : aw - 2] = True
        alpha *= keep
    rgb = rng.random((ah, aw, 3)).astype(np.float32) * alpha[..., None]
    return np.concatenate([rgb, alpha[..., None]], -1)


def _assert_matches_reference(baked: Baked, edits: list[np.ndarray | None], options: RenderOptions) -> None:
    frames = _frames()
    renderer = Renderer(baked, [static_edit(e) if e is not None else None for e in edits], options)
    for t in range(T):
        fast = renderer.frame(t, frames[t])
        ref = render_frame_reference(t, frames[t], baked, edits, options)
        assert fast.shape == frames[t].shape and fast.dtype == np.uint8
        assert np.abs(fast.astype(int) - ref.astype(int)).max() <= 1, f"frame {t}"


# -- Renderer vs reference ------------------------------------------------------------------------
@pytest.mark.parametrize("layers", [2, 3])
def test_no_edit_gives_the_input_frames_exactly(layers):
    baked = _baked(layers)
    frames = _frames()
    renderer = Renderer(baked, [None] * layers)
    for t in range(T):
        assert np.array_equal(renderer.frame(t, frames[t]), frames[t])
        assert np.array_equal(
            render_frame_reference(t, frames[t], baked, [None] * layers, RenderOptions()), frames[t]
        )
    assert np.array_equal(np.stack(list(renderer.frames(frames))), frames)


@pytest.mark.parametrize("layers", [2, 3])
@pytest.mark.parametrize("edited", [(0,), (1,), (0, 1)])
def test_static_edit_matches_reference(layers, edited):
    baked = _baked(layers, seed=layers)
    edits = [_random_edit(baked.atlases[k], seed=10 + k) if k in edited else None for k in range(layers)]
    _assert_matches_reference(baked, edits, RenderOptions())


@pytest.mark.parametrize("layer", [0, 1])
def test_edit_reaching_the_atlas_border_matches_reference(layer):
    # maps run up to 1.5 texels outside the atlas: those pixels read the border texels (clamped)
    baked = _baked(2, seed=11)
    assert (baked.maps[layer] < 0).any()
    edits = [None, None]
    edits[layer] = _random_edit(baked.atlases[layer], seed=12, patch=False)
    _assert_matches_reference(baked, edits, RenderOptions())


def test_edit_on_one_border_texel_reaches_pixels_mapped_beyond_it():
    baked = _baked(2)
    baked.shares[..., 0], baked.shares[..., 1] = 1.0, 0.0
    baked.maps[0][:] = _pixel_grid(T, H, W) - np.float32(2.0)  # the first two rows / columns fall outside
    edit = np.zeros(baked.atlases[0].shape, np.float32)
    edit[0, 0] = [0.0, 1.0, 0.0, 1.0]  # opaque green on the corner texel only
    edits = [edit, None]
    _assert_matches_reference(baked, edits, RenderOptions())
    out = Renderer(baked, [static_edit(edit), None]).frame(0, _frames()[0])
    assert (out[:3, :3] == [0, 255, 0]).all()  # x, y <= 2 all read texel (0, 0)


@pytest.mark.parametrize("layers", [2, 3])
@pytest.mark.parametrize("with_edit", [False, True])
def test_removing_layer_one_matches_reference(layers, with_edit):
    baked = _baked(layers, seed=5)
    edits = [_random_edit(baked.atlases[0], seed=3) if with_edit else None] + [None] * (layers - 1)
    _assert_matches_reference(baked, edits, RenderOptions(remove=frozenset({1})))


def test_removing_the_background_matches_reference():
    baked = _baked(3, seed=6)
    edits = [None, _random_edit(baked.atlases[1], seed=4), None]
    _assert_matches_reference(baked, edits, RenderOptions(remove=frozenset({0})))


@pytest.mark.parametrize("with_edit", [False, True])
def test_reconstruct_matches_reference(with_edit):
    baked = _baked(2, seed=7)
    edits = [None, _random_edit(baked.atlases[1], seed=8)] if with_edit else [None, None]
    _assert_matches_reference(baked, edits, RenderOptions(reconstruct=True))


def test_reconstruct_with_a_removed_layer_matches_reference():
    baked = _baked(3, seed=9)
    _assert_matches_reference(baked, [None] * 3, RenderOptions(reconstruct=True, remove=frozenset({2})))


def test_removing_a_half_transparent_layer_leaves_none_of_its_colour():
    # frames exactly as the atlases compose them: removal gives the background atlas alone, even
    # where the foreground holds only part of the pixel
    baked = _baked(2, seed=10)
    baked.shares[..., 1] = np.where(np.arange(W) < W // 2, 0.6, 0.0)[None, None, :]
    baked.shares[..., 0] = 1.0 - baked.shares[..., 1]
    frames = np.stack(list(Renderer(baked, [None, None], RenderOptions(reconstruct=True)).frames(_frames())))
    removed = np.stack(
        list(Renderer(baked, [None, None], RenderOptions(remove=frozenset({1}))).frames(frames))
    )
    background = baked.shares.copy()
    background[..., 0], background[..., 1] = 1.0, 0.0
    only = Baked(baked.maps, background, baked.atlases)
    expected = np.stack(list(Renderer(only, [None, None], RenderOptions(reconstruct=True)).frames(frames)))
    assert np.abs(removed.astype(int) - expected.astype(int)).max() <= 1


def test_reconstruct_of_one_opaque_layer_is_its_atlas_read_at_the_map():
    # background share 1, integer maps: reconstruct reads atlas texels exactly
    baked = _baked(2)
    baked.shares[..., 0], baked.shares[..., 1] = 1.0, 0.0
    baked.maps[0][:] = _pixel_grid(T, H, W) + np.float32(1.0)
    out = Renderer(baked, [None, None], RenderOptions(reconstruct=True)).frame(1, _frames()[1])
    assert np.array_equal(out, baked.atlases[0][1 : H + 1, 1 : W + 1, :3])


def test_opaque_edit_on_a_fully_owned_pixel_replaces_it():
    baked = _baked(2)
    baked.shares[..., 0], baked.shares[..., 1] = 1.0, 0.0
    baked.maps[0][:] = _pixel_grid(T, H, W) + np.float32(2.0)
    edit = np.zeros(baked.atlases[0].shape, np.float32)
    edit[2:5, 2:6] = [1.0, 0.0, 0.0, 1.0]  # opaque red on frame pixels x 0..3, y 0..2
    frames = _frames()
    out = Renderer(baked, [static_edit(edit), None]).frame(0, frames[0])
    assert (out[0:3, 0:4] == [255, 0, 0]).all()
    assert np.array_equal(out[4:, 5:], frames[0][4:, 5:])  # far from the edit: untouched


def test_renderer_rejects_bad_layers():
    baked = _baked(2)
    with pytest.raises(UserError, match="cannot remove layer 2"):
        Renderer(baked, [None, None], RenderOptions(remove=frozenset({2})))
    with pytest.raises(UserError, match="cannot remove every layer"):
        Renderer(baked, [None, None], RenderOptions(remove=frozenset({0, 1})))
    with pytest.raises(ValueError, match="1 edits for 2 layers"):
        Renderer(baked, [None])


# -- edit_from_atlas ------------------------------------------------------------------------------
def _atlas(seed: int = 0, h: int = 10, w: int = 14) -> np.ndarray:
    a = np.random.default_rng(seed).integers(20, 230, (h, w, 4), dtype=np.uint8)
    a[..., 3] = 255
    a[:2, :, 3] = 0  # unused texels
    return a


def test_unchanged_atlas_is_no_edit():
    atlas = _atlas()
    assert edit_from_atlas(atlas, atlas.copy()) is None
    assert edit_from_atlas(atlas, atlas[..., :3].copy()) is None  # saved without alpha
    nudged = atlas.copy()
    nudged[..., :3] += 2  # within the tolerance (JPEG-like noise)
    assert edit_from_atlas(atlas, nudged) is None


def test_edited_copy_gives_an_opaque_edit_where_it_changed():
    atlas = _atlas()
    given = atlas.copy()
    given[4:7, 5:9, :3] = [255, 0, 0]
    edit = edit_from_atlas(atlas, given)
    assert edit is not None and edit.shape == (10, 14, 4) and edit.dtype == np.float32
    changed = np.zeros((10, 14), bool)
    changed[4:7, 5:9] = np.abs(atlas[4:7, 5:9, :3].astype(int) - [255, 0, 0]).max(-1) > 3
    np.testing.assert_array_equal(edit[..., 3], changed.astype(np.float32))
    np.testing.assert_allclose(edit[changed][:, :3], np.tile([1.0, 0.0, 0.0], (changed.sum(), 1)))
    assert (edit[~changed] == 0).all()


def test_rgba_overlay_is_an_edit_only_on_its_patch():
    atlas = _atlas(1)
    overlay = np.zeros((10, 14, 4), np.uint8)  # transparent black
    overlay[3:6, 2:5] = [0, 255, 0, 255]
    overlay[7, 10] = [0, 0, 255, 128]  # half-transparent blue
    edit = edit_from_atlas(atlas, overlay)
    assert edit is not None
    patch = np.zeros((10, 14), bool)
    patch[3:6, 2:5] = True
    np.testing.assert_allclose(edit[patch], np.tile([0.0, 1.0, 0.0, 1.0], (patch.sum(), 1)))
    a = 128 / 255
    np.testing.assert_allclose(edit[7, 10], [0.0, 0.0, a, a], rtol=1e-6)  # premultiplied
    patch[7, 10] = True
    assert (edit[~patch] == 0).all()


def test_wrong_size_edit_names_both_sizes():
    with pytest.raises(UserError, match=r"edit.png is 15x10 but the atlas it edits is 14x10"):
        edit_from_atlas(_atlas(), np.zeros((10, 15, 4), np.uint8), name="edit.png")


# -- frame edits ----------------------------------------------------------------------------------
def _identity_baked(scale: float = 1.0, offset: float = 3.0) -> tuple[Baked, tuple[int, int]]:
    """Background maps pixel (x, y) to texel (scale * x + offset, scale * y + offset), share 1."""
    ah, aw = int(scale * (H - 1) + 2 * offset + 1), int(scale * (W - 1) + 2 * offset + 1)
    maps = [_pixel_grid(T, H, W) * np.float32(scale) + np.float32(offset), _pixel_grid(T, H, W)]
    shares = np.zeros((T, H, W, 2), np.float32)
    shares[..., 0] = 1.0
    atlases = [np.full((ah, aw, 4), 128, np.uint8), np.full((H, W, 4), 128, np.uint8)]
    return Baked(maps, shares, atlases), (ah, aw)


def test_layer_ownership():
    np.testing.assert_allclose(layer_ownership(np.array([0.0, 0.25, 0.5, 0.75, 1.0])), [0, 0, 0.5, 1, 1])


def test_splat_frame_edit_carries_a_painted_square_into_the_background_atlas():
    baked, (ah, aw) = _identity_baked()
    original = _frames()[1]
    edited = original.copy()
    edited[2:6, 3:8] = [250, 10, 10]  # a 5 x 4 square
    edits = splat_frame_edit(original, edited, 1, baked)
    assert len(edits) == 2
    assert edits[1] is None  # the foreground owns nothing here
    edit = edits[0]
    assert edit is not None and edit.shape == (ah, aw, 4)
    alpha = edit[..., 3]
    square = alpha[2 + 3 : 6 + 3, 3 + 3 : 8 + 3]
    assert (square > 0.5).all()  # no holes
    assert (alpha[3 + 3 : 5 + 3, 4 + 3 : 7 + 3] > 0.95).all()  # the inside is opaque
    # the square's interior (its border is softened on purpose) carries the paint colour
    colour = edit[..., :3] / np.maximum(alpha[..., None], 1e-6)
    np.testing.assert_allclose(
        colour[6:8, 7:10], np.tile([250 / 255, 10 / 255, 10 / 255], (2, 3, 1)), atol=0.02
    )
    # nothing lands far from the square (texels 5..8 x 6..10; a soft edge of a few texels)
    near = np.zeros((ah, aw), bool)
    near[5 - 3 : 9 + 3, 6 - 3 : 11 + 3] = True
    assert (alpha[~near] == 0).all()
    assert alpha[near].sum() < 1.5 * 20  # about the square's 20 texels, not a smear


def test_splat_frame_edit_under_magnification_leaves_no_holes():
    baked, (ah, aw) = _identity_baked(scale=2.5, offset=2.0)
    original = _frames()[0]
    edited = original.copy()
    edited[3:7, 4:9] = [0, 0, 255]
    edit = splat_frame_edit(original, edited, 0, baked)[0]
    assert edit is not None
    # the square's interior, x 4..8 and y 3..6, lands on texels 2.5 * p + 2
    inner = edit[int(2.5 * 3 + 2) + 1 : int(2.5 * 6 + 2), int(2.5 * 4 + 2) + 1 : int(2.5 * 8 + 2), 3]
    assert inner.size > 30
    assert (inner > 0.9).all()


def test_splat_then_render_reproduces_the_edited_frame():
    baked, _ = _identity_baked()
    frames = _frames()
    edited = frames[2].copy()
    edited[1:7, 2:6] = [30, 200, 90]
    edits = splat_frame_edit(frames[2], edited, 2, baked)
    renderer = Renderer(baked, [static_edit(e) for e in edits])
    out = renderer.frame(2, frames[2])
    inner = (slice(2, 6), slice(3, 5))
    assert np.abs(out[inner].astype(int) - edited[inner].astype(int)).max() <= 3
    assert np.array_equal(out[:, 10:], frames[2][:, 10:])  # 4+ pixels from the paint: unchanged
    # and the same edit shows on another frame at the same place (static background)
    out0 = renderer.frame(0, frames[0])
    assert np.abs(out0[inner].astype(int) - edited[inner].astype(int)).max() <= 3


def test_splat_frame_edit_of_an_unchanged_frame_is_no_edit():
    baked, _ = _identity_baked()
    f = _frames()[0]
    assert splat_frame_edit(f, f.copy(), 0, baked) == [None, None]


def test_splat_frame_edit_of_the_wrong_size_names_both():
    baked, _ = _identity_baked()
    f = _frames()[0]
    with pytest.raises(UserError, match=r"edited frame is 11x9 but frame 0 is 12x9"):
        splat_frame_edit(f, f[:, :11].copy(), 0, baked)


def test_edited_atlas_composites_the_edit():
    atlas = _atlas()
    assert np.array_equal(edited_atlas(atlas, None), atlas)
    edit = np.zeros((10, 14, 4), np.float32)
    edit[0:4, 0:3] = [0.0, 0.0, 1.0, 1.0]  # opaque blue, partly over unused texels
    out = edited_atlas(atlas, edit)
    assert (out[0:4, 0:3] == [0, 0, 255, 255]).all()
    assert np.array_equal(out[5:, 5:], atlas[5:, 5:])
    assert (out[:2, 3:, 3] == 0).all()  # unused and not edited: still unused


def test_redistribute_keeps_the_ratio_of_tiny_shares_and_fills_underflow_with_the_backmost():
    shares = np.array([[[1e-12, 3e-12, 1.0], [0.0, 0.0, 1.0], [0.5, 0.25, 0.25]]], np.float32)  # [1, 3, 3]
    depth = np.array([0, 1, 2])
    out = redistribute(shares, depth, [0, 1])
    np.testing.assert_allclose(out[0, 0], [0.25, 0.75, 0.0], rtol=1e-5)
    np.testing.assert_array_equal(out[0, 1], [1.0, 0.0, 0.0])  # nothing kept is left: the background
    np.testing.assert_allclose(out[0, 2], [0.5 + 0.25 * 2 / 3, 0.25 + 0.25 / 3, 0.0], rtol=1e-6)
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(redistribute(shares, depth, [1])[0, 1], [0.0, 1.0, 0.0])


def test_a_layer_in_front_of_the_removed_one_keeps_its_share():
    # the soft edge of layer 2 (30 %) over layer 1: removing layer 1 shows the background under
    # that edge when layer 2 is in front, and more of layer 2 when layer 2 is behind layer 1
    shares = np.array([[[1e-6, 0.7, 0.3 - 1e-6]]], np.float32)
    front = redistribute(shares, np.array([0, 1, 2]), [0, 2])
    np.testing.assert_allclose(front[0, 0], [0.7, 0.0, 0.3], atol=1e-6)
    behind = redistribute(shares, np.array([0, 2, 1]), [0, 2])
    bg = 1e-6 * (1 + 0.7 / 0.3)
    np.testing.assert_allclose(behind[0, 0], [bg, 0.0, 1.0 - bg], atol=1e-6)
    # removing the front layer: the layers behind share it as before, in proportion
    kept_back = redistribute(shares, np.array([0, 1, 2]), [0, 1])
    np.testing.assert_allclose(kept_back[0, 0], [1e-6 / 0.700001, 0.7 / 0.700001, 0.0], atol=1e-6)


@pytest.mark.parametrize("remove", [1, 2])
def test_removing_with_a_depth_order_matches_reference(remove):
    baked = _baked(3, seed=11)
    baked.depth = np.array([[0, 2, 1], [0, 1, 2], [0, 2, 1]])
    edits = [_random_edit(baked.atlases[0], seed=5), None, None]
    _assert_matches_reference(baked, edits, RenderOptions(remove=frozenset({remove})))
