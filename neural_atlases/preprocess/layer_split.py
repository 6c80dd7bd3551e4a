"""Several foreground layers: the foreground mask split among them, by motion and scribbles.

The masks say where *some* foreground is; each foreground layer needs its own pixels to place its
atlas and fit its per-frame transforms. The split works from seeds, pixels known to belong to a
layer on a few frames (the user's scribbles, or ``motion_seeds`` when there are none):

1. ``track_seeds``: each seed pixel is carried along the consecutive flow, forward and backward,
   through every frame, while the flow is consistent and the point stays in the foreground;
2. ``split_foreground``: on each frame, each layer's motion to the next and previous frame is
   fitted to its tracked seeds (a similarity, robust); each foreground pixel goes to the layer
   whose motion best explains its own flow (costs smoothed over a few pixels), then each layer's
   motion is refitted as an affine transform on its pixels and the pixels are assigned again.
   Scribbled pixels keep their scribble; pixels without a usable flow take the nearest label.

Layer indices here are foreground layers ``0..L-1``; scribble labels follow ``io.scribbles``
(-1 none, 0 background, ``k + 1`` foreground ``k``).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from neural_atlases.preprocess.flow import pixel_grid
from neural_atlases.preprocess.transforms import (
    TransformFitOptions,
    apply_transform,
    fit_points_transform,
    layer_interior,
)

NONE = -1
"""No layer (seeds, labels)."""

_SEED_FIT = TransformFitOptions(ransac_px=1.0, min_points=8, max_points=3000, border_px=0)
"""Fit of a layer's motion to its seeds: few points, thin strokes (a similarity is well posed)."""

_REGION_FIT = TransformFitOptions(ransac_px=1.0, min_points=24, max_points=4000, border_px=2)
"""Refit of a layer's motion to the pixels it was given."""


def track_seeds(
    seeds: np.ndarray,  # [T, H, W] int, foreground layer or NONE
    forward: np.ndarray,  # [T - 1, H, W, 2] flow t -> t + 1
    backward: np.ndarray,  # [T - 1, H, W, 2] flow t + 1 -> t
    forward_valid: np.ndarray,  # [T - 1, H, W] bool
    backward_valid: np.ndarray,  # [T - 1, H, W] bool
    masks: np.ndarray,  # [T, H, W] in [0, 1]
) -> np.ndarray:
    """Seeds carried along the flow to every frame: ``[T, H, W]`` int16, the layer or ``NONE``.

    From each frame with seeds, each seed pixel is moved frame by frame (forward, then backward)
    by the flow at its nearest pixel; a point stops where the flow there is inconsistent (it is
    about to be hidden) or where it lands outside the foreground. A pixel reached by two layers
    is dropped. The given seeds are kept as they are.
    """
    num_frames, height, width = masks.shape
    votes = np.zeros((num_frames, int(max(seeds.max(), 0)) + 1, height, width), bool)
    for s in np.nonzero((seeds >= 0).reshape(num_frames, -1).any(1))[0]:
        ys, xs = np.nonzero(seeds[s] >= 0)
        layer = seeds[s][ys, xs].astype(np.intp)
        for flows, valid, step in ((forward, forward_valid, 1), (backward, backward_valid, -1)):
            p = np.stack([xs, ys], -1).astype(np.float32)  # [N, 2]
            k = layer
            t = s
            while len(p) and 0 <= t + step < num_frames:
                pair = t if step > 0 else t - 1  # flows[pair] starts on frame t
                xi, yi = np.rint(p[:, 0]).astype(np.intp), np.rint(p[:, 1]).astype(np.intp)
                keep = valid[pair][yi, xi]
                p = p[keep] + flows[pair][yi[keep], xi[keep]]
                k = k[keep]
                t += step
                xi, yi = np.rint(p[:, 0]).astype(np.intp), np.rint(p[:, 1]).astype(np.intp)
                inside = (xi >= 0) & (xi < width) & (yi >= 0) & (yi < height)
                p, k, xi, yi = p[inside], k[inside], xi[inside], yi[inside]
                fg = masks[t][yi, xi] > 0.5
                p, k = p[fg], k[fg]
                votes[t][k, yi[fg], xi[fg]] = True
    out = np.where(votes.sum(1) == 1, votes.argmax(1), NONE).astype(np.int16)
    given = seeds >= 0
    out[given] = seeds[given]
    return out


