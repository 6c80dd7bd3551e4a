"""The model's starting point: atlases placed and filled before the first step.

Each layer's per-frame transform (frame ``t`` pixels -> frame 0 pixels, from the flow) fixes where
its content lands; the atlas is sized to hold all of it, and filled by averaging the frames
through the transforms (METHOD.md: 30 dB before any training). Shares start from the masks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import cv2
import numpy as np
import torch

from neural_atlases.config import ModelConfig
from neural_atlases.conventions import pixels_per_unit, unsquash_alpha
from neural_atlases.model.atlas_model import AtlasModel, LayerGeometry, VideoShape, residual_grid_sizes
from neural_atlases.model.fields import AtlasField, MappingField
from neural_atlases.preprocess.align import fit_grid
from neural_atlases.preprocess.fill import push_pull_fill
from neural_atlases.preprocess.transforms import apply_transform


def pixel_to_normalised_matrix(height: int, width: int) -> np.ndarray:
    """``[3, 3]`` taking pixel coordinates to normalised ones (``conventions``), as a matrix."""
    s = 1.0 / pixels_per_unit(height, width)
    return np.array([[s, 0, -(width - 1) / 2 * s], [0, s, -(height - 1) / 2 * s], [0, 0, 1.0]])


def content_box(
    transforms: np.ndarray,  # [T, 3, 3] frame t pixels -> frame 0 pixels
    weights: np.ndarray,  # [T, H, W] which pixels belong to the layer
    stride: int = 4,
) -> tuple[float, float, float, float]:
    """Bounding box ``(x0, y0, x1, y1)`` in frame-0 pixels of the layer's pixels over the clip."""
    num_frames, height, width = weights.shape
    ys, xs = np.mgrid[0:height:stride, 0:width:stride]
    ys = np.concatenate([ys.ravel(), [0, 0, height - 1, height - 1]])
    xs = np.concatenate([xs.ravel(), [0, width - 1, 0, width - 1]])
    boxes = []
    for t in range(num_frames):
        sel = weights[t][ys, xs] > 0.5
        if not sel.any():
            continue
        p = apply_transform(transforms[t], np.stack([xs[sel], ys[sel]], -1).astype(np.float64))
        boxes.append([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()])
    if not boxes:
        return 0.0, 0.0, float(width - 1), float(height - 1)
    b = np.asarray(boxes)
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def aligned_side(side: int, config: ModelConfig) -> int:
    """``side`` texels rounded up to ``k 2^(levels - 1) + 1``, at most ``largest_side``, so that
    every coarser level's texels sit on the finest one's and a read sums the levels' reads
    (``model.fields.AtlasField.levels_aligned``): a step's work in its batch, not in the atlas's
    texels. The extra texels are margin, at the right and the bottom."""
    unit = 1 << (config.atlas_levels - 1)
    return min(-(-(side - 1) // unit) * unit + 1, largest_side(config))


def largest_side(config: ModelConfig) -> int:
    """The largest aligned side within ``config.max_atlas_side``."""
    unit = 1 << (config.atlas_levels - 1)
    return max((config.max_atlas_side - 1) // unit, 1) * unit + 1


def place_atlas(
    box: tuple[float, float, float, float], frame_hw: tuple[int, int], config: ModelConfig
) -> tuple[LayerGeometry, np.ndarray]:
    """Atlas size and the matrix from frame-0 pixels to normalised atlas ``uv``.

    The atlas holds ``box`` at ``config.atlas_scale`` texels per pixel with a margin, shrunk if a
    side would pass ``config.max_atlas_side`` (``largest_side``), its sides ``aligned_side``.
    """
    x0, y0, x1, y1 = box
    margin = config.atlas_margin
    scale = config.atlas_scale
    longest = max(x1 - x0, y1 - y0) * scale + 1 + 2 * margin
    if longest > largest_side(config):
        scale *= (largest_side(config) - 1 - 2 * margin) / (longest - 1 - 2 * margin)
    aw = aligned_side(int(math.ceil((x1 - x0) * scale)) + 1 + 2 * margin, config)
    ah = aligned_side(int(math.ceil((y1 - y0) * scale)) + 1 + 2 * margin, config)
    to_texel = np.array([[scale, 0, margin - x0 * scale], [0, scale, margin - y0 * scale], [0, 0, 1.0]])
    to_uv = pixel_to_normalised_matrix(ah, aw) @ to_texel
    nominal = scale * pixels_per_unit(*frame_hw) / pixels_per_unit(ah, aw)
    return LayerGeometry(atlas_height=ah, atlas_width=aw, scale=float(nominal)), to_uv


def splat_average(
    frames: np.ndarray,  # [T, H, W, 3] uint8
    weights: np.ndarray,  # [T, H, W]
    texel_maps: np.ndarray,  # [T, H, W, 2] atlas texel positions (x, y) of every pixel
    atlas_hw: tuple[int, int],
) -> np.ndarray:
    """Weighted average of the frames splatted bilinearly into an atlas, holes filled: ``[S_h, S_w, 3]``."""
    ah, aw = atlas_hw
    colour = torch.zeros(ah * aw, 3, dtype=torch.float64)
    total = torch.zeros(ah * aw, dtype=torch.float64)
    for t in range(frames.shape[0]):
        p = torch.from_numpy(texel_maps[t].reshape(-1, 2)).double()
        w = torch.from_numpy(weights[t].reshape(-1)).double()
        c = torch.from_numpy(frames[t].reshape(-1, 3)).double() / 255.0
        base = p.floor()
        frac = p - base
        for dx in (0, 1):
            for dy in (0, 1):
                xi, yi = base[:, 0].long() + dx, base[:, 1].long() + dy
                wk = w * (frac[:, 0] if dx else 1 - frac[:, 0]) * (frac[:, 1] if dy else 1 - frac[:, 1])
                ok = (xi >= 0) & (xi < aw) & (yi >= 0) & (yi < ah) & (wk > 0)
                idx = yi[ok] * aw + xi[ok]
                total.index_add_(0, idx, wk[ok])
                colour.index_add_(0, idx, c[ok] * wk[ok, None])
    return push_pull_fill(colour.reshape(ah, aw, 3).numpy(), total.reshape(ah, aw).numpy())


OWNED = 0.5
"""Least weight of a pixel in a layer's first fill: below it the pixel is another layer's."""


def owned(weights: np.ndarray) -> np.ndarray:
    """A layer's weights ``[T, H, W]`` for its first fill: zero where below ``OWNED``. A soft mask
    leaves a subject a small background weight (ISNet's 0.98 leaves 0.02); over 70 frames those add
    up to a full pixel's worth, and a texel that only the subject covers would be filled with the
    subject's colour, a ghost in the clean plate. Zeroed, such a texel is filled from around it."""
    return np.where(weights >= OWNED, weights, 0.0)


def visibility(layer_weights: np.ndarray, layer: int) -> np.ndarray:
    """Where a foreground layer could be seen, ``[T, H, W]`` float32: 1 minus the other
    foreground layers' weights (``layer_weights`` ``[L + 1, T, H, W]``, background first). Where
    another layer is in front, a pixel says nothing of whether this layer is there. One
    foreground layer: ones everywhere."""
    others = [k for k in range(1, layer_weights.shape[0]) if k != layer]
    if not others:
        return np.ones(layer_weights.shape[1:], np.float32)
    return np.clip(1.0 - np.clip(layer_weights[others], 0, 1).sum(0), 0.0, 1.0).astype(np.float32)


MakeModel = Callable[[VideoShape, list[LayerGeometry], torch.Tensor, torch.Tensor], AtlasModel]
"""``make(video, geometries, transforms [L + 1, T, 3, 3], share_logits [T, H, W, L])``: an empty
model of the variant being built (``training.variants.new_model``)."""


def build_fast_model(
    config: ModelConfig,
    frames: np.ndarray,  # [T, H, W, 3] uint8
    layer_weights: np.ndarray | None,  # [L + 1, T, H, W] which pixels belong to each layer (bg first)
    pixel_transforms: np.ndarray | None,  # [L + 1, T, 3, 3] frame t pixels -> frame 0 pixels, per layer
    corrections: list[tuple[np.ndarray, np.ndarray] | None] | None,
    make: MakeModel,
) -> AtlasModel:
    """A fast model (grids: ``model.fields``) whose atlases are placed around, and filled with,
    what each layer shows.

    ``corrections[l]``, where given, is ``(offsets [T, H, W, 2], valid [T, H, W])`` from
    ``preprocess.align.dense_corrections``: per-pixel frame-0 offsets beyond the layer's global
    transforms, fitted into the layer's finest residual grid.
    """
    if layer_weights is None or pixel_transforms is None:
        raise ValueError("the fast model is built from layer weights and transforms")
    num_frames, height, width = frames.shape[:3]
    video = VideoShape(num_frames, height, width)
    per_layer = list(corrections) if corrections else [None] * layer_weights.shape[0]
    residuals: list[np.ndarray | None] = []
    to_norm = pixel_to_normalised_matrix(height, width)
    from_norm = np.linalg.inv(to_norm)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    grid = np.stack([xs.ravel(), ys.ravel()], -1)
    geometries, transforms, atlases = [], [], []
    for layer in range(layer_weights.shape[0]):
        box = content_box(pixel_transforms[layer], layer_weights[layer])
        geometry, to_uv = place_atlas(box, (height, width), config)
        uv_to_texel = np.linalg.inv(pixel_to_normalised_matrix(geometry.atlas_height, geometry.atlas_width))
        residual = None
        cells = config.background_residual_cells if layer == 0 else config.residual_cells
        grid_hw = residual_grid_sizes(video, cells)[-1] if cells else None
        correction = per_layer[layer]
        if correction is not None and grid_hw is not None:
            offsets, valid = correction
            residual = np.stack([fit_grid(offsets[t], valid[t], grid_hw) for t in range(num_frames)])
        texel_maps = np.empty((num_frames, height, width, 2), np.float32)
        for t in range(num_frames):
            first = apply_transform(pixel_transforms[layer, t], grid)  # [H * W, 2] frame-0 pixels
            if residual is not None:
                first = first + read_grid(residual[t], height, width).reshape(-1, 2)
            texel_maps[t] = apply_transform(uv_to_texel @ to_uv, first).reshape(height, width, 2)
        residuals.append(residual)
        atlas = splat_average(
            frames, owned(layer_weights[layer]), texel_maps, (geometry.atlas_height, geometry.atlas_width)
        )
        if layer > 0 and config.atlas_alpha:  # the outline: the masks averaged through the mapping
            seen = visibility(layer_weights, layer)
            mask = (np.clip(layer_weights[layer], 0, 1)[..., None] * 255).repeat(3, -1).astype(np.uint8)
            coverage = splat_average(mask, seen, texel_maps, atlas.shape[:2])[..., :1]
            alpha = unsquash_alpha(torch.from_numpy(0.1 + 0.8 * coverage)).numpy()
            atlas = np.concatenate([atlas, alpha], -1)
        geometries.append(geometry)
        transforms.append(
            np.stack([to_uv @ pixel_transforms[layer, t] @ from_norm for t in range(num_frames)])
        )
        atlases.append(atlas)
    fg = np.clip(np.moveaxis(layer_weights[1:], 0, -1), 0.0, 1.0)  # [T, H, W, L]
    if config.atlas_alpha:  # the atlases hold the alphas; the table starts empty
        logits = torch.zeros(fg.shape)
    else:
        logits = unsquash_alpha(torch.from_numpy(0.1 + 0.8 * fg).float())
    model = make(video, geometries, torch.from_numpy(np.stack(transforms)).float(), logits)
    with torch.no_grad():
        for layer, atlas in enumerate(atlases):
            cast(AtlasField, model.atlases[layer]).levels[0].copy_(torch.from_numpy(atlas))
        model.first_fill().copy_(torch.from_numpy(atlases[0][..., :3]))
        ppu = pixels_per_unit(height, width)
        for layer, residual in enumerate(residuals):
            if residual is not None:  # frame-0 pixels -> normalised frame units (``MappingField``)
                mapping = cast(MappingField, model.mappings[layer])
                mapping.residuals[-1].copy_(torch.from_numpy(residual / ppu).float())
    return model


def read_grid(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """A ``[h, w, C]`` grid read bilinearly at every pixel of an ``H x W`` frame (corners aligned)."""
    gh, gw = grid.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    mx = xs * ((gw - 1) / max(width - 1, 1))
    my = ys * ((gh - 1) / max(height - 1, 1))
    return cv2.remap(grid.astype(np.float32), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
