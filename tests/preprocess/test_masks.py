"""Tests of neural_atlases.preprocess.masks: motion segmentation under a moving camera."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from textures import texture

from neural_atlases.preprocess.flow import compute_flows
from neural_atlases.preprocess.masks import (
    MotionMaskOptions,
    clean_mask,
    fill_holes,
    motion_masks,
)

H, W, T = 96, 128, 12
FG = 120  # side of the foreground texture


def scene(blob: str = "disc", static: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Panning, zooming textured background with a textured object moving over it.

    ``blob``: ``disc`` (translates) or ``bending`` (an ellipse that translates, rotates and
    bends). Returns frames ``uint8 [T, H, W, 3]`` and true masks ``bool [T, H, W]``.
    """
    background, foreground = texture(2 * H, 2 * W, seed=3), texture(FG, FG, seed=4)
    yy, xx = np.mgrid[0:FG, 0:FG] - (FG // 2)
    if blob == "disc":
        shape = (xx**2 + yy**2 <= 22**2).astype(np.float32)
    else:
        shape = ((xx / 45.0) ** 2 + (yy / 28.0) ** 2 <= 1).astype(np.float32)
    rows, cols = np.mgrid[0:H, 0:W].astype(np.float32)
    frames, masks = [], []
    for t in range(T):
        t_cam = 0 if static else t
        zoom = 1 + 0.01 * t_cam
        to_bg = np.array([[1 / zoom, 0, W / 2 + 2.0 * t_cam], [0, 1 / zoom, H / 2 + 0.7 * t_cam], [0, 0, 1]])
        flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
        image = cv2.warpPerspective(background, to_bg, (W, H), flags=flags)
        t_obj = 0 if static else t
        angle = np.deg2rad(4.0 * t_obj if blob == "bending" else 0.0)
        cx, cy = 40 + 4.0 * t_obj, 50 - 1.5 * t_obj
        c, s = np.cos(angle), np.sin(angle)
        map_x = c * (cols - cx) + s * (rows - cy) + FG // 2  # frame pixel -> object texture
        map_y = -s * (cols - cx) + c * (rows - cy) + FG // 2
        if blob == "bending":
            map_y += 3.0 * np.sin(0.5 * t_obj) * ((map_x - FG // 2) / 45.0) ** 2
        map_x, map_y = map_x.astype(np.float32), map_y.astype(np.float32)
        colour = cv2.remap(foreground, map_x, map_y, cv2.INTER_CUBIC)
        alpha = cv2.remap(shape, map_x, map_y, cv2.INTER_LINEAR)[..., None]
        frames.append(np.clip(image * (1 - alpha) + colour * alpha, 0, 255).round().astype(np.uint8))
        masks.append(alpha[..., 0] > 0.5)
    return np.stack(frames), np.stack(masks)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.mark.parametrize("blob", ["disc", "bending"])
def test_motion_masks_find_the_moving_object(blob: str) -> None:
    frames, truth = scene(blob)
    forward, backward = compute_flows(frames, 1)
    calls: list[tuple[int, int]] = []
    masks = motion_masks(frames, forward, backward, MotionMaskOptions(), lambda d, n: calls.append((d, n)))
    assert masks.shape == (T, H, W) and masks.dtype == np.float32
    assert set(np.unique(masks)) <= {0.0, 1.0}
    ious = [iou(masks[t] > 0.5, truth[t]) for t in range(T)]
    print(f"\n{blob}: IoU mean {np.mean(ious):.3f}, min {np.min(ious):.3f}")
    assert np.mean(ious) >= 0.7
    assert min(ious[0], ious[-1]) >= 0.5  # the first and last frames get masks too
    assert calls[-1] == (T - 1, T - 1)


def test_motion_masks_with_a_larger_gap() -> None:
    frames, truth = scene("disc")
    forward, backward = compute_flows(frames, 2)
    masks = motion_masks(frames, forward, backward)
    assert masks.shape == (T, H, W)
    assert np.mean([iou(masks[t] > 0.5, truth[t]) for t in range(T)]) >= 0.7


def test_static_video_gives_empty_masks() -> None:
    frames, _ = scene("disc", static=True)
    rng = np.random.default_rng(0)
    noisy = np.clip(frames + rng.normal(0, 2.0, frames.shape), 0, 255).round().astype(np.uint8)
    forward, backward = compute_flows(noisy, 1)
    assert motion_masks(noisy, forward, backward).mean() < 0.005


def test_motion_masks_reject_mismatched_flows() -> None:
    frames = np.zeros((4, H, W, 3), np.uint8)
    flow = np.zeros((4, H, W, 2), np.float32)
    with pytest.raises(ValueError):
        motion_masks(frames, flow, flow)


def test_fill_holes_fills_a_ring() -> None:
    yy, xx = np.mgrid[0:40, 0:40]
    r2 = (xx - 20) ** 2 + (yy - 20) ** 2
    ring = ((r2 <= 12**2) & (r2 >= 6**2)).astype(np.uint8)
    np.testing.assert_array_equal(fill_holes(ring), (r2 <= 12**2).astype(np.uint8))


def test_clean_mask_drops_specks_and_small_components() -> None:
    raw = np.zeros((60, 80), bool)
    raw[10:40, 10:40] = True  # the object
    raw[50, 70] = True  # a speck
    raw[45:49, 60:64] = True  # a small blob (16 px, < 10% of the object)
    out = clean_mask(raw, MotionMaskOptions())
    assert out.dtype == np.uint8
    assert out[15:35, 15:35].all()
    assert out[44:, 55:].sum() == 0
    assert clean_mask(np.zeros((60, 80), bool)).sum() == 0