def _motion_cost(
    model: np.ndarray | None, flow: np.ndarray, valid: np.ndarray, grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Squared distance ``[H, W]`` between where a pixel's flow takes it and where ``model`` does,
    and where it counts ``[H, W]`` float32 (0 where the flow is inconsistent or no model)."""
    if model is None:
        return np.zeros(valid.shape, np.float32), np.zeros(valid.shape, np.float32)
    moved = apply_transform(model, grid.reshape(-1, 2)).reshape(grid.shape)
    error = np.square(grid + flow - moved).sum(-1).astype(np.float32)
    return error, valid.astype(np.float32)


def _fit(points: np.ndarray, flow: np.ndarray, model: str, options: TransformFitOptions) -> np.ndarray | None:
    """Motion ``[3, 3]`` of pixels ``points`` ``bool [H, W]`` under ``flow`` ``[H, W, 2]``."""
    ys, xs = np.nonzero(points)
    if len(ys) > options.max_points:
        keep = np.linspace(0, len(ys) - 1, options.max_points).round().astype(np.intp)
        ys, xs = ys[keep], xs[keep]
    src = np.stack([xs, ys], -1).astype(np.float64)
    fit = fit_points_transform(src, src + flow[ys, xs], model, options)
    return None if fit is None else fit[0]


def fill_nearest(labels: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Every pixel takes the label ``[H, W]`` of the nearest ``known`` ``[H, W]`` pixel (the labels
    unchanged if none is known)."""
    if not known.any() or known.all():
        return labels.copy()
    _, index = cv2.distanceTransformWithLabels(
        (~known).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    lookup = np.zeros(int(index.max()) + 1, labels.dtype)
    ys, xs = np.nonzero(known)
    lookup[index[ys, xs]] = labels[ys, xs]
    return lookup[index]


def assign_by_motion(
    flows: list[tuple[np.ndarray, np.ndarray]],  # per direction: flow [H, W, 2], valid [H, W]
    models: list[list[np.ndarray | None]],  # per direction, per layer: [3, 3] or None
    foreground: np.ndarray,  # [H, W] bool
    smooth_px: float = 2.0,
) -> np.ndarray:
    """Each foreground pixel's layer ``[H, W]`` int16 (``NONE`` elsewhere): the layer whose
    motions best explain its flows, costs averaged over the directions where the flow is
    consistent and smoothed by a Gaussian of ``smooth_px``; pixels with no usable flow nearby
    take the nearest assigned pixel's layer."""
    grid = pixel_grid(*foreground.shape)
    layers = len(models[0])
    costs = np.zeros((layers, *foreground.shape), np.float32)
    counted = np.zeros((layers, *foreground.shape), np.float32)
    for (flow, valid), per_layer in zip(flows, models, strict=True):
        for k, model in enumerate(per_layer):
            error, weight = _motion_cost(model, flow, valid & foreground, grid)
            costs[k] += np.minimum(error, 100.0) * weight
            counted[k] += weight
    blur = (0, 0)
    costs = np.stack([cv2.GaussianBlur(c, blur, smooth_px) for c in costs])
    counted = np.stack([cv2.GaussianBlur(c, blur, smooth_px) for c in counted])
    has = counted > 1e-3
    mean = np.where(has, costs / np.maximum(counted, 1e-6), np.inf)
    usable = has.any(0) & foreground
    labels = np.where(usable, mean.argmin(0), NONE).astype(np.int16)
    labels = fill_nearest(labels, usable)
    return np.where(foreground, labels, NONE).astype(np.int16)


def split_foreground(
    masks: np.ndarray,  # [T, H, W] in [0, 1]
    seeds: np.ndarray,  # [T, H, W] int, foreground layer or NONE (a few frames)
    forward: np.ndarray,  # [T - 1, H, W, 2]
    backward: np.ndarray,  # [T - 1, H, W, 2]
    forward_valid: np.ndarray,  # [T - 1, H, W] bool
    backward_valid: np.ndarray,  # [T - 1, H, W] bool
    layers: int,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Each foreground layer's weight ``[L, T, H, W]`` float32: the mask where the pixel is the
    layer's, 0 elsewhere (the weights sum to the mask). See the module docstring."""
    num_frames, height, width = masks.shape
    weights = np.zeros((layers, num_frames, height, width), np.float32)
    if layers == 1:
        weights[0] = masks
        return weights
    tracked = track_seeds(seeds, forward, backward, forward_valid, backward_valid, masks)
    for t in range(num_frames):
        foreground = masks[t] > 0.5
        directions = []
        if t + 1 < num_frames:
            directions.append((forward[t], forward_valid[t]))
        if t > 0:
            directions.append((backward[t - 1], backward_valid[t - 1]))
        labels = np.full((height, width), NONE, np.int16)
        if directions:
            models = [
                [_fit((tracked[t] == k) & valid, flow, "similarity", _SEED_FIT) for k in range(layers)]
                for flow, valid in directions
            ]
            labels = assign_by_motion(directions, models, foreground)
            interiors = [layer_interior((labels == k).astype(np.float32), 2, 64) for k in range(layers)]
            refit = [
                [
                    _fit(interiors[k] & valid, flow, "affine", _REGION_FIT) if interiors[k].any() else None
                    for k in range(layers)
                ]
                for flow, valid in directions
            ]
            refit = [
                [r if r is not None else m for r, m in zip(rs, ms, strict=True)]
                for rs, ms in zip(refit, models, strict=True)
            ]
            labels = assign_by_motion(directions, refit, foreground)
        given = seeds[t] >= 0
        labels[given & foreground] = seeds[t][given & foreground]
        for k in range(layers):
            weights[k, t] = np.where(labels == k, masks[t], 0.0)
        if progress is not None:
            progress(t + 1, num_frames)
    return weights


def motion_seeds(
    masks: np.ndarray,  # [T, H, W]
    forward: np.ndarray,  # [T - 1, H, W, 2]
    forward_valid: np.ndarray,  # [T - 1, H, W] bool
    layers: int,
) -> np.ndarray:
    """Seeds ``[T, H, W]`` int16 on frame 0 when there are no scribbles: the foreground's dominant
    affine motions, found one after another (RANSAC), each one's inliers (their largest connected
    piece) a layer, largest first.
    Which object becomes which layer is arbitrary, and may differ from what the user expects."""
    num_frames = masks.shape[0]
    seeds = np.full(masks.shape, NONE, np.int16)
    if num_frames < 2:
        return seeds
    remaining = layer_interior(masks[0], 3, 64) & forward_valid[0]
    ys, xs = np.nonzero(remaining)
    src = np.stack([xs, ys], -1).astype(np.float64)
    dst = src + forward[0][ys, xs]
    options = TransformFitOptions(ransac_px=0.5, min_points=16, max_points=len(src) + 16, border_px=0)
    free = np.ones(len(src), bool)
    for k in range(layers):
        fit = fit_points_transform(src[free], dst[free], "affine", options)
        if fit is None:
            break
        index = np.nonzero(free)[0][fit[1]]
        inliers = np.zeros(masks.shape[1:], np.uint8)
        inliers[ys[index], xs[index]] = 1
        count, parts = cv2.connectedComponents(inliers, connectivity=8)
        largest = 1 + int(np.argmax(np.bincount(parts.ravel(), minlength=count)[1:])) if count > 1 else 0
        index = index[parts[ys[index], xs[index]] == largest]  # one object: its largest piece
        seeds[0][ys[index], xs[index]] = k
        free[index] = False
    return seeds
