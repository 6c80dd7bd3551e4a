"""Dense grids read by interpolation: the fast encodings of this project.

Grids are channels-last (``[h, w, C]``, ``[T, h, w, C]``): a bilinear read is four row gathers
of a flat table, whose backward pass is a cheap ``index_add`` (3-10x faster on a CPU than
``grid_sample``'s backward). Each fast sampler has a ``*_reference`` beside it built on
``F.grid_sample``, and a test that they agree.

On a CPU a dense grid read with ``grid_sample`` is about 20x cheaper than an MLP of the same
capacity (METHOD.md), so every field of the fast model is one: atlas textures are 2D grids over
atlas coordinates, mapping residuals and alphas are 3D grids over (x, y, t) with one slice per
frame.

Each sampler takes normalised coordinates (``conventions``) and returns one row per point. The
plain per-frame loop ``sample_video_reference`` is kept beside ``sample_video`` and tested to agree.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from neural_atlases.conventions import uv_to_grid


def _bilinear(
    table: torch.Tensor, base: torch.Tensor, px: torch.Tensor, py: torch.Tensor, h: int, w: int
) -> torch.Tensor:
    """Bilinear read of ``h x w`` slices of a flat channels-last table.

    Args:
        table: ``[M, C]``, slices of ``h * w`` rows each, row-major.
        base: ``[N]`` first row of each point's slice.
        px, py: ``[N]`` texel positions (texel centres at integers), clamped to the slice.

    Returns:
        ``[N, C]``.
    """
    px = px.clamp(0, w - 1)
    py = py.clamp(0, h - 1)
    x0 = px.detach().floor().clamp(max=max(w - 2, 0))
    y0 = py.detach().floor().clamp(max=max(h - 2, 0))
    fx = px - x0
    fy = py - y0
    i00 = base + y0.long() * w + x0.long()
    dx = 1 if w > 1 else 0
    dy = w if h > 1 else 0
    idx = torch.stack([i00, i00 + dx, i00 + dy, i00 + dy + dx], 1)  # [N, 4]
    v = table.index_select(0, idx.reshape(-1)).reshape(-1, 4, table.shape[1])  # [N, 4, C]
    gx, gy = 1.0 - fx, 1.0 - fy
    weights = torch.stack([gx * gy, fx * gy, gx * fy, fx * fy], 1)  # [N, 4]
    return torch.bmm(weights[:, None, :], v)[:, 0]  # [N, C]


def sample_image(image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of a channels-last image at ``grid_sample`` coordinates.

    Args:
        image: ``[h, w, C]``.
        grid: ``[N, 2]`` in [-1, 1] (``align_corners=True``); outside is clamped to the border.

    Returns:
        ``[N, C]``.
    """
    h, w, c = image.shape
    px = (grid[:, 0] + 1.0) * (0.5 * (w - 1))
    py = (grid[:, 1] + 1.0) * (0.5 * (h - 1))
    base = torch.zeros_like(px, dtype=torch.long)
    return _bilinear(image.reshape(-1, c), base, px, py, h, w)


def sample_image_reference(image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Plain reference for ``sample_image``: ``F.grid_sample``."""
    out = F.grid_sample(
        image.permute(2, 0, 1)[None],
        grid.view(1, 1, -1, 2),
        mode="bilinear",
        padding_mode="border",
        align_corners=True,
    )  # [1, C, 1, N]
    return out[0, :, 0].t()


def sample_video(
    volume: torch.Tensor, xy: torch.Tensor, t: torch.Tensor, frame_hw: tuple[int, int]
) -> torch.Tensor:
    """Sample a per-frame grid at points of the video: bilinear in (x, y), exact in t.

    Args:
        volume: ``[T, h, w, C]``, one ``h x w`` slice per frame, spanning the whole frame.
        xy: ``[N, 2]`` normalised frame coordinates.
        t: ``[N]`` integer frame indices.
        frame_hw: ``(H, W)`` of the video, which fixes the normalisation of ``xy``.

    Returns:
        ``[N, C]``.
    """
    _, h, w, c = volume.shape
    g = uv_to_grid(xy, *frame_hw)
    px = (g[:, 0] + 1.0) * (0.5 * (w - 1))
    py = (g[:, 1] + 1.0) * (0.5 * (h - 1))
    return _bilinear(volume.reshape(-1, c), t * (h * w), px, py, h, w)


def sample_video_reference(
    volume: torch.Tensor, xy: torch.Tensor, t: torch.Tensor, frame_hw: tuple[int, int]
) -> torch.Tensor:
    """Plain reference for ``sample_video``: a 3D ``F.grid_sample`` with exact frame slices."""
    num_frames = volume.shape[0]
    g = uv_to_grid(xy, *frame_hw)
    gt = t.float() * (2.0 / (num_frames - 1)) - 1.0 if num_frames > 1 else torch.zeros_like(g[:, 0])
    grid = torch.cat([g, gt[:, None].to(g.dtype)], dim=1).view(1, 1, 1, -1, 3)
    vol = volume.permute(3, 0, 1, 2)[None]  # [1, C, T, h, w]
    out = F.grid_sample(vol, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out[0, :, 0, 0].t()


def gather_pixels(table: torch.Tensor, x: torch.Tensor, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Exact values of a full-resolution table at integer pixels.

    Args:
        table: ``[T, H, W, C]``.
        x, y, t: ``[N]`` integer pixel coordinates and frame indices.

    Returns:
        ``[N, C]``.
    """
    num_frames, height, width, channels = table.shape
    flat = (t * height + y) * width + x
    return table.reshape(-1, channels).index_select(0, flat)


def texel_pyramid_sizes(height: int, width: int, levels: int, min_side: int = 8) -> list[tuple[int, int]]:
    """Sizes of a multi-resolution texture, finest first, each level half the one before.

    Coarse levels share the corner texel centres of the finest (``align_corners=True``), so one
    grid coordinate reads every level.
    """
    sizes = []
    h, w = height, width
    for _ in range(levels):
        sizes.append((h, w))
        if min(h, w) // 2 < min_side:
            break
        h, w = (h + 1) // 2, (w + 1) // 2
    return sizes
