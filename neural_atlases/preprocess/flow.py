"""Dense optical flow between frames (OpenCV DIS) and forward/backward consistency.

Convention (see ``neural_atlases.conventions``): ``flow[t, y, x] = (dx, dy)`` in pixels; pixel
``(x, y)`` of the source frame moves to ``(x + dx, y + dy)`` in the target frame. Channel 0 is x.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from neural_atlases.errors import UserError

_DIS_PRESETS = {
    "ultrafast": cv2.DISOpticalFlow_PRESET_ULTRAFAST,
    "fast": cv2.DISOpticalFlow_PRESET_FAST,
    "medium": cv2.DISOpticalFlow_PRESET_MEDIUM,
}


@dataclass(frozen=True)
class FlowOptions:
    """How optical flow is computed and checked."""

    preset: str = "medium"
    """DIS preset: ``ultrafast``, ``fast`` or ``medium`` (about 28 ms per 768 x 432 pair)."""

    finest_scale: int | None = 0
    """Finest pyramid level DIS computes flow at: 0 is full resolution (about 2.5x the time of
    the presets' own choice, 1 = half resolution, and 3-10x less error near motion boundaries
    and on small moving objects); ``None`` keeps the preset's."""

    consistency_px: float = 1.0
    """A flow vector is trusted where following it forward then backward returns within this
    many pixels of the start (``consistency_mask``'s ``threshold_px``; not used by
    ``compute_flows`` itself)."""

    def __post_init__(self) -> None:
        if self.preset not in _DIS_PRESETS:
            raise UserError(f"unknown DIS preset {self.preset!r}; expected one of {', '.join(_DIS_PRESETS)}")
        if self.finest_scale is not None and self.finest_scale < 0:
            raise UserError(f"finest_scale must be >= 0 or None, got {self.finest_scale}")
        if not self.consistency_px > 0:
            raise UserError(f"consistency_px must be positive, got {self.consistency_px}")


def _check_frames(frames: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``frames`` is ``uint8 [T, H, W, 3]``."""
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 [T, H, W, 3], got {frames.dtype} {frames.shape}")


def _gray(frame: np.ndarray) -> np.ndarray:
    """RGB ``uint8 [H, W, 3]`` -> contiguous grayscale ``uint8 [H, W]`` (what DIS needs)."""
    return np.ascontiguousarray(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY))


def _dis(options: FlowOptions) -> cv2.DISOpticalFlow:
    dis = cv2.DISOpticalFlow.create(_DIS_PRESETS[options.preset])
    if options.finest_scale is not None:
        dis.setFinestScale(options.finest_scale)
    return dis


def dis_flow(frame_a: np.ndarray, frame_b: np.ndarray, options: FlowOptions = FlowOptions()) -> np.ndarray:
    """Flow from ``frame_a`` to ``frame_b``, both RGB ``uint8 [H, W, 3]`` -> ``float32 [H, W, 2]``.

    ``out[y, x] = (dx, dy)``: pixel ``(x, y)`` of ``frame_a`` is at ``(x + dx, y + dy)`` in
    ``frame_b``.
    """
    _check_frames(np.stack([frame_a, frame_b]))
    # None: no initial flow, which OpenCV takes and its stub does not say
    flow = _dis(options).calc(_gray(frame_a), _gray(frame_b), None)  # type: ignore[call-overload]
    return np.asarray(flow, dtype=np.float32)


def compute_flows(
    frames: np.ndarray,
    gap: int,
    options: FlowOptions = FlowOptions(),
    progress: Callable[[int, int], None] | None = None,
    pair_flow: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Forward and backward flow between frames ``gap`` apart.

    frames: ``uint8 [T, H, W, 3]`` RGB.
    Returns ``(forward, backward)``, each ``float32 [T - gap, H, W, 2]``: ``forward[i]`` is the
    flow of frame ``i`` to frame ``i + gap``; ``backward[i]`` the flow of frame ``i + gap`` back to
    frame ``i``. ``progress(done, total)`` is called after each pair. ``pair_flow(a, b)`` (frames
    ``[N, H, W, 3]`` x 2 -> flows ``[N, H, W, 2]``, see ``preprocess.backends``) computes the flow
    instead of DIS with ``options``; it gets both directions of a pair in one batch.
    """
    _check_frames(frames)
    t, h, w, _ = frames.shape
    if not 1 <= gap < t:
        raise ValueError(f"gap must be in [1, {t - 1}] for {t} frames, got {gap}")
    n = t - gap
    forward = np.empty((n, h, w, 2), np.float32)
    backward = np.empty((n, h, w, 2), np.float32)
    if pair_flow is None:
        grays = [_gray(f) for f in frames]
        dis = _dis(options)
    for i in range(n):
        if pair_flow is None:
            # None: no initial flow, which OpenCV takes and its stub does not say
            forward[i] = dis.calc(grays[i], grays[i + gap], None)  # type: ignore[call-overload]
            backward[i] = dis.calc(grays[i + gap], grays[i], None)  # type: ignore[call-overload]
        else:
            pair = frames[[i, i + gap]]  # [2, H, W, 3]
            forward[i], backward[i] = pair_flow(pair, pair[::-1])
        if progress is not None:
            progress(i + 1, n)
    return forward, backward


def pixel_grid(height: int, width: int) -> np.ndarray:
    """Pixel centre coordinates ``float32 [H, W, 2]``, ``out[y, x] = (x, y)``."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([xs, ys], axis=-1)


def sample_bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinearly sample ``image`` ``[H, W]`` or ``[H, W, C]`` at pixel coordinates ``x``, ``y``.

    ``x`` and ``y`` have any shape ``[...]``; the result is ``float32 [...]`` or ``[..., C]``.
    Coordinates outside the image are clamped to its border (edge values are repeated).
    """
    h, w = image.shape[:2]
    img = image.astype(np.float32, copy=False)
    x = np.clip(np.asarray(x, np.float32), 0.0, w - 1.0)
    y = np.clip(np.asarray(y, np.float32), 0.0, h - 1.0)
    x0 = np.minimum(np.floor(x).astype(np.intp), max(w - 2, 0))
    y0 = np.minimum(np.floor(y).astype(np.intp), max(h - 2, 0))
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    fx = x - x0
    fy = y - y0
    if img.ndim == 3:
        fx = fx[..., None]
        fy = fy[..., None]
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32, copy=False)


