"""Refinement of chained per-frame transforms by direct image alignment (OpenCV's ECC), against
frame 0 or a mosaic of the frames before: it removes the drift that chaining pairwise transforms
accumulates (``preprocess.transforms`` fits and chains them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from neural_atlases.preprocess.transforms import apply_transform, check_model, erode, to_3x3


@dataclass(frozen=True)
class RefineOptions:
    """Direct image alignment (ECC) that removes the drift of chained transforms."""

    iterations: int = 60
    """Most ECC iterations per frame."""

    epsilon: float = 1e-6
    """ECC stops when the correlation improves by less than this."""

    max_corner_shift_px: float = 3.0
    """A refined transform is kept only if it moves no corner of the layer's bounding box in
    frame t further than this from the chained transform; otherwise (or if ECC fails) the
    chained transform is kept."""

    reference: str = "mosaic"
    """Align frame t to ``"first"`` (frame 0 only) or to a ``"mosaic"`` of frames 0..t-1 warped
    to frame 0 (covers content that has left frame 0 and averages the noise)."""

    gauss_filter: int = 5
    """Size of the Gaussian blur ECC applies to both images and masks (odd; 1 = none)."""

    mask_erode_px: int = 3
    """Both masks are eroded by this many pixels so that the blur does not mix other layers'
    pixels (or the empty part of the reference) into the alignment."""

    max_canvas_factor: float = 3.0
    """The mosaic canvas is at most this many frames wide and high, around frame 0."""

    def __post_init__(self) -> None:
        if self.gauss_filter < 1 or self.gauss_filter % 2 == 0:
            raise ValueError(f"gauss_filter must be odd and positive, got {self.gauss_filter}")
        if self.reference not in ("first", "mosaic"):
            raise ValueError(f"reference must be 'first' or 'mosaic', got {self.reference!r}")


def _to_gray_float(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY).astype(np.float32)


def _corners(height: int, width: int) -> np.ndarray:
    """The four corner pixel centres of a frame, ``float64 [4, 2]``."""
    return np.array([[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1]], float)


def _canvas(
    transforms: np.ndarray, height: int, width: int, max_factor: float
) -> tuple[np.ndarray, tuple[int, int]]:
    """Offset ``[3, 3]`` (frame-0 pixels -> canvas pixels) and canvas size ``(w, h)``.

    The canvas covers every frame's corners mapped to frame 0, at most ``max_factor`` frames
    wide and high.
    """
    pts = np.concatenate([apply_transform(m, _corners(height, width)) for m in transforms])
    size = np.array([width, height], float)
    lo = np.maximum(np.floor(pts.min(0)), -(max_factor - 1) / 2 * size)
    hi = np.minimum(np.ceil(pts.max(0)), (max_factor + 1) / 2 * size)
    lo = np.minimum(lo, 0)
    hi = np.maximum(hi, [width - 1, height - 1])
    offset = np.array([[1.0, 0, -lo[0]], [0, 1.0, -lo[1]], [0, 0, 1.0]])
    return offset, (int(hi[0] - lo[0]) + 1, int(hi[1] - lo[1]) + 1)


def _box_corners(mask: np.ndarray) -> np.ndarray:
    """Corners ``[4, 2]`` of the bounding box of ``mask`` ``[H, W]`` (the frame's if empty)."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return _corners(*mask.shape)
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    return np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], float)


def _max_shift(a: np.ndarray, b: np.ndarray, points: np.ndarray) -> float:
    """Largest distance between ``points`` ``[N, 2]`` mapped by ``a`` and by ``b``."""
    return float(np.linalg.norm(apply_transform(a, points) - apply_transform(b, points), -1).max())


def _ecc(
    template: np.ndarray,
    template_mask: np.ndarray,
    reference: np.ndarray,
    reference_mask: np.ndarray,
    init: np.ndarray,
    motion: int,
    options: RefineOptions,
) -> np.ndarray | None:
    """ECC warp ``[3, 3]`` of template pixels to reference pixels, started at ``init``.

    template: ``float32 [h, w]``, reference: ``float32 [H, W]``, masks ``uint8`` of the same
    sizes. ``None`` when ECC fails (no convergence, too little overlap).
    """
    init = (init / init[2, 2]).astype(np.float32)
    warp = init if motion == cv2.MOTION_HOMOGRAPHY else np.ascontiguousarray(init[:2])
    criteria = (
        cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS,
        options.iterations,
        options.epsilon,
    )
    try:
        _, warp = cv2.findTransformECCWithMask(
            template,
            reference,
            template_mask,
            reference_mask,
            warp,
            motion,
            criteria,
            options.gauss_filter,
        )
    except cv2.error:
        return None  # the documented way findTransformECC reports that it did not converge
    return to_3x3(warp.astype(np.float64))


