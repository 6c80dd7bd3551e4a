"""Test textures for the preprocessing tests (imported by name: pytest puts this folder on the path)."""

from __future__ import annotations

import cv2
import numpy as np


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth multi-scale colour noise, ``float32 [height, width, 3]`` in [0, 255]: enough detail
    at every scale for flow and feature matching to lock on."""
    rng = np.random.default_rng(seed)
    out = np.zeros((height, width, 3), np.float32)
    for sigma, amplitude in [(1.0, 0.5), (3.0, 1.0), (8.0, 1.5)]:
        noise = cv2.GaussianBlur(rng.normal(size=(height, width, 3)).astype(np.float32), (0, 0), sigma)
        out += amplitude * noise / noise.std()
    return (out - out.min()) / (out.max() - out.min()) * 255.0
