"""Edit one frame, get atlas edits: the edited pixels carried into each layer's atlas.

The pixels of an edited frame that differ from the original are carried into each layer's atlas
through that frame's maps, split between layers by the frame's shares with a soft edge (a pixel
belongs to a layer as its share rises from 0.25 to 0.75), scaled so that on the edited frame the
layers' parts add up to the whole paint.

Each atlas texel near the edit pulls its value from the frame: the frame's map (pixel -> texel)
is inverted by Newton's method, started from a homography fitted to it, and the edit is read
there bilinearly. One resampling, no holes, whatever the map magnifies or shrinks.
"""

from __future__ import annotations

import cv2
import numpy as np

from neural_atlases.baking.bake import Baked
from neural_atlases.errors import UserError

DIFF_TOLERANCE = 3
"""Frame pixels whose colour differs by more than this (of 255) are edited."""

NEWTON_STEPS = 6


def layer_ownership(share: np.ndarray) -> np.ndarray:
    """How much of a pixel's edit goes to a layer given its share (``[...]`` -> ``[...]``)."""
    return np.clip((share - 0.25) / 0.5, 0.0, 1.0)


def read_points(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``image`` ``[H, W, C]`` read bilinearly at ``points`` ``[N, 2]`` (border clamped): ``[N, C]``."""
    n = points.shape[0]
    side = max(1, int(np.ceil(np.sqrt(n))))  # cv2.remap wants an image-shaped map under 32k a side
    grid = np.zeros((side * side, 2), np.float32)
    grid[:n] = points
    out = cv2.remap(
        image, grid.reshape(side, side, 2), None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return out.reshape(side * side, -1)[:n]


def invert_map(texel_map: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame positions ``[N, 2]`` that a map ``[H, W, 2]`` (pixel -> texel) sends to ``targets``
    ``[N, 2]``, and which of them were found (inside the frame, within 0.25 texel: cv2.remap
    reads the map at 1/32-pixel steps)."""
    h, w = texel_map.shape[:2]
    ys, xs = np.mgrid[0:h:2, 0:w:2]
    src = texel_map[ys, xs].reshape(-1, 2).astype(np.float64)
    dst = np.stack([xs.ravel(), ys.ravel()], -1).astype(np.float64)
    guess, _ = cv2.findHomography(src, dst, 0)
    if guess is None:
        return np.zeros_like(targets), np.zeros(targets.shape[0], bool)
    p = cv2.perspectiveTransform(targets[None].astype(np.float64), guess)[0].astype(np.float32)
    tm = np.ascontiguousarray(texel_map, np.float32)
    for _ in range(NEWTON_STEPS):
        p = np.clip(p, 0, [w - 1, h - 1]).astype(np.float32)
        at = read_points(tm, p)
        jx = read_points(tm, p + [0.5, 0.0]) - read_points(tm, p - [0.5, 0.0])  # d texel / dx  [N, 2]
        jy = read_points(tm, p + [0.0, 0.5]) - read_points(tm, p - [0.0, 0.5])
        r = targets - at
        det = jx[:, 0] * jy[:, 1] - jy[:, 0] * jx[:, 1]
        det = np.where(np.abs(det) < 1e-6, 1e-6, det)
        dx = (jy[:, 1] * r[:, 0] - jy[:, 0] * r[:, 1]) / det
        dy = (-jx[:, 1] * r[:, 0] + jx[:, 0] * r[:, 1]) / det
        p = p + np.stack([dx, dy], -1)
    inside = (p[:, 0] >= 0) & (p[:, 0] <= w - 1) & (p[:, 1] >= 0) & (p[:, 1] <= h - 1)
    found = inside & (
        np.linalg.norm(read_points(tm, np.clip(p, 0, [w - 1, h - 1]).astype(np.float32)) - targets, axis=1)
        < 0.25
    )
    return p.astype(np.float32), found


def splat_frame_edit(
    original: np.ndarray,  # [H, W, 3] uint8
    edited: np.ndarray,  # [H, W, 3] uint8
    t: int,
    baked: Baked,
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
    shares = np.asarray(baked.shares[t], np.float32)
    colour = edited.astype(np.float32) / 255.0
    near = cv2.dilate(diff.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    own = layer_ownership(shares)  # [H, W, L + 1]
    # scaled so that, on this frame, the layers' edits add up to the whole paint where they can
    cover = (shares * own).sum(-1, keepdims=True)
    own = np.minimum(own / np.maximum(cover, 1e-3), 1.0) * (own > 0)
    out: list[np.ndarray | None] = []
    for layer in range(baked.num_layers):
        paint = diff * own[..., layer]  # [H, W]
        mine = near & (cv2.dilate((paint > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)
        if not mine.any():
            out.append(None)
            continue
        texel_map = np.asarray(baked.maps[layer][t], np.float32)
        out.append(_pull(texel_map, mine, paint, colour, baked.atlases[layer].shape[:2]))
    return out


def _pull(
    texel_map: np.ndarray,  # [H, W, 2]
    region: np.ndarray,  # [H, W] bool, frame pixels around the edit
    paint: np.ndarray,  # [H, W] float, the edit's alpha for this layer
    colour: np.ndarray,  # [H, W, 3] float, the edited frame
    atlas_hw: tuple[int, int],
) -> np.ndarray | None:
    ah, aw = atlas_hw
    p = texel_map[region]
    x0, y0 = np.floor(p.min(0)).astype(int) - 2
    x1, y1 = np.ceil(p.max(0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, aw - 1), min(y1, ah - 1)
    if x1 < x0 or y1 < y0:
        return None
    ty, tx = np.mgrid[y0 : y1 + 1, x0 : x1 + 1]
    targets = np.stack([tx.ravel(), ty.ravel()], -1).astype(np.float32)
    pos, found = invert_map(texel_map, targets)
    alpha = np.where(found, read_points(paint.astype(np.float32)[..., None], pos)[:, 0], 0.0)
    rgb = read_points(colour, pos)
    edit = np.zeros((ah, aw, 4), np.float32)
    box = edit[y0 : y1 + 1, x0 : x1 + 1]
    box[..., :3] = (rgb * alpha[:, None]).reshape(box.shape[0], box.shape[1], 3)
    box[..., 3] = alpha.reshape(box.shape[:2])
    if not (edit[..., 3] > 1e-3).any():
        return None
    return edit


def edited_atlas(atlas: np.ndarray, edit: np.ndarray | None) -> np.ndarray:
    """An atlas ``[S_h, S_w, 4]`` uint8 with an edit composited in (alpha: used or edited)."""
    if edit is None:
        return atlas.copy()
    rgb = atlas[..., :3].astype(np.float32) / 255.0
    out = rgb * (1.0 - edit[..., 3:4]) + edit[..., :3]
    usage = np.maximum(atlas[..., 3], (edit[..., 3] > 1e-3) * 255).astype(np.uint8)
    return np.concatenate([(np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8), usage[..., None]], -1)
