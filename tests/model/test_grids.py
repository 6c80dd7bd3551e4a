"""Tests of neural_atlases.model.grids: fast samplers vs their grid_sample references, forward and
backward, and the exact helpers."""

from __future__ import annotations

import pytest
import torch

from neural_atlases.conventions import pixel_to_normalised
from neural_atlases.model.grids import (
    gather_pixels,
    sample_image,
    sample_image_reference,
    sample_video,
    sample_video_reference,
    texel_pyramid_sizes,
)


def _random_points(n: int, lo: float, hi: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 2, generator=g, dtype=torch.float64) * (hi - lo) + lo


def _agree_forward_backward(fast, reference, values: torch.Tensor, coords: torch.Tensor) -> None:
    """``fast(values, coords)`` and ``reference(values, coords)`` agree, and so do their gradients
    wrt both inputs (for a random weighting of the outputs)."""
    outs, grads = [], []
    for fn in (fast, reference):
        v = values.clone().requires_grad_(True)
        c = coords.clone().requires_grad_(True)
        out = fn(v, c)
        weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(9), dtype=out.dtype)
        (out * weight).sum().backward()
        outs.append(out.detach())
        grads.append((v.grad, c.grad))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=1e-5)
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=0, atol=1e-4)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=0, atol=1e-4)


