"""Tests of neural_atlases.preprocess.flow: DIS flow, its convention, consistency, warping."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from textures import texture

from neural_atlases.errors import UserError
from neural_atlases.preprocess.flow import (
    FlowOptions,
    compute_flows,
    consistency_mask,
    dis_flow,
    pixel_grid,
    sample_bilinear,
    warp_by_flow,
)

H, W = 96, 128
MARGIN = 10  # interior used for accuracy checks


TEXTURE = texture(H + 80, W + 80)


def shifted(dx: float, dy: float) -> np.ndarray:
    """``uint8 [H, W, 3]`` view of TEXTURE whose content has moved by ``(dx, dy)`` pixels."""
    to_texture = np.float32([[1, 0, 40 - dx], [0, 1, 40 - dy]])  # frame pixel -> texture pixel
    flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    img = cv2.warpAffine(TEXTURE, to_texture, (W, H), flags=flags)
    return np.clip(img, 0, 255).round().astype(np.uint8)


def interior(a: np.ndarray) -> np.ndarray:
    return a[MARGIN:-MARGIN, MARGIN:-MARGIN]


@pytest.mark.parametrize("dx, dy", [(0.3, -0.7), (2.5, 1.25), (-4.4, 3.3)])
def test_dis_flow_recovers_subpixel_translation(dx: float, dy: float) -> None:
    flow = dis_flow(shifted(0, 0), shifted(dx, dy), FlowOptions())
    assert flow.shape == (H, W, 2) and flow.dtype == np.float32
    err = np.linalg.norm(interior(flow) - [dx, dy], axis=-1)
    assert err.mean() < 0.3
    assert np.percentile(err, 95) < 0.5


def test_flow_convention_channel_zero_is_x_and_points_to_where_content_went() -> None:
    right = dis_flow(shifted(0, 0), shifted(3.0, 0.0))
    assert interior(right)[..., 0].mean() > 2.5  # content moving right: dx > 0
    assert abs(interior(right)[..., 1].mean()) < 0.3
    down = dis_flow(shifted(0, 0), shifted(0.0, 2.0))
    assert interior(down)[..., 1].mean() > 1.5  # content moving down: dy > 0
    assert abs(interior(down)[..., 0].mean()) < 0.3


@pytest.mark.parametrize("gap", [1, 3])
def test_compute_flows_shapes_and_directions(gap: int) -> None:
    frames = np.stack([shifted(1.5 * t, -0.5 * t) for t in range(6)])  # [6, H, W, 3]
    calls: list[tuple[int, int]] = []
    forward, backward = compute_flows(frames, gap, FlowOptions(), lambda d, n: calls.append((d, n)))
    assert forward.shape == backward.shape == (6 - gap, H, W, 2)
    assert forward.dtype == backward.dtype == np.float32
    expected = np.array([1.5 * gap, -0.5 * gap])
    for i in range(6 - gap):
        assert np.abs(interior(forward[i]).mean((0, 1)) - expected).max() < 0.3
        assert np.abs(interior(backward[i]).mean((0, 1)) + expected).max() < 0.3
    assert calls == [(i + 1, 6 - gap) for i in range(6 - gap)]


def test_compute_flows_rejects_bad_input() -> None:
    frames = np.zeros((3, H, W, 3), np.uint8)
    with pytest.raises(ValueError):
        compute_flows(frames, 3)
    with pytest.raises(ValueError):
        compute_flows(frames.astype(np.float32), 1)


def test_flow_options_reject_unknown_preset() -> None:
    with pytest.raises(UserError, match="ultrafast"):
        FlowOptions(preset="slow")


def test_consistency_mask_false_where_content_changes() -> None:
    a, b = shifted(0, 0), shifted(2.0, 1.0)
    b[30:60, 50:80] = texture(30, 30, seed=7).astype(np.uint8)  # a patch only frame b shows
    forward = dis_flow(a, b)
    backward = dis_flow(b, a)
    ok = consistency_mask(forward, backward, 1.0)
    assert ok.shape == (H, W) and ok.dtype == bool
    assert ok[34:56, 52:74].mean() < 0.3  # the changed patch (a's pixels that land on it)
    away = np.ones((H, W), bool)
    away[20:70, 40:90] = False
    away[:MARGIN] = away[-MARGIN:] = False
    away[:, :MARGIN] = away[:, -MARGIN:] = False
    assert ok[away].mean() > 0.9


def test_consistency_mask_exact_cases() -> None:
    forward = np.zeros((2, 8, 10, 2), np.float32)
    forward[..., 0] = 1.5  # everything moves 1.5 px right
    backward = -forward
    ok = consistency_mask(forward, backward, 1.0)
    assert ok.shape == (2, 8, 10)
    assert ok[:, :, :8].all()  # lands inside: x + 1.5 <= 9
    assert not ok[:, :, 8:].any()  # lands outside the frame
    assert not consistency_mask(forward, np.zeros_like(forward), 1.0).any()


def test_sample_bilinear_is_exact_on_a_linear_ramp() -> None:
    grid = pixel_grid(6, 9)  # [6, 9, 2]
    image = 3.0 * grid[..., 0] - 2.0 * grid[..., 1] + 1.0  # linear in x and y
    x = np.array([0.0, 2.25, 7.9, 8.0])
    y = np.array([0.0, 4.5, 0.1, 5.0])
    np.testing.assert_allclose(sample_bilinear(image, x, y), 3 * x - 2 * y + 1, atol=1e-5)
    # outside: clamped to the border
    np.testing.assert_allclose(sample_bilinear(image, np.array([-3.0]), np.array([9.0])), [-9.0])


def test_warp_by_flow_integer_shift_and_round_trip() -> None:
    image = np.arange(48, dtype=np.float32).reshape(6, 8)
    flow = np.zeros((6, 8, 2), np.float32)
    flow[..., 0] = 2.0
    flow[..., 1] = 1.0
    out = warp_by_flow(image, flow)
    np.testing.assert_array_equal(out[:5, :6], image[1:, 2:])

    a, b = shifted(0, 0), shifted(2.6, -1.3)
    back = warp_by_flow(b, dis_flow(a, b))  # b pulled back onto a
    assert back.shape == a.shape
    err = np.abs(interior(back) - interior(a.astype(np.float32)))
    assert err.mean() < 3.0  # of 255
