"""Filling the empty cells of sparse, weighted data."""

from __future__ import annotations

import cv2
import numpy as np


def push_pull_fill(weighted: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Normalise ``weighted / weight`` (``[h, w, C]`` / ``[h, w]``) and fill empty texels from a
    coarser level of the same data (push-pull), so no texel is left undefined."""
    h, w = weight.shape
    if min(h, w) <= 2 or weight.sum() <= 0:
        fill = weighted.sum((0, 1)) / max(weight.sum(), 1e-12)
        out = np.where(weight[..., None] > 0, weighted / np.maximum(weight, 1e-12)[..., None], fill)
        return out.astype(np.float32)
    ph, pw = (h + 1) // 2, (w + 1) // 2
    pad_w = np.zeros((ph * 2, pw * 2, weighted.shape[2]))
    pad_w[:h, :w] = weighted
    pad_t = np.zeros((ph * 2, pw * 2))
    pad_t[:h, :w] = weight
    coarse = push_pull_fill(
        pad_w.reshape(ph, 2, pw, 2, -1).sum((1, 3)), pad_t.reshape(ph, 2, pw, 2).sum((1, 3))
    )
    # bilinear, not nearest: a hole filled from coarse levels is smooth, not a mosaic of blocks
    up = cv2.resize(coarse, (pw * 2, ph * 2), interpolation=cv2.INTER_LINEAR)
    up = up.reshape(ph * 2, pw * 2, -1)[:h, :w]
    confidence = np.clip(weight, 0, 1)[..., None]
    mean = weighted / np.maximum(weight, 1e-12)[..., None]
    return (confidence * mean + (1 - confidence) * up).astype(np.float32)
