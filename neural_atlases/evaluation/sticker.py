"""The sticker test: does an edit painted on a foreground atlas stick to the subject?

A smooth colour pattern is painted over the whole of every foreground atlas and rendered onto the
clip. If the mappings follow the content, the pattern moves with the video; the flow-warping error
of Lai et al. ("Learning Blind Video Temporal Consistency", ECCV 2018) measures how well: each
rendered frame ``t + 1`` is carried back onto frame ``t`` along the ORIGINAL clip's optical flow
(forward-backward checked), and the two are compared over the pixels the edit changed. A pattern
that slides over the subject, or sits on the wrong layer, scores low.
"""

from __future__ import annotations

import math

import numpy as np

from neural_atlases.preprocess.flow import consistency_mask, warp_by_flow

STICKER_PERIOD_PX = 24.0
"""Period of the sticker pattern in frame pixels at the layer's nominal scale."""

CHANGED_TOLERANCE = 8
"""A rendered pixel counts as changed by the edit where it differs from the input by more than this
(8-bit units, any channel)."""


def sticker_pattern(height: int, width: int, period_texels: float) -> np.ndarray:
    """A smooth, opaque colour pattern ``uint8 [height, width, 4]``: three phase-shifted waves
    of period ``period_texels``, one per channel, so that every texel differs from its
    neighbours a little and from texels a period away a lot."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    k = 2.0 * math.pi / period_texels
    channels = [
        np.sin(k * xs) * np.cos(k * ys * 0.8),
        np.sin(k * (xs * 0.6 + ys * 0.8) + 2.0),
        np.cos(k * (xs * 0.8 - ys * 0.6) + 4.0),
    ]
    rgb = np.stack([0.5 + 0.4 * c for c in channels], -1)
    out = np.empty((height, width, 4), np.uint8)
    out[..., :3] = (rgb * 255.0 + 0.5).astype(np.uint8)
    out[..., 3] = 255
    return out


def changed_pixels(
    rendered: np.ndarray, frames: np.ndarray, tolerance: int = CHANGED_TOLERANCE
) -> np.ndarray:
    """``bool [T, H, W]``: where the render ``uint8 [T, H, W, 3]`` differs from the input."""
    diff = np.abs(rendered.astype(np.int16) - frames.astype(np.int16)).max(-1)
    return diff > tolerance


def warp_errors(
    rendered: np.ndarray, forward: np.ndarray, backward: np.ndarray, changed: np.ndarray
) -> tuple[float, int]:
    """Summed squared error and pixel count of the flow-warping test.

    rendered: ``uint8 [T, H, W, 3]``; forward / backward: ``float32 [T - 1, H, W, 2]``, the input
    clip's flow of frame t to t + 1 and back; changed: ``bool [T, H, W]``. Frame ``t + 1`` is
    pulled back onto frame ``t`` along the forward flow and compared where the flow is
    forward-backward consistent and the edit changed frame ``t``. Errors are summed over the
    colour channels' mean (8-bit units squared).
    """
    total, count = 0.0, 0
    for t in range(rendered.shape[0] - 1):
        valid = consistency_mask(forward[t], backward[t]) & changed[t]
        if not valid.any():
            continue
        pulled = warp_by_flow(rendered[t + 1], forward[t])  # [H, W, 3] float32
        err = ((pulled - rendered[t].astype(np.float32)) ** 2).mean(-1)
        total += float(err[valid].sum())
        count += int(valid.sum())
    return total, count


def warp_psnr(rendered: np.ndarray, forward: np.ndarray, backward: np.ndarray, changed: np.ndarray) -> float:
    """PSNR in dB of the flow-warping test (``warp_errors``); NaN where nothing was compared."""
    total, count = warp_errors(rendered, forward, backward, changed)
    if count == 0:
        return float("nan")
    return 10.0 * math.log10(255.0**2 / max(total / count, 1e-10))
