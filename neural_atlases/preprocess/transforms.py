"""Per-frame global transforms of a layer, fitted to the flow and chained to frame 0.

They initialise the mapping of each layer into its atlas: ``out[t]`` maps a pixel of frame ``t``
to where the same point of the layer was in frame 0 (pixel coordinates, see
``neural_atlases.conventions``). All transforms are ``float64 [3, 3]`` acting on homogeneous
``(x, y, 1)`` column vectors; affine and similarity models have a last row ``(0, 0, 1)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from neural_atlases.preprocess.flow import pixel_grid

MODELS = ("homography", "affine", "similarity")


@dataclass(frozen=True)
class TransformFitOptions:
    """How a global transform is fitted to flow correspondences."""

    ransac_px: float = 1.0
    """RANSAC inlier threshold: reprojection error in pixels."""

    max_points: int = 6000
    """At most this many correspondences per direction are used, spread evenly over the valid
    pixels (more points average the flow noise better but fit slower)."""

    min_points: int = 24
    """Fewer valid correspondences than this and no transform is fitted (``None``)."""

    border_px: int = 8
    """Pixels this close to the frame border, or landing this close to it, are not used: DIS
    underestimates motion near the border (on a zooming plane, 2 px of border gave 3x the
    chained drift of 8 px)."""

    ransac_iterations: int = 2000
    """Most RANSAC iterations."""

    erode_px: int = 6
    """``layer_transforms`` fits only pixels at least this far inside the layer's weight: DIS
    drags the flow a few pixels across a motion boundary, which biases the fit of a moving
    object (on a 60 px disc, 1 px of erosion gave 0.5 px of drift over 10 frames, 7 px 0.06).
    Halved until at least ``10 * min_points`` pixels remain."""

    def __post_init__(self) -> None:
        if self.min_points < 4 or self.max_points < self.min_points:
            raise ValueError("need 4 <= min_points <= max_points")


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


def _check_model(model: str) -> None:
    if model not in MODELS:
        raise ValueError(f"unknown transform model {model!r}; expected one of {MODELS}")


def apply_transform(transform: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Points ``[..., 2]`` (x, y) through a ``[3, 3]`` transform -> ``[..., 2]`` (float64)."""
    xy = np.asarray(xy, dtype=np.float64)
    hom = xy @ transform[:, :2].T + transform[:, 2]  # [..., 3]
    return hom[..., :2] / hom[..., 2:3]


def _to_3x3(m: np.ndarray) -> np.ndarray:
    """``[2, 3]`` or ``[3, 3]`` -> ``float64 [3, 3]`` normalised so that ``out[2, 2] = 1``."""
    out = np.eye(3)
    out[: m.shape[0]] = m
    return out / out[2, 2]


def _lstsq_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares affine ``[3, 3]`` with ``dst ~ A @ src``; src, dst ``[N, 2]``."""
    design = np.concatenate([src, np.ones((len(src), 1))], axis=1)  # [N, 3]
    sol, *_ = np.linalg.lstsq(design, dst, rcond=None)  # [3, 2]
    return _to_3x3(sol.T)


def _lstsq_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity ``[[a, -b, tx], [b, a, ty]]`` with ``dst ~ S @ src``."""
    x, y = src[:, 0], src[:, 1]
    one, zero = np.ones_like(x), np.zeros_like(x)
    rows_x = np.stack([x, -y, one, zero], axis=1)  # [N, 4] unknowns (a, b, tx, ty)
    rows_y = np.stack([y, x, zero, one], axis=1)
    design = np.concatenate([rows_x, rows_y])  # [2N, 4]
    target = np.concatenate([dst[:, 0], dst[:, 1]])
    (a, b, tx, ty), *_ = np.linalg.lstsq(design, target, rcond=None)
    return np.array([[a, -b, tx], [b, a, ty], [0.0, 0.0, 1.0]])