def refine_to_reference(
    frames: np.ndarray,
    transforms: np.ndarray,
    weight: np.ndarray,
    model: str = "homography",
    options: RefineOptions = RefineOptions(),
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Remove the drift of chained transforms by aligning each frame to frame 0 directly.

    frames: ``uint8 [T, H, W, 3]``; transforms: ``[T, 3, 3]`` frame t -> frame 0 (e.g. from
    ``layer_transforms``); weight: ``[T, H, W]`` in [0, 1], the layer's pixels. For t = 1..T-1,
    ECC (``cv2.findTransformECCWithMask``, homography or affine motion; similarity is fitted as
    affine and projected back to a similarity) aligns frame t, masked by ``weight[t] > 0.5``, to
    the reference, starting from ``transforms[t]``. The reference is frame 0 or a mosaic in
    frame-0 pixels where each part keeps the earliest frame that showed it, masked by where the
    layer was seen. A frame keeps its transform where ECC fails, where the layer is absent, or
    where the result moves a corner of the layer's bounding box more than
    ``options.max_corner_shift_px``. Returns ``float64 [T, 3, 3]``.
    """
    check_model(model)
    t, h, w, _ = frames.shape
    if transforms.shape != (t, 3, 3) or weight.shape != (t, h, w):
        raise ValueError(f"need transforms [T, 3, 3] and weight [T, H, W] for frames {frames.shape}")
    out = np.array(transforms, dtype=np.float64, copy=True)
    if options.reference == "mosaic":
        offset, size = _canvas(out, h, w, options.max_canvas_factor)
    else:
        offset, size = np.eye(3), (w, h)
    reference = np.zeros((size[1], size[0]), np.float32)  # gray, canvas pixels
    coverage = np.zeros((size[1], size[0]), np.float32)  # in [0, 1]

    def add_to_reference(k: int) -> None:
        """Fill the part of the reference not covered yet with frame k (earlier frames win)."""
        m = offset @ out[k]
        wk = weight[k].astype(np.float32)
        premul = cv2.warpPerspective(_to_gray_float(frames[k]) * wk, m, size)  # gray * weight
        new = cv2.warpPerspective(wk, m, size) * (1.0 - coverage)
        total = coverage + new
        reference[:] = (reference * coverage + premul * (1.0 - coverage)) / np.maximum(total, 1e-6)
        coverage[:] = total

    add_to_reference(0)
    motion = cv2.MOTION_HOMOGRAPHY if model == "homography" else cv2.MOTION_AFFINE
    for k in range(1, t):
        layer = (weight[k] > 0.5).astype(np.uint8)
        template_mask = erode(layer, options.mask_erode_px)
        reference_mask = erode((coverage > 0.5).astype(np.uint8), options.mask_erode_px)
        warp = None
        if template_mask.any():
            warp = _ecc(
                _to_gray_float(frames[k]),
                template_mask,
                reference,
                reference_mask,
                offset @ out[k],
                motion,
                options,
            )
        if warp is not None:
            refined = np.linalg.solve(offset, warp)  # frame k -> frame 0
            if model == "similarity":
                refined = _nearest_similarity(refined)
            refined /= refined[2, 2]
            if _max_shift(refined, out[k], _box_corners(layer)) <= options.max_corner_shift_px:
                out[k] = refined
        if options.reference == "mosaic":
            add_to_reference(k)
        if progress is not None:
            progress(k, t - 1)
    return out


def _nearest_similarity(m: np.ndarray) -> np.ndarray:
    """The similarity closest to the affine ``m`` ``[3, 3]`` (same translation)."""
    a = (m[0, 0] + m[1, 1]) / 2
    b = (m[1, 0] - m[0, 1]) / 2
    return np.array([[a, -b, m[0, 2]], [b, a, m[1, 2]], [0.0, 0.0, 1.0]])
