"""Tests of neural_atlases.conventions: every convention on exact answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neural_atlases.conventions import (
    ALPHA_EPS,
    atlas_file_name,
    frame_file_name,
    frame_to_normalised_time,
    grid_to_uv,
    layer_name,
    layer_shares,
    normalised_extent,
    normalised_to_pixel,
    paper_layer_shares,
    paper_squash_alpha,
    pixel_to_normalised,
    pixels_per_unit,
    resize_flow,
    shared_atlas_position,
    squash_alpha,
    unsquash_alpha,
    uv_to_grid,
)


def corners(height: int, width: int) -> torch.Tensor:
    """The four corner pixel centres ``[4, 2]`` (x, y): top-left, top-right, bottom-left, bottom-right."""
    return torch.tensor(
        [[0.0, 0.0], [width - 1.0, 0.0], [0.0, height - 1.0], [width - 1.0, height - 1.0]],
        dtype=torch.float64,
    )


# -- pixels <-> normalised ------------------------------------------------------------------------
def test_landscape_corners_span_minus_one_to_one_along_x():
    n = pixel_to_normalised(corners(144, 256), 144, 256)
    ey = 143.0 / 255.0
    expected = torch.tensor([[-1.0, -ey], [1.0, -ey], [-1.0, ey], [1.0, ey]], dtype=torch.float64)
    torch.testing.assert_close(n, expected, rtol=0, atol=1e-12)


def test_portrait_corners_span_minus_one_to_one_along_y():
    n = pixel_to_normalised(corners(256, 144), 256, 144)
    ex = 143.0 / 255.0
    expected = torch.tensor([[-ex, -1.0], [ex, -1.0], [-ex, 1.0], [ex, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(n, expected, rtol=0, atol=1e-12)


def test_centre_pixel_is_origin_and_one_pixel_is_the_same_along_x_and_y():
    h, w = 33, 65  # odd sides: the centre is a pixel centre
    centre = torch.tensor([[(w - 1) / 2, (h - 1) / 2]], dtype=torch.float64)
    torch.testing.assert_close(pixel_to_normalised(centre, h, w), torch.zeros(1, 2, dtype=torch.float64))
    step = pixel_to_normalised(centre + torch.tensor([[1.0, 1.0]], dtype=torch.float64), h, w)
    assert step[0, 0] == pytest.approx(step[0, 1]) == pytest.approx(1.0 / pixels_per_unit(h, w))
    assert pixels_per_unit(h, w) == pytest.approx(32.0)


@pytest.mark.parametrize("hw", [(144, 256), (256, 144), (7, 7), (1, 9), (9, 1), (1, 1)])
def test_pixel_normalised_round_trip(hw):
    h, w = hw
    xy = torch.rand(100, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    xy = xy * torch.tensor([w + 4.0, h + 4.0], dtype=torch.float64) - 2.0  # inside and outside
    back = normalised_to_pixel(pixel_to_normalised(xy, h, w), h, w)
    torch.testing.assert_close(back, xy, rtol=0, atol=1e-9)
    n = pixel_to_normalised(xy, h, w)
    torch.testing.assert_close(pixel_to_normalised(normalised_to_pixel(n, h, w), h, w), n, rtol=0, atol=1e-9)


def test_pixel_to_normalised_keeps_leading_dimensions_and_batch_equals_loop():
    xy = torch.rand(3, 5, 2) * 40
    batch = pixel_to_normalised(xy, 30, 40)
    assert batch.shape == (3, 5, 2)
    for i in range(3):
        torch.testing.assert_close(batch[i], pixel_to_normalised(xy[i], 30, 40))


def test_normalised_extent():
    assert normalised_extent(144, 256) == pytest.approx((1.0, 143.0 / 255.0))
    assert normalised_extent(256, 144) == pytest.approx((143.0 / 255.0, 1.0))
    assert normalised_extent(5, 5) == pytest.approx((1.0, 1.0))


def test_frame_to_normalised_time():
    t = torch.arange(5)
    torch.testing.assert_close(frame_to_normalised_time(t, 5), torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0]))
    torch.testing.assert_close(frame_to_normalised_time(torch.zeros(3, dtype=torch.long), 1), torch.zeros(3))


# -- atlas uv -> grid_sample ----------------------------------------------------------------------
@pytest.mark.parametrize("hw", [(144, 256), (256, 144), (10, 10)])
def test_uv_to_grid_maps_corner_texel_centres_to_plus_minus_one(hw):
    h, w = hw
    uv = pixel_to_normalised(corners(h, w), h, w)
    grid = uv_to_grid(uv, h, w)
    expected = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(grid, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(grid_to_uv(grid, h, w), uv, rtol=0, atol=1e-12)


def test_uv_to_grid_reads_the_right_texel_with_grid_sample():
    h, w = 6, 9
    image = torch.arange(h * w, dtype=torch.float64).reshape(1, 1, h, w)
    pix = torch.tensor([[3.0, 2.0], [8.0, 5.0], [0.0, 4.0]], dtype=torch.float64)
    grid = uv_to_grid(pixel_to_normalised(pix, h, w), h, w)
    out = torch.nn.functional.grid_sample(image, grid.view(1, 1, -1, 2), align_corners=True)[0, 0, 0]
    torch.testing.assert_close(
        out, torch.tensor([2 * w + 3.0, 5 * w + 8.0, 4 * w + 0.0], dtype=torch.float64)
    )


# -- flow resizing --------------------------------------------------------------------------------
def test_resize_flow_scales_x_by_width_ratio_and_y_by_height_ratio():
    flow = np.zeros((32, 64, 2), np.float32)  # [h, w, 2]: 64 wide, 32 high
    flow[..., 0], flow[..., 1] = 4.0, 2.0
    out = resize_flow(flow, 8, 32)  # to 32 wide, 8 high
    assert out.shape == (8, 32, 2)
    np.testing.assert_allclose(out[..., 0], 31.0 / 63.0 * 4.0, rtol=1e-6)
    np.testing.assert_allclose(out[..., 1], 7.0 / 31.0 * 2.0, rtol=1e-6)


def test_resize_flow_of_a_portrait_field_does_not_swap_axes():
    flow = np.zeros((64, 16, 2), np.float32)  # 16 wide, 64 high
    flow[..., 0], flow[..., 1] = 3.0, 5.0
    out = resize_flow(flow, 127, 31)  # both sides about doubled
    np.testing.assert_allclose(out[..., 0], 30.0 / 15.0 * 3.0, rtol=1e-6)
    np.testing.assert_allclose(out[..., 1], 126.0 / 63.0 * 5.0, rtol=1e-6)


def test_resize_flow_keeps_leading_dims_and_a_linear_flow_stays_consistent():
    # a flow that is a linear function of position is resampled exactly (bilinear, corners aligned)
    h, w = 9, 17
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    flow = np.stack([0.5 * xs, -0.25 * ys], -1)[None].repeat(3, 0)  # [3, h, w, 2]
    out = resize_flow(flow, 5, 9)
    assert out.shape == (3, 5, 9, 2)
    ys2, xs2 = np.mgrid[0:5, 0:9].astype(np.float32)
    # position in the old grid, x = x2 * 16/8; displacement scales by 8/16 along x, 4/8 along y
    np.testing.assert_allclose(out[1, ..., 0], 0.5 * (xs2 * 2.0) * 0.5, atol=1e-5)
    np.testing.assert_allclose(out[1, ..., 1], -0.25 * (ys2 * 2.0) * 0.5, atol=1e-5)


def test_resize_flow_to_the_same_size_is_identity():
    flow = np.random.default_rng(0).normal(size=(2, 7, 11, 2)).astype(np.float32)
    np.testing.assert_allclose(resize_flow(flow, 7, 11), flow, atol=1e-6)


# -- alpha ----------------------------------------------------------------------------------------
def test_squash_alpha_range_and_values():
    logits = torch.tensor([-1e4, -10.0, 0.0, 10.0, 1e4])
    a = squash_alpha(logits)
    assert a.shape == logits.shape
    assert float(a[2]) == pytest.approx(0.5)
    assert float(a[0]) == pytest.approx(ALPHA_EPS)
    assert float(a[-1]) == pytest.approx(1.0 - ALPHA_EPS)
    assert bool((a >= ALPHA_EPS).all()) and bool((a <= 1.0 - ALPHA_EPS).all())
    assert bool((a[1:] >= a[:-1]).all())  # monotone
    assert bool(torch.isfinite(torch.log(a)).all()) and bool(torch.isfinite(torch.log1p(-a)).all())


def test_squash_unsquash_round_trip():
    logits = torch.linspace(-6, 6, 49, dtype=torch.float64)
    torch.testing.assert_close(unsquash_alpha(squash_alpha(logits)), logits, rtol=0, atol=1e-9)
    alpha = torch.linspace(0.01, 0.99, 33, dtype=torch.float64)
    torch.testing.assert_close(squash_alpha(unsquash_alpha(alpha)), alpha, rtol=0, atol=1e-12)


def test_unsquash_alpha_is_finite_at_zero_and_one():
    logit = unsquash_alpha(torch.tensor([0.0, 1.0]))
    assert bool(torch.isfinite(logit).all())
    assert float(logit[0]) < -5 and float(logit[1]) > 5


# -- layer shares ---------------------------------------------------------------------------------
def test_layer_shares_one_foreground_is_one_minus_alpha_and_alpha():
    logits = torch.randn(4, 7, 1, generator=torch.Generator().manual_seed(1))
    s = layer_shares(logits)
    assert s.shape == (4, 7, 2)
    a = squash_alpha(logits[..., 0])
    torch.testing.assert_close(s[..., 1], a)
    torch.testing.assert_close(s[..., 0], 1.0 - a)


def test_layer_shares_two_foregrounds_is_softmax_with_background_logit_zero():
    logits = torch.tensor([[0.0, 0.0], [1.0, -2.0], [30.0, -30.0]], dtype=torch.float64)
    s = layer_shares(logits)
    assert s.shape == (3, 3)
    e = torch.exp(logits)
    expected = torch.cat([torch.ones(3, 1, dtype=torch.float64), e], 1) / (1.0 + e.sum(1, keepdim=True))
    torch.testing.assert_close(s, expected)
    torch.testing.assert_close(s[0], torch.full((3,), 1.0 / 3.0, dtype=torch.float64))


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_layer_shares_sum_to_one_and_lie_in_zero_one(layers):
    logits = 5.0 * torch.randn(50, layers, generator=torch.Generator().manual_seed(layers))
    s = layer_shares(logits)
    assert s.shape == (50, layers + 1)
    torch.testing.assert_close(s.sum(-1), torch.ones(50))
    assert bool((s >= 0).all()) and bool((s <= 1).all())


# -- names ----------------------------------------------------------------------------------------
def test_names():
    assert layer_name(0) == "background"
    assert layer_name(1) == "foreground_0"
    assert layer_name(3) == "foreground_2"
    assert atlas_file_name(0) == "background_atlas.png"
    assert atlas_file_name(1) == "foreground_atlas_0.png"
    assert atlas_file_name(2) == "foreground_atlas_1.png"
    assert frame_file_name(0) == "00000.png"
    assert frame_file_name(42, ".jpg") == "00042.jpg"
    assert frame_file_name(123456) == "123456.png"


# -- the paper model's conventions ----------------------------------------------------------------
def test_paper_squash_alpha_exact_values():
    out = torch.tensor([-1.0, 0.0, 1.0])
    torch.testing.assert_close(paper_squash_alpha(out), torch.tensor([0.001, 0.496, 0.991]))


def test_paper_layer_shares_one_layer_and_several():
    out = torch.tensor([[-1.0], [0.5]])
    shares = paper_layer_shares(out)
    torch.testing.assert_close(shares[:, 1], paper_squash_alpha(out[:, 0]))
    torch.testing.assert_close(shares.sum(-1), torch.ones(2))
    logits = torch.tensor([[0.3, -2.0]])
    torch.testing.assert_close(paper_layer_shares(logits), layer_shares(logits))


def test_shared_atlas_position_is_the_papers_for_two_layers():
    uv = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.2, -0.4]])
    torch.testing.assert_close(shared_atlas_position(uv, 0, 2), uv * 0.5 - 0.5)
    torch.testing.assert_close(shared_atlas_position(uv, 1, 2), uv * 0.5 + 0.5)


@pytest.mark.parametrize("num_layers", [2, 3, 4, 5, 9, 10])
def test_shared_atlas_positions_of_layers_never_overlap(num_layers):
    inside = torch.rand(200, 2) * 1.98 - 0.99  # strictly inside [-1, 1]^2
    tiles = [shared_atlas_position(inside, layer, num_layers) for layer in range(num_layers)]
    for i, a in enumerate(tiles):
        assert float(a.abs().max()) < 1.0
        for b in tiles[i + 1 :]:  # each tile is an axis-aligned square: compare bounding boxes
            apart_x = a[:, 0].max() < b[:, 0].min() or b[:, 0].max() < a[:, 0].min()
            apart_y = a[:, 1].max() < b[:, 1].min() or b[:, 1].max() < a[:, 1].min()
            assert apart_x or apart_y
