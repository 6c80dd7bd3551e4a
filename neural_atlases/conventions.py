"""Every convention of the project, each written once.

Video layout
    Frames in memory are ``uint8`` arrays ``[T, H, W, 3]``, RGB, frame index first. As tensors
    they are ``float32`` ``[T, H, W, 3]`` in [0, 1]. Masks and alphas are ``[T, H, W]`` in [0, 1],
    1 = foreground.

Pixels
    A pixel ``(x, y)`` has its centre at integer coordinates: ``x`` in ``[0, W-1]`` left to right,
    ``y`` in ``[0, H-1]`` top to bottom.

Normalised coordinates (the paper's)
    ``x`` and ``y`` are divided by the larger image side and centred, so the larger side spans
    exactly [-1, 1] and the smaller one a centred part of it: portrait and landscape alike, never a
    fixed width. ``t`` spans [-1, 1] over the clip.

Atlases
    Every layer has an atlas of its own, an image of ``[S_h, S_w]`` texels. Atlas coordinates
    ``uv`` follow the same rule as frames: texel centres at integers, normalised by the larger
    atlas side. ``uv_to_grid`` turns them into ``grid_sample`` coordinates (``align_corners=True``).

Optical flow
    ``flow[t, y, x] = (dx, dy)`` in pixels: pixel ``(x, y)`` of frame ``t`` moves to
    ``(x + dx, y + dy)`` in frame ``t + gap`` (forward flow, ``gap > 0``) or ``t - gap`` (backward).
    Channel 0 is always x. ``resize_flow`` scales x by the width ratio and y by the height ratio.

Alpha
    A foreground alpha comes from a logit through ``squash_alpha``; it never reaches exactly 0 or 1
    so that log-losses stay finite. The paper model's alpha network squashes its tanh output its
    own way, ``paper_squash_alpha``.

The paper model's shared atlas
    Its one atlas network holds every layer, each in its own part of the network's input square:
    ``shared_atlas_position`` (the paper's ``uv * 0.5 - 0.5`` and ``uv * 0.5 + 0.5``).

STMaps (export)
    An STMap holds, per frame pixel, where to read a layer's atlas image, as Nuke's STMap node
    reads it: R = s = ``(x + 0.5) / S_w`` from the left edge, G = t = ``1 - (y + 0.5) / S_h`` from
    the BOTTOM edge (texel ``(x, y)`` in this project's top-left pixel convention), both in [0, 1]
    over the whole atlas image; B = 0. Written as 16-bit PNG (1/65535 steps).

Layers
    Layer 0 is the background; foreground layer ``k`` is layer ``k + 1``. ``layer_name`` gives the
    names used in files and on the command line: ``background``, ``foreground_0``, ...
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from neural_atlases.io.files import frame_file_name  # noqa: F401  (written in io.files: no torch there)

ALPHA_EPS = 1e-3


def _side_scale(height: int, width: int) -> float:
    """Pixels per normalised unit, times 2: the larger side minus one (at least 1)."""
    return float(max(max(height, width) - 1, 1))


def pixel_to_normalised(xy: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Pixel coordinates ``[..., 2]`` (x, y) to normalised coordinates ``[..., 2]``.

    >>> pixel_to_normalised(torch.tensor([[0.0, 0.0], [255.0, 143.0]]), 144, 256)
    tensor([[-1.0000, -0.5608],
            [ 1.0000,  0.5608]])
    """
    s = _side_scale(height, width)
    centre = xy.new_tensor([(width - 1) / 2.0, (height - 1) / 2.0])
    return (xy - centre) * (2.0 / s)


