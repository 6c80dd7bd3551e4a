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

MOTION_MODELS = ("homography", "affine", "similarity")


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


def check_model(model: str) -> None:
    """``ValueError`` unless ``model`` is one of ``MOTION_MODELS``."""
    if model not in MOTION_MODELS:
        raise ValueError(f"unknown transform model {model!r}; expected one of {MOTION_MODELS}")


def apply_transform(transform: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Points ``[..., 2]`` (x, y) through a ``[3, 3]`` transform -> ``[..., 2]`` (float64)."""
    xy = np.asarray(xy, dtype=np.float64)
    hom = xy @ transform[:, :2].T + transform[:, 2]  # [..., 3]
    return hom[..., :2] / hom[..., 2:3]


def to_3x3(m: np.ndarray) -> np.ndarray:
    """``[2, 3]`` or ``[3, 3]`` -> ``float64 [3, 3]`` normalised so that ``out[2, 2] = 1``."""
    out = np.eye(3)
    out[: m.shape[0]] = m
    return out / out[2, 2]


def _lstsq_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares affine ``[3, 3]`` with ``dst ~ A @ src``; src, dst ``[N, 2]``."""
    design = np.concatenate([src, np.ones((len(src), 1))], axis=1)  # [N, 3]
    sol, *_ = np.linalg.lstsq(design, dst, rcond=None)  # [3, 2]
    return to_3x3(sol.T)


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
    check_model(model)
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
        transform = to_3x3(refit if refit is not None else m)
    elif model == "affine":
        transform = _lstsq_affine(s_in, d_in)
    else:
        transform = _lstsq_similarity(s_in, d_in)
    return transform, inliers


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
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
        inner = erode(mask, radius)
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
    check_model(model)
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
