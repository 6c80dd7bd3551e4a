"""The studio's strokes: painted over a frame and carried as ``atlases -cf`` carries an edited
frame, painted on an atlas, erased; undo and redo."""

from __future__ import annotations

import numpy as np

from neural_atlases.baking.bake import Baked
from neural_atlases.editing.frame_edit import edited_atlas, splat_frame_edit
from neural_atlases.studio.edits import (
    HISTORY_LIMIT,
    EditHistory,
    carry_frame_stroke,
    erase_atlas,
    eraser_marker,
    paint_atlas,
    paint_over,
)

T, H, W = 2, 12, 16


def _identity_baked(offset: float = 3.0) -> Baked:
    """The background maps pixel (x, y) to texel (x + offset, y + offset) and owns every pixel."""
    ys, xs = np.mgrid[0:H, 0:W]
    grid = np.repeat(np.stack([xs, ys], -1)[None], T, 0).astype(np.float32)
    shares = np.zeros((T, H, W, 2), np.float32)
    shares[..., 0] = 1.0
    ah, aw = int(H + 2 * offset), int(W + 2 * offset)
    rng = np.random.default_rng(0)
    atlases = [rng.integers(0, 256, (ah, aw, 4), dtype=np.uint8), np.full((H, W, 4), 128, np.uint8)]
    atlases[0][..., 3] = 255
    return Baked([grid + np.float32(offset), grid], shares, atlases)


def _overlay(h: int, w: int, box: tuple[slice, slice], colour=(255, 0, 0), alpha: int = 255) -> np.ndarray:
    out = np.zeros((h, w, 4), np.uint8)
    out[box] = (*colour, alpha)
    return out


def test_paint_over_is_the_overlay_where_opaque_and_the_image_where_clear():
    image = np.full((2, 2, 3), 100, np.uint8)
    overlay = np.zeros((2, 2, 4), np.uint8)
    overlay[0, 0] = (200, 0, 50, 255)
    overlay[1, 1] = (200, 0, 50, 128)
    out = paint_over(image, overlay)
    assert out[0, 0].tolist() == [200, 0, 50] and out[0, 1].tolist() == [100, 100, 100]
    assert out[1, 1].tolist() == [150, 50, 75]  # halfway (128 / 255, rounded)


def test_a_frame_stroke_gives_the_atlases_that_atlases_cf_writes():
    baked = _identity_baked()
    frame = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    overlay = _overlay(H, W, (slice(3, 7), slice(4, 9)), alpha=200)
    atlases = carry_frame_stroke(baked, list(baked.atlases), frame, overlay, 1)
    edits = splat_frame_edit(frame, paint_over(frame, overlay), 1, baked)  # what `atlases -cf` runs
    for got, atlas, edit in zip(atlases, baked.atlases, edits, strict=True):
        np.testing.assert_array_equal(got, edited_atlas(atlas, edit))
    assert atlases[1] is baked.atlases[1]  # nothing landed on the foreground: the same array


def test_erasing_a_frame_stroke_brings_the_original_atlas_back():
    baked = _identity_baked()
    frame = np.random.default_rng(1).integers(0, 256, (H, W, 3), dtype=np.uint8)
    box = (slice(3, 7), slice(4, 9))
    painted = carry_frame_stroke(baked, list(baked.atlases), frame, _overlay(H, W, box), 0)
    assert not np.array_equal(painted[0], baked.atlases[0])
    wide = (slice(1, 10), slice(2, 12))  # an eraser wider than the stroke
    erased = carry_frame_stroke(baked, painted, frame, _overlay(H, W, wide), 0, erase=True)
    np.testing.assert_array_equal(erased[0], baked.atlases[0])


def test_the_eraser_marker_differs_from_every_colour_by_at_least_127():
    frame = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, -1)
    marked = eraser_marker(frame, np.full((16, 16, 4), 255, np.uint8))
    assert (np.abs(marked.astype(int) - frame.astype(int)) >= 127).all()


def test_painting_and_erasing_an_atlas():
    atlas = np.zeros((4, 5, 4), np.uint8)
    atlas[..., :3] = 50
    atlas[:, :2, 3] = 255  # the video uses the left part only
    overlay = _overlay(4, 5, (slice(0, 2), slice(1, 4)), (250, 250, 250))
    painted = paint_atlas(atlas, overlay)
    assert (painted[0:2, 1:4, :3] == 250).all() and (painted[2:, :, :3] == 50).all()
    assert (painted[0:2, 1:4, 3] == 255).all() and (painted[2:, 2:, 3] == 0).all()  # painted: used
    np.testing.assert_array_equal(erase_atlas(painted, atlas, overlay), atlas)


def test_history_undo_redo_and_a_new_edit_drops_the_redo():
    a, b, c = (np.full((1, 1, 4), v, np.uint8) for v in (0, 1, 2))
    history = EditHistory([a])
    assert not history.can_undo and not history.can_redo
    history.push([b])
    assert history.undo() and history.current[0][0, 0, 0] == 0
    assert history.redo() and history.current[0][0, 0, 0] == 1 and not history.redo()
    history.undo()
    history.push([c])
    assert not history.can_redo and history.current[0][0, 0, 0] == 2
    for _ in range(HISTORY_LIMIT + 5):
        history.push([a])
    assert sum(1 for _ in iter(history.undo, False)) == HISTORY_LIMIT - 1