def fit_points_transform(
    src: np.ndarray,
    dst: np.ndarray,
    model: str = "homography",
    options: TransformFitOptions = TransformFitOptions(),
) -> tuple[np.ndarray, np.ndarray] | None:
    """Robust fit of ``dst ~ T(src)`` for point pairs ``src, dst`` ``[N, 2]`` pixels.

    RANSAC (``cv2.findHomography`` / ``estimateAffine2D`` / ``estimateAffinePartial2D``), then a
    least-squares refit on the inliers. Returns ``(T [3, 3] float64, inliers bool [N])`` or
    ``None`` when there are fewer than ``options.min_points`` pairs or RANSAC fails.
    """
    _check_model(model)
    if len(src) < options.min_points:
        return None
    s32 = np.ascontiguousarray(src, dtype=np.float32)
    d32 = np.ascontiguousarray(dst, dtype=np.float32)
    if model == "homography":
        m, inl = cv2.findHomography(
            s32,
            d32,
            cv2.RANSAC,
            options.ransac_px,
            maxIters=options.ransac_iterations,
            confidence=0.999,
        )
    else:
        estimate = cv2.estimateAffine2D if model == "affine" else cv2.estimateAffinePartial2D
        m, inl = estimate(
            s32,
            d32,
            method=cv2.RANSAC,
            ransacReprojThreshold=options.ransac_px,
            maxIters=options.ransac_iterations,
            confidence=0.999,
            refineIters=0,
        )
    if m is None or inl is None:
        return None
    inliers = inl.ravel().astype(bool)
    if inliers.sum() < options.min_points:
        return None
    s_in, d_in = src[inliers].astype(np.float64), dst[inliers].astype(np.float64)
    if model == "homography":
        refit, _ = cv2.findHomography(s_in, d_in, 0)  # least squares + Levenberg-Marquardt
        transform = _to_3x3(refit if refit is not None else m)
    elif model == "affine":
        transform = _lstsq_affine(s_in, d_in)
    else:
        transform = _lstsq_similarity(s_in, d_in)
    return transform, inliers


