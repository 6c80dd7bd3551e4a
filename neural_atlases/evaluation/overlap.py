"""Overlap of masks: one intersection over union for every measure and choice that needs one.

Imports nothing of the package, so the mask backends (``preprocess.backends``, which compare two
models' mattes) use it as well as the benchmarks.

>>> import numpy as np
>>> iou(np.array([True, True, False]), np.array([True, False, False]))
0.5
>>> iou(np.zeros(3, bool), np.zeros(3, bool))  # nothing in either: they agree
1.0
"""

from __future__ import annotations

import numpy as np


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks of one shape; 1.0 when both are empty."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def mask_iou(a: np.ndarray, b: np.ndarray, threshold: float = 0.5) -> float:
    """``iou`` of two sets of soft masks or mattes, each thresholded at ``threshold``."""
    return iou(np.asarray(a) > threshold, np.asarray(b) > threshold)
