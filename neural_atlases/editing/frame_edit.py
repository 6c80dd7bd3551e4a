"""Edit one frame, get atlas edits: the edited pixels splatted into each layer's atlas.

The pixels of an edited frame that differ from the original are carried into each layer's atlas
through that frame's maps, split between layers by the frame's shares with a soft edge (a pixel
belongs to a layer as its share rises from 0.25 to 0.75). Each frame pixel is splatted at 3 x 3
sub-pixel positions so a mapping that magnifies leaves no holes, and what holes remain inside
the edit are filled from their neighbours.
"""

from __future__ import annotations

import cv2
import numpy as np

from neural_atlases.baking.bake import Baked
from neural_atlases.errors import UserError

DIFF_TOLERANCE = 3
"""Frame pixels whose colour differs by more than this (of 255) are edited."""


def layer_ownership(share: np.ndarray) -> np.ndarray:
    """How much of a pixel's edit goes to a layer given its share (``[...]`` -> ``[...]``)."""
    return np.clip((share - 0.25) / 0.5, 0.0, 1.0)


def _supersample(image: np.ndarray, factor: int) -> np.ndarray:
    """Values at ``factor x factor`` sub-pixel positions per pixel, bilinear, ``[H*f, W*f, C]``."""
    h, w = image.shape[:2]
    offsets = (np.arange(factor) + 0.5) / factor - 0.5
    xs = (np.arange(w)[:, None] + offsets[None]).reshape(-1).astype(np.float32)
    ys = (np.arange(h)[:, None] + offsets[None]).reshape(-1).astype(np.float32)
    mx, my = np.meshgrid(xs, ys)
    return cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def splat_frame_edit(
    original: np.ndarray,  # [H, W, 3] uint8
    edited: np.ndarray,  # [H, W, 3] uint8
    t: int,
    baked: Baked,
    factor: int = 3,
) -> list[np.ndarray | None]:
    """Premultiplied RGBA edits ``[S_h, S_w, 4]`` float32 per layer (None where nothing lands)."""
    if edited.shape != original.shape:
        raise UserError(
            f"the edited frame is {edited.shape[1]}x{edited.shape[0]} but frame {t} is "
            f"{original.shape[1]}x{original.shape[0]}"
        )
    diff = np.abs(edited.astype(np.int16) - original.astype(np.int16)).max(-1) > DIFF_TOLERANCE
    if not diff.any():
        return [None] * baked.num_layers
    # a soft edge around the painted pixels keeps anti-aliased paint edges
    paint = cv2.GaussianBlur(diff.astype(np.float32), (3, 3), 0.6)
    paint = np.maximum(paint, diff)
    colour = _supersample(edited.astype(np.float32) / 255.0, factor)
    shares = np.asarray(baked.shares[t], np.float32)
    out: list[np.ndarray | None] = []
    for layer in range(baked.num_layers):
        own = _supersample(paint * layer_ownership(shares[..., layer]), factor)  # [H*f, W*f]
        texel = _supersample(np.asarray(baked.maps[layer][t], np.float32), factor)  # [H*f, W*f, 2]
        atlas_hw = baked.atlases[layer].shape[:2]
        out.append(_splat(texel, own, colour, atlas_hw))
    return out


def _splat(
    texel: np.ndarray, own: np.ndarray, colour: np.ndarray, atlas_hw: tuple[int, int]
) -> np.ndarray | None:
    ah, aw = atlas_hw
    near = own > 0.0
    if not near.any():
        return None
    # every sample near the edit votes, so a texel's alpha is the edit's share of what lands there
    grow = cv2.dilate(near.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    p = texel[grow]
    xi = np.clip(np.rint(p[:, 0]).astype(np.int64), 0, aw - 1)
    yi = np.clip(np.rint(p[:, 1]).astype(np.int64), 0, ah - 1)
    idx = yi * aw + xi
    count = np.bincount(idx, minlength=ah * aw).astype(np.float32)
    alpha_sum = np.bincount(idx, weights=own[grow], minlength=ah * aw)
    rgb_sum = np.stack(
        [np.bincount(idx, weights=own[grow] * colour[grow][:, c], minlength=ah * aw) for c in range(3)], -1
    )
    count, alpha_sum = count.reshape(ah, aw), alpha_sum.reshape(ah, aw).astype(np.float32)
    rgb_sum = rgb_sum.reshape(ah, aw, 3).astype(np.float32)
    # holes: texels no sample landed on, surrounded by ones that did
    hole = count == 0
    kernel = np.ones((3, 3), np.float32)
    n = cv2.filter2D(count, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    fill = hole & (n > 0)
    for arr in (alpha_sum, rgb_sum):
        blurred = cv2.filter2D(arr, -1, kernel, borderType=cv2.BORDER_CONSTANT)
        arr[fill] = blurred[fill]
    count[fill] = n[fill]
    alpha = alpha_sum / np.maximum(count, 1e-6)
    premul = rgb_sum / np.maximum(count, 1e-6)[..., None]
    if not (alpha > 1e-3).any():
        return None
    return np.concatenate([premul, alpha[..., None]], -1).astype(np.float32)


def edited_atlas(atlas: np.ndarray, edit: np.ndarray | None) -> np.ndarray:
    """An atlas ``[S_h, S_w, 4]`` uint8 with an edit composited in (alpha: used or edited)."""
    if edit is None:
        return atlas.copy()
    rgb = atlas[..., :3].astype(np.float32) / 255.0
    out = rgb * (1.0 - edit[..., 3:4]) + edit[..., :3]
    usage = np.maximum(atlas[..., 3], (edit[..., 3] > 1e-3) * 255).astype(np.uint8)
    return np.concatenate([(np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8), usage[..., None]], -1)