def _erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary erosion of ``uint8 [H, W]`` by a disc of ``radius`` pixels (0: unchanged)."""
    if radius <= 0:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.erode(mask, kernel)


def layer_interior(weight: np.ndarray, radius: int, min_pixels: int) -> np.ndarray:
    """Pixels of ``weight > 0.5`` (``[H, W]``) at least ``radius`` pixels inside, ``bool [H, W]``.

    The radius is halved until ``min_pixels`` remain (down to 0: the plain thresholded weight).
    The frame border does not count as an edge.
    """
    mask = (weight > 0.5).astype(np.uint8)
    while radius > 0:
        inner = _erode(mask, radius)
        if int(inner.sum()) >= min_pixels:
            return inner.astype(bool)
        radius //= 2
    return mask.astype(bool)


def flow_correspondences(
    flow: np.ndarray, weight: np.ndarray, options: TransformFitOptions = TransformFitOptions()
) -> tuple[np.ndarray, np.ndarray]:
    """Point pairs ``(p, p + flow(p))`` where ``weight > 0.5``, away from the border.

    flow: ``[H, W, 2]``; weight: ``[H, W]``. Returns ``src, dst`` ``float32 [N, 2]`` with
    ``N <= options.max_points``, spread evenly over the valid pixels (deterministic).
    """
    h, w = weight.shape
    grid = pixel_grid(h, w)
    land = grid + flow  # [H, W, 2]
    b = options.border_px
    valid = weight > 0.5
    valid &= (land[..., 0] >= b) & (land[..., 0] <= w - 1 - b)
    valid &= (land[..., 1] >= b) & (land[..., 1] <= h - 1 - b)
    if b > 0:
        valid[:b] = valid[-b:] = False
        valid[:, :b] = valid[:, -b:] = False
    ys, xs = np.nonzero(valid)
    if len(ys) > options.max_points:
        keep = np.linspace(0, len(ys) - 1, options.max_points).round().astype(np.intp)
        ys, xs = ys[keep], xs[keep]
    return grid[ys, xs], land[ys, xs]


def fit_pair_transform(
    flow: np.ndarray,
    weight: np.ndarray,
    model: str = "homography",
    options: TransformFitOptions = TransformFitOptions(),
) -> np.ndarray | None:
    """Global transform ``[3, 3]`` (float64) of frame t pixels to frame t+gap pixels.

    flow: ``[H, W, 2]`` forward flow t -> t+gap; weight: ``[H, W]`` in [0, 1], the pixels to
    fit (e.g. consistent background). ``model``: ``homography``, ``affine`` or ``similarity``.
    RANSAC then least squares on the inliers; ``None`` if too few points.
    """
    src, dst = flow_correspondences(flow, weight, options)
    fit = fit_points_transform(src, dst, model, options)
    return None if fit is None else fit[0]


def chain_to_first(pair_transforms: list[np.ndarray | None]) -> np.ndarray:
    """Chain consecutive transforms into transforms to frame 0.

    ``pair_transforms[i]`` maps frame i pixels to frame i+1 pixels (``None`` = identity).
    Returns ``float64 [T, 3, 3]`` with ``T = len(pair_transforms) + 1``: ``out[t]`` maps frame t
    pixels to frame 0 pixels, ``out[0]`` is the identity, ``out[t] = out[t-1] @ inv(pair[t-1])``.
    """
    out = np.tile(np.eye(3), (len(pair_transforms) + 1, 1, 1))
    for i, pair in enumerate(pair_transforms):
        step = np.eye(3) if pair is None else np.linalg.inv(pair)
        out[i + 1] = out[i] @ step
        out[i + 1] /= out[i + 1, 2, 2]
    return out


def layer_transforms(
    frames: np.ndarray,
    forward_flow: np.ndarray,
    backward_flow: np.ndarray,
    consistent_fw: np.ndarray,
    consistent_bw: np.ndarray,
    weight: np.ndarray,
    model: str = "homography",
    options: TransformFitOptions = TransformFitOptions(),
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Frame-t -> frame-0 transforms ``float64 [T, 3, 3]`` of one layer.

    frames: ``uint8 [T, H, W, 3]`` (only its length is used); forward_flow, backward_flow:
    ``[T-1, H, W, 2]`` consecutive flows (``compute_flows(frames, 1)``); consistent_fw,
    consistent_bw: ``bool [T-1, H, W]`` their consistency masks (on frames i and i+1); weight:
    ``[T, H, W]`` in [0, 1], which pixels belong to the layer (background: ``1 - mask``;
    foreground: the mask); only pixels ``options.erode_px`` inside it are used. Each pair
    i -> i+1 is fitted once on the union of the forward correspondences ``(p, p + fw(p))`` of
    frame i and the backward correspondences ``(q + bw(q), q)`` of frame i+1, then the pairs
    are chained. A pair with too few points counts as the identity.
    """
    _check_model(model)
    t = frames.shape[0]
    if forward_flow.shape[0] != t - 1 or backward_flow.shape != forward_flow.shape:
        raise ValueError(
            f"need consecutive flows [T-1, H, W, 2] for T={t}, got {forward_flow.shape} and "
            f"{backward_flow.shape}"
        )
    if weight.shape != (t, *forward_flow.shape[1:3]):
        raise ValueError(f"weight must be [T, H, W], got {weight.shape}")
    min_pixels = 10 * options.min_points
    interiors = [layer_interior(w, options.erode_px, min_pixels) for w in weight]  # bool [H, W]
    pairs: list[np.ndarray | None] = []
    for i in range(t - 1):
        w_fw = interiors[i] & consistent_fw[i]
        w_bw = interiors[i + 1] & consistent_bw[i]
        src_f, dst_f = flow_correspondences(forward_flow[i], w_fw, options)
        src_b, dst_b = flow_correspondences(backward_flow[i], w_bw, options)
        fit = fit_points_transform(
            np.concatenate([src_f, dst_b]), np.concatenate([dst_f, src_b]), model, options
        )
        pairs.append(None if fit is None else fit[0])
        if progress is not None:
            progress(i + 1, t - 1)
    return chain_to_first(pairs)


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
    return _to_3x3(warp.astype(np.float64))


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
    _check_model(model)
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
        template_mask = _erode(layer, options.mask_erode_px)
        reference_mask = _erode((coverage > 0.5).astype(np.uint8), options.mask_erode_px)
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
