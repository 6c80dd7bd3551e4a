"""The part of the background atlas that no frame shows, filled so that a clean plate never shows
noise there.

Where a subject never moves aside, the texels behind it get no colour from any frame: training
leaves them at whatever its steps made of them, and ``render -r foreground`` shows that as a
silhouette of noise. Every texel no frame shows (next to no pixel where the background holds the
colour) is inpainted from the seen ones (OpenCV's Telea), so the fill is one smooth image, the
same on every frame. ``export`` writes which clean-plate pixels
read them (``invented_matte``).
"""

from __future__ import annotations

import cv2
import numpy as np

INPAINT_RADIUS = 3
"""Texels around each unseen one that Telea's fill weighs."""


def touched_texels(texel_map: np.ndarray, select: np.ndarray, atlas_hw: tuple[int, int]) -> np.ndarray:
    """Texels next to the positions ``texel_map[select]`` (``[T, H, W, 2]``, ``[T, H, W]`` bool):
    ``[S_h, S_w]`` bool, the four texels around each position."""
    ah, aw = atlas_hw
    touched = np.zeros(ah * aw, bool)
    p = np.asarray(texel_map)[select]  # [N, 2]
    for fx in (np.floor, np.ceil):
        for fy in (np.floor, np.ceil):
            xi = np.clip(fx(p[:, 0]).astype(np.int64), 0, aw - 1)
            yi = np.clip(fy(p[:, 1]).astype(np.int64), 0, ah - 1)
            touched[yi * aw + xi] = True
    return touched.reshape(ah, aw)


def unseen_texels(texel_map: np.ndarray, share: np.ndarray, atlas_hw: tuple[int, int]) -> np.ndarray:
    """Texels no frame shows: next to no pixel where the layer holds at least half of the colour
    (``[S_h, S_w]`` bool). A clean plate reads those of them that some pixel's mapping reaches;
    the rest are filled too, so that an inpainting seeds from seen texels alone."""
    return ~touched_texels(texel_map, np.asarray(share) > 0.5, atlas_hw)


def fill_unseen(rgb: np.ndarray, unseen: np.ndarray) -> np.ndarray:
    """``rgb`` ``[S_h, S_w, 3]`` uint8 with its ``unseen`` texels inpainted from the others."""
    if not unseen.any() or unseen.all():
        return rgb
    return cv2.inpaint(np.ascontiguousarray(rgb), unseen.astype(np.uint8), INPAINT_RADIUS, cv2.INPAINT_TELEA)


def invented_matte(background_map: np.ndarray, unseen: np.ndarray) -> np.ndarray:
    """Which pixels of a frame read an unseen background texel (``[H, W]`` uint8, 255 = invented),
    from the frame's background map ``[H, W, 2]`` (texels)."""
    m = np.asarray(background_map, np.float32)
    values = cv2.remap(unseen.astype(np.float32), m[..., 0], m[..., 1], cv2.INTER_LINEAR)
    return np.where(values > 0.5, 255, 0).astype(np.uint8)
