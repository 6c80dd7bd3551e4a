"""What a user sees in an atlas and a clean plate, measured without ground truth.

- ``checker_ratio``: the texel-level weave of an atlas. The mean absolute response to the 2x2
  kernel ``[[1, -1], [-1, 1]] / 4`` over the part of the atlas the video uses, divided by the same
  over the input frames (at least one grey level). A frame scores 1.0, a frame scaled up 1.5x
  bilinearly about 0.35; an atlas whose free texels alternate light and dark scores several.
- ``fill_measures``: how a removed layer's region looks in ``render -r``. Where the render differs
  from the frame (eroded 2 px): the mean absolute Laplacian there, divided by the same over the
  frame's untouched part (at least 2 grey levels), and the share of its pixels more saturated than
  the 99th percentile of the untouched part. OpenCV's Telea inpainting of a frame scores about
  0.2 and 0%; noise scores several and tens of percent.
- ``subject_kept``: how much of a removed subject stays. The share of the subject's pixels (its
  masks above one half, eroded 2 px) that ``render -r`` leaves within ``KEPT_LEVELS`` of the frame:
  a subject that went into the background atlas comes back there. Not zero even for a perfect
  removal, where what is behind the subject happens to look like it.

>>> import numpy as np
>>> flat = np.full((8, 8, 3), 100, np.uint8)
>>> weave = flat.copy(); weave[::2, ::2] += 20; weave[1::2, 1::2] += 20
>>> checker_response(flat, np.ones((8, 8), bool)), checker_response(weave, np.ones((8, 8), bool))
(0.0, 10.0)
"""

from __future__ import annotations

import cv2
import numpy as np

CHANGED_LEVELS = 3
"""A render's pixel differs from the frame where a channel differs by more than this."""

KEPT_LEVELS = 12
"""A removed subject's pixel is kept where no channel of the render differs from the frame by more."""


def checker_response(image: np.ndarray, mask: np.ndarray) -> float:
    """Mean |``[[1, -1], [-1, 1]] / 4``| response (grey levels, averaged over channels) of an image
    ``[H, W, C]`` over the 2x2 windows whose four pixels are all in ``mask`` ``[H, W]``; 0.0 when
    there is none."""
    x = image.astype(np.float64)
    response = np.abs(x[:-1, :-1] - x[:-1, 1:] - x[1:, :-1] + x[1:, 1:]).mean(-1) / 4.0  # [H-1, W-1]
    inside = mask[:-1, :-1] & mask[:-1, 1:] & mask[1:, :-1] & mask[1:, 1:]
    return float(response[inside].mean()) if inside.any() else 0.0


def checker_ratio(atlas: np.ndarray, frames: np.ndarray) -> float:
    """``checker_response`` of an RGBA atlas ``[S_h, S_w, 4]`` over its used texels (alpha > 0),
    divided by the frames' own ``[T, H, W, 3]`` (at least one grey level)."""
    every = np.ones(frames.shape[1:3], bool)
    reference = float(np.mean([checker_response(f, every) for f in frames]))
    return checker_response(atlas[..., :3], atlas[..., 3] > 0) / max(reference, 1.0)


def _erode(mask: np.ndarray, px: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.erode(mask.astype(np.uint8), kernel).astype(bool)


def _laplacian(image: np.ndarray) -> np.ndarray:
    """|Laplacian| per pixel ``[H, W]`` (grey levels, averaged over channels)."""
    return np.abs(cv2.Laplacian(image.astype(np.float32), cv2.CV_32F, ksize=1)).mean(-1)


def _saturation(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2HSV)[..., 1].astype(np.float32)


def fill_measures(renders: np.ndarray, frames: np.ndarray, erode_px: int = 2) -> tuple[float, float]:
    """``(roughness, saturated share)`` of the regions where ``renders`` ``[T, H, W, 3]`` (a layer
    removed) differ from ``frames``; ``(nan, nan)`` where no pixel differs."""
    rough, calm, saturated, total = [], [], 0, 0
    for render, frame in zip(renders, frames, strict=True):
        changed = (np.abs(render.astype(np.int16) - frame.astype(np.int16)) > CHANGED_LEVELS).any(-1)
        region = _erode(changed, erode_px)
        untouched = ~changed
        if not region.any() or not untouched.any():
            continue
        rough.append(_laplacian(render)[region])
        calm.append(_laplacian(frame)[untouched])
        limit = np.percentile(_saturation(frame)[untouched], 99)
        saturated += int((_saturation(render)[region] > limit).sum())
        total += int(region.sum())
    if not rough:
        return float("nan"), float("nan")
    reference = max(float(np.concatenate(calm).mean()), 2.0)
    return float(np.concatenate(rough).mean()) / reference, saturated / total


def subject_kept(renders: np.ndarray, frames: np.ndarray, masks: np.ndarray, erode_px: int = 2) -> float:
    """Share of the subject's pixels (``masks`` ``[T, H, W]`` in [0, 1], above one half, eroded)
    where ``renders`` ``[T, H, W, 3]`` (the subject removed) stay within ``KEPT_LEVELS`` of
    ``frames``; nan where the masks hold no pixel."""
    kept, total = 0, 0
    for render, frame, mask in zip(renders, frames, masks, strict=True):
        region = _erode(mask > 0.5, erode_px)
        close = (np.abs(render.astype(np.int16) - frame.astype(np.int16)) <= KEPT_LEVELS).all(-1)
        kept += int((close & region).sum())
        total += int(region.sum())
    return kept / total if total else float("nan")