def warp_by_flow(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward warp: ``out[y, x] = image`` sampled at ``(x + dx, y + dy)``.

    image: ``[H, W]`` or ``[H, W, C]``; flow: ``[H, W, 2]`` (dx, dy). With ``flow`` the forward
    flow of frame a to frame b and ``image`` frame b, the result is frame b pulled back onto
    frame a. Returns ``float32`` of ``image``'s shape; samples outside are clamped to the border.
    """
    if flow.shape[:2] != image.shape[:2] or flow.shape[-1] != 2:
        raise ValueError(f"flow {flow.shape} does not match image {image.shape}")
    land = pixel_grid(*flow.shape[:2]) + flow  # [H, W, 2]
    return sample_bilinear(image, land[..., 0], land[..., 1])


def consistency_mask(forward: np.ndarray, backward: np.ndarray, threshold_px: float = 1.0) -> np.ndarray:
    """Where the forward flow is confirmed by the backward flow.

    forward: ``[N, H, W, 2]`` flow of frame a_i to frame b_i; backward: ``[N, H, W, 2]`` flow of
    b_i back to a_i (also accepts single fields ``[H, W, 2]``). Returns ``bool [N, H, W]`` (or
    ``[H, W]``) on the pixels of a_i: True where the landing point ``p + forward(p)`` lies inside
    the frame and ``forward(p) + backward(landing point)`` (bilinearly sampled) is shorter than
    ``threshold_px``. Pass them swapped to get the mask of the backward field.
    """
    if forward.shape != backward.shape or forward.shape[-1] != 2:
        raise ValueError(f"forward {forward.shape} and backward {backward.shape} must match")
    if forward.ndim == 3:
        return consistency_mask(forward[None], backward[None], threshold_px)[0]
    n, h, w, _ = forward.shape
    grid = pixel_grid(h, w)
    out = np.empty((n, h, w), dtype=bool)
    for i in range(n):
        land = grid + forward[i]  # [H, W, 2]
        back = sample_bilinear(backward[i], land[..., 0], land[..., 1])  # [H, W, 2]
        err = np.linalg.norm(forward[i] + back, axis=-1)
        inside = (land[..., 0] >= 0) & (land[..., 0] <= w - 1) & (land[..., 1] >= 0) & (land[..., 1] <= h - 1)
        out[i] = inside & (err < threshold_px)
    return out