# -- sample_image ---------------------------------------------------------------------------------
@pytest.mark.parametrize("hw", [(7, 11), (11, 7), (2, 2), (16, 16)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sample_image_agrees_with_reference_inside_and_outside(hw, dtype):
    h, w = hw
    g = torch.Generator().manual_seed(h * 100 + w)
    image = torch.randn(h, w, 3, generator=g).to(dtype)
    grid = _random_points(300, -1.4, 1.4, seed=w).to(dtype)  # about a third outside: border clamping
    assert bool(((grid.abs() > 1).any(1)).any()) and bool(((grid.abs() < 1).all(1)).any())
    _agree_forward_backward(sample_image, sample_image_reference, image, grid)


@pytest.mark.parametrize("hw", [(1, 9), (9, 1), (1, 1)])
def test_sample_image_one_pixel_wide_agrees_with_reference(hw):
    h, w = hw
    image = torch.randn(h, w, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    grid = _random_points(100, -1.3, 1.3, seed=1)
    _agree_forward_backward(sample_image, sample_image_reference, image, grid)


def test_sample_image_at_texel_centres_is_exact():
    h, w = 5, 8
    image = torch.randn(h, w, 3, dtype=torch.float64)
    ys, xs = torch.meshgrid(torch.arange(h).double(), torch.arange(w).double(), indexing="ij")
    grid = torch.stack([xs.reshape(-1) * 2.0 / (w - 1) - 1, ys.reshape(-1) * 2.0 / (h - 1) - 1], -1)
    torch.testing.assert_close(sample_image(image, grid), image.reshape(-1, 3), rtol=0, atol=1e-12)


def test_sample_image_clamps_to_the_border():
    image = torch.arange(12, dtype=torch.float64).reshape(3, 4, 1)
    grid = torch.tensor([[-5.0, -5.0], [5.0, 5.0], [5.0, -1.0], [-1.0, 7.0]], dtype=torch.float64)
    torch.testing.assert_close(
        sample_image(image, grid)[:, 0], torch.tensor([0.0, 11.0, 3.0, 8.0], dtype=torch.float64)
    )


def test_sample_image_batch_equals_loop():
    image = torch.randn(6, 9, 4)
    grid = _random_points(20, -1, 1, seed=4).float()
    batch = sample_image(image, grid)
    loop = torch.cat([sample_image(image, grid[i : i + 1]) for i in range(20)])
    torch.testing.assert_close(batch, loop)


def test_sample_image_gradcheck_float64():
    image = torch.randn(4, 5, 2, dtype=torch.float64, requires_grad=True)
    grid = _random_points(15, -0.95, 0.95, seed=5).requires_grad_(True)
    assert torch.autograd.gradcheck(sample_image, (image, grid))


# -- sample_video ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("volume_thw", "frame_hw"),
    [((4, 5, 7), (24, 40)), ((3, 9, 4), (40, 24)), ((1, 6, 6), (16, 16)), ((5, 2, 2), (10, 30))],
)
def test_sample_video_agrees_with_reference(volume_thw, frame_hw):
    t_, h, w = volume_thw
    fh, fw = frame_hw
    g = torch.Generator().manual_seed(t_ * 7 + h)
    volume = torch.randn(t_, h, w, 3, generator=g, dtype=torch.float64)
    n = 200
    pix = torch.rand(n, 2, generator=g, dtype=torch.float64) * torch.tensor([fw + 8.0, fh + 8.0]) - 4.0
    xy = pixel_to_normalised(pix, fh, fw)  # some points outside the frame
    t = torch.randint(0, t_, (n,), generator=g)

    def fast(v, c):
        return sample_video(v, c, t, frame_hw)

    def ref(v, c):
        return sample_video_reference(v, c, t, frame_hw)

    _agree_forward_backward(fast, ref, volume, xy)


@pytest.mark.parametrize("volume_hw", [(1, 6), (6, 1)])
def test_sample_video_one_cell_wide_agrees_with_reference(volume_hw):
    h, w = volume_hw
    volume = torch.randn(3, h, w, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    xy = _random_points(60, -1.2, 1.2, seed=3)
    t = torch.randint(0, 3, (60,), generator=torch.Generator().manual_seed(4))
    _agree_forward_backward(
        lambda v, c: sample_video(v, c, t, (20, 20)),
        lambda v, c: sample_video_reference(v, c, t, (20, 20)),
        volume,
        xy,
    )


def test_sample_video_float32_agrees_with_reference():
    volume = torch.randn(6, 8, 12, 2, generator=torch.Generator().manual_seed(5))
    xy = _random_points(500, -1.1, 1.1, seed=6).float()
    t = torch.randint(0, 6, (500,), generator=torch.Generator().manual_seed(7))
    _agree_forward_backward(
        lambda v, c: sample_video(v, c, t, (36, 54)),
        lambda v, c: sample_video_reference(v, c, t, (36, 54)),
        volume,
        xy,
    )


def test_sample_video_reads_exactly_one_frame_slice():
    volume = torch.zeros(4, 3, 3, 1, dtype=torch.float64)
    for i in range(4):
        volume[i] = float(i)
    xy = _random_points(40, -1, 1, seed=0)
    t = torch.arange(40) % 4
    torch.testing.assert_close(sample_video(volume, xy, t, (9, 9))[:, 0], t.double())


def test_sample_video_batch_equals_loop():
    volume = torch.randn(3, 5, 6, 2)
    xy = _random_points(12, -1, 1, seed=8).float()
    t = torch.arange(12) % 3
    batch = sample_video(volume, xy, t, (20, 30))
    loop = torch.cat([sample_video(volume, xy[i : i + 1], t[i : i + 1], (20, 30)) for i in range(12)])
    torch.testing.assert_close(batch, loop)


# -- exact helpers --------------------------------------------------------------------------------
def test_gather_pixels_is_exact_indexing():
    g = torch.Generator().manual_seed(0)
    table = torch.randn(3, 5, 7, 2, generator=g)
    x = torch.randint(0, 7, (50,), generator=g)
    y = torch.randint(0, 5, (50,), generator=g)
    t = torch.randint(0, 3, (50,), generator=g)
    out = gather_pixels(table, x, y, t)
    assert out.shape == (50, 2)
    assert torch.equal(out, table[t, y, x])


def test_texel_pyramid_sizes_halve():
    assert texel_pyramid_sizes(64, 128, 4) == [(64, 128), (32, 64), (16, 32), (8, 16)]
    assert texel_pyramid_sizes(65, 33, 3) == [(65, 33), (33, 17), (17, 9)]
    assert texel_pyramid_sizes(100, 200, 1) == [(100, 200)]


def test_texel_pyramid_sizes_stop_at_the_minimum_side():
    sizes = texel_pyramid_sizes(20, 40, 10, min_side=8)
    assert sizes == [(20, 40), (10, 20)]
    assert all(min(s) >= 8 for s in sizes)
    assert texel_pyramid_sizes(6, 6, 4, min_side=8) == [(6, 6)]
