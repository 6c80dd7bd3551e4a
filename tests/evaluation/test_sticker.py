"""The sticker test's pieces, on exact answers."""

import math

import numpy as np

from neural_atlases.evaluation.sticker import changed_pixels, sticker_pattern, warp_errors, warp_psnr


def shifted_clip(pattern: np.ndarray, frames: int, dx: int) -> np.ndarray:
    """``pattern`` moved right by ``dx`` pixels a frame (wrapping)."""
    return np.stack([np.roll(pattern, t * dx, axis=1) for t in range(frames)])


def constant_flow(frames: int, h: int, w: int, dx: float) -> np.ndarray:
    flow = np.zeros((frames - 1, h, w, 2), np.float32)
    flow[..., 0] = dx
    return flow


def test_the_pattern_is_opaque_smooth_and_periodic():
    p = sticker_pattern(40, 60, period_texels=20.0)
    assert p.shape == (40, 60, 4) and p.dtype == np.uint8 and (p[..., 3] == 255).all()
    step = np.abs(np.diff(p[..., :3].astype(int), axis=1)).max()
    assert step < 40  # neighbours differ a little
    assert np.abs(p[:, :20, :3].astype(int) - p[:, 10:30, :3].astype(int)).max() > 100  # half a period: a lot


def test_a_render_that_moves_with_the_flow_scores_far_above_one_that_does_not():
    pattern = sticker_pattern(24, 48, period_texels=12.0)[..., :3]
    moving = shifted_clip(pattern, 4, dx=2)
    still = shifted_clip(pattern, 4, dx=0)
    forward, backward = constant_flow(4, 24, 48, 2.0), constant_flow(4, 24, 48, -2.0)
    changed = np.zeros((4, 24, 48), bool)
    changed[:, :, 8:40] = True
    assert warp_psnr(moving, forward, backward, changed) > 60.0
    assert warp_psnr(still, forward, backward, changed) < 25.0


def test_only_changed_and_consistent_pixels_count():
    clip = np.zeros((2, 8, 8, 3), np.uint8)
    clip[1, :, :4] = 255  # differs from frame 0 only on the left half
    zero = np.zeros((1, 8, 8, 2), np.float32)
    right = np.zeros((2, 8, 8), bool)
    right[:, :, 4:] = True
    total, count = warp_errors(clip, zero, zero, right)
    assert total == 0.0 and count == 32
    assert math.isnan(warp_psnr(clip, zero, zero, np.zeros((2, 8, 8), bool)))
    bad = zero.copy()
    bad[..., 0] = 3.0  # forward and backward disagree by 3 px: nothing is compared
    assert warp_errors(clip, bad, zero, right) == (0.0, 0)


def test_changed_pixels_ignore_small_differences():
    frames = np.full((1, 2, 2, 3), 100, np.uint8)
    rendered = frames.copy()
    rendered[0, 0, 0] = 105
    rendered[0, 1, 1, 2] = 160
    np.testing.assert_array_equal(changed_pixels(rendered, frames)[0], [[False, False], [False, True]])