def normalised_to_pixel(xy: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Inverse of ``pixel_to_normalised``: ``[..., 2]`` -> ``[..., 2]`` pixels."""
    s = _side_scale(height, width)
    centre = xy.new_tensor([(width - 1) / 2.0, (height - 1) / 2.0])
    return xy * (s / 2.0) + centre


def pixels_per_unit(height: int, width: int) -> float:
    """How many pixels one normalised unit spans (the same along x and y)."""
    return _side_scale(height, width) / 2.0


def frame_to_normalised_time(t: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Frame index ``[...]`` to normalised time in [-1, 1] (0 for a one-frame clip)."""
    if num_frames <= 1:
        return torch.zeros_like(t, dtype=torch.float32)
    return t.float() * (2.0 / (num_frames - 1)) - 1.0


def normalised_extent(height: int, width: int) -> tuple[float, float]:
    """Half-extent ``(ex, ey)`` of an image in normalised coordinates (1 along the larger side)."""
    s = _side_scale(height, width)
    return (width - 1) / s, (height - 1) / s


def uv_to_grid(uv: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Normalised coordinates ``[..., 2]`` of an image to ``grid_sample`` coordinates.

    Use with ``align_corners=True``: the image's corner texel centres land on -1 and +1. Works for
    frames and atlases alike.
    """
    ex, ey = normalised_extent(height, width)
    return uv / uv.new_tensor([max(ex, 1e-12), max(ey, 1e-12)])


def grid_to_uv(grid: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Inverse of ``uv_to_grid``."""
    ex, ey = normalised_extent(height, width)
    return grid * grid.new_tensor([ex, ey])


def squash_alpha(logit: torch.Tensor) -> torch.Tensor:
    """Alpha in ``(ALPHA_EPS, 1 - ALPHA_EPS)`` from a logit of any shape (same shape out)."""
    return torch.sigmoid(logit) * (1.0 - 2.0 * ALPHA_EPS) + ALPHA_EPS


def unsquash_alpha(alpha: torch.Tensor) -> torch.Tensor:
    """The logit that ``squash_alpha`` maps to ``alpha`` (clamped into its range)."""
    a = ((alpha - ALPHA_EPS) / (1.0 - 2.0 * ALPHA_EPS)).clamp(1e-4, 1.0 - 1e-4)
    return torch.log(a) - torch.log1p(-a)


def resize_flow(flow: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a flow field ``[..., h, w, 2]`` to ``[..., height, width, 2]``, rescaling vectors.

    x displacements scale with the width ratio, y displacements with the height ratio.
    """
    h, w = flow.shape[-3], flow.shape[-2]
    lead = flow.shape[:-3]
    f = torch.from_numpy(np.ascontiguousarray(flow, dtype=np.float32)).reshape(-1, h, w, 2)
    f = F.interpolate(f.permute(0, 3, 1, 2), size=(height, width), mode="bilinear", align_corners=True)
    f = f.permute(0, 2, 3, 1) * f.new_tensor([(width - 1) / max(w - 1, 1), (height - 1) / max(h - 1, 1)])
    return f.reshape(*lead, height, width, 2).numpy()


def texel_to_stmap(texel: np.ndarray, atlas_height: int, atlas_width: int) -> np.ndarray:
    """Atlas texel positions ``[..., 2]`` (x, y) to STMap ``(s, t)`` ``[..., 2]`` in [0, 1].

    >>> texel_to_stmap(np.array([[-0.5, -0.5], [3.5, 1.5]]), 2, 4)
    array([[0., 1.],
           [1., 0.]])
    """
    size = np.array([atlas_width, atlas_height], np.float64)
    st = (np.asarray(texel, np.float64) + 0.5) / size
    st[..., 1] = 1.0 - st[..., 1]
    return np.clip(st, 0.0, 1.0)


def stmap_to_texel(st: np.ndarray, atlas_height: int, atlas_width: int) -> np.ndarray:
    """Inverse of ``texel_to_stmap``: ``[..., 2]`` -> ``[..., 2]`` texel positions (float32)."""
    st = np.asarray(st, np.float64)
    x = st[..., 0] * atlas_width - 0.5
    y = (1.0 - st[..., 1]) * atlas_height - 0.5
    return np.stack([x, y], -1).astype(np.float32)


def layer_name(layer: int) -> str:
    """File and command-line name of a layer: 0 -> ``background``, k + 1 -> ``foreground_k``."""
    return "background" if layer == 0 else f"foreground_{layer - 1}"


def atlas_stem(layer: int) -> str:
    """Name of a layer's atlas without suffix: ``background_atlas``, ``foreground_atlas_0`` (also
    the folder of its animated atlases)."""
    return "background_atlas" if layer == 0 else f"foreground_atlas_{layer - 1}"


def atlas_file_name(layer: int) -> str:
    """File name of a layer's atlas image: ``background_atlas.png``, ``foreground_atlas_0.png``."""
    return f"{atlas_stem(layer)}.png"


def layer_shares(logits: torch.Tensor) -> torch.Tensor:
    """Each layer's share of a pixel, background first: ``[..., L]`` logits -> ``[..., L + 1]``.

    One foreground layer (``L == 1``): the paper's alpha, ``[1 - a, a]`` with ``a =
    squash_alpha(logit)``. Several: a softmax over ``L + 1`` logits, the background's fixed at 0.
    The shares always sum to 1.
    """
    if logits.shape[-1] == 1:
        a = squash_alpha(logits)
        return torch.cat([1.0 - a, a], dim=-1)
    zero = torch.zeros_like(logits[..., :1])
    return torch.softmax(torch.cat([zero, logits], dim=-1), dim=-1)


def paper_squash_alpha(out: torch.Tensor) -> torch.Tensor:
    """The paper's alpha from its network's tanh output ``out`` in [-1, 1] (any shape, same out):
    ``0.5 * (out + 1) * 0.99 + 0.001``, in ``[0.001, 0.991]``."""
    return 0.5 * (out + 1.0) * 0.99 + 0.001


def paper_layer_shares(out: torch.Tensor) -> torch.Tensor:
    """Each layer's share of a pixel for the paper's alpha network: ``[..., L]`` -> ``[..., L + 1]``.

    One foreground layer: ``[1 - a, a]`` with ``a = paper_squash_alpha(out)`` (``out`` the tanh
    output). Several: the network's raw outputs are logits and ``layer_shares`` applies.
    """
    if out.shape[-1] == 1:
        a = paper_squash_alpha(out)
        return torch.cat([1.0 - a, a], dim=-1)
    return layer_shares(out)


def shared_atlas_position(uv: torch.Tensor, layer: int, num_layers: int) -> torch.Tensor:
    """Where a layer's atlas point ``uv`` ``[..., 2]`` (in [-1, 1]) sits in the paper's one shared
    atlas network's input square [-1, 1]^2 (same shape out).

    Two layers, as the paper: the background at ``uv * 0.5 - 0.5``, the foreground at
    ``uv * 0.5 + 0.5``. Up to four layers take the other two quadrants (``(+0.5, -0.5)``, then
    ``(-0.5, +0.5)``); more share an ``n x n`` grid of tiles, row by row.
    """
    if num_layers <= 4:
        cx, cy = [(-0.5, -0.5), (0.5, 0.5), (0.5, -0.5), (-0.5, 0.5)][layer]
        return uv * 0.5 + uv.new_tensor([cx, cy])
    n = math.ceil(math.sqrt(num_layers))
    row, col = divmod(layer, n)
    centre = uv.new_tensor([(2 * col + 1) / n - 1.0, (2 * row + 1) / n - 1.0])
    return uv / n + centre
