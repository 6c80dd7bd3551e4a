"""Dense alignment of each frame to frame 0, on top of a layer's global transforms.

A global transform per frame cannot follow an object that bends. Here every frame is warped into
frame 0 by its transform, and DIS flow between the warped frame and frame 0 gives what the
transform missed, pixel by pixel: a short flow (the transform already did the long part), so it
is accurate, and measured against frame 0 directly, so it does not drift along the clip.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from neural_atlases.preprocess.fill import push_pull_fill
from neural_atlases.preprocess.flow import FlowOptions, consistency_mask, dis_flow, sample_bilinear
from neural_atlases.preprocess.transforms import apply_transform, layer_interior

MAX_MEDIAN_CORRECTION_PX = 8.0
"""The global transforms are right to a pixel or two (ECC); a frame whose dense correction is
larger than this in the median matched a similar texture elsewhere (seen on stripes when two
sprites cross: a consistent 15 px shift), not the layer's own motion."""


def dense_corrections(
    frames: np.ndarray,  # [T, H, W, 3] uint8
    transforms: np.ndarray,  # [T, 3, 3] frame t pixels -> frame 0 pixels
    weight: np.ndarray,  # [T, H, W] which pixels belong to the layer
    options: FlowOptions | None = None,
    erode_px: int = 3,
    progress: Callable[[int, int], None] | None = None,
    max_median_px: float = MAX_MEDIAN_CORRECTION_PX,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel corrections of the transforms: ``(offsets, valid)``.

    ``offsets[t, y, x]`` ``[T, H, W, 2]`` is added to ``transforms[t]`` applied to pixel ``(x, y)``
    so that it lands on the frame-0 pixel showing the same point; ``valid`` ``[T, H, W]`` bool says
    where that was measured (inside the layer in both frames, flow consistent both ways). Frame 0
    gets zeros, valid inside the layer. A frame whose median correction exceeds ``max_median_px``
    keeps none (see ``MAX_MEDIAN_CORRECTION_PX``).
    """
    options = options or FlowOptions()
    num_frames, height, width = weight.shape
    offsets = np.zeros((num_frames, height, width, 2), np.float32)
    valid = np.zeros((num_frames, height, width), bool)
    inside = [layer_interior(w, erode_px, 64) for w in weight]
    valid[0] = inside[0]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    for t in range(1, num_frames):
        h = transforms[t]
        warped = cv2.warpPerspective(frames[t], h, (width, height), flags=cv2.INTER_LINEAR)
        to_first = dis_flow(warped, frames[0], options)  # warped pixel r -> frame-0 pixel r + g(r)
        from_first = dis_flow(frames[0], warped, options)
        ok = consistency_mask(to_first, from_first, options.consistency_px)
        # where each frame-t pixel lands in frame 0 by the transform
        r = apply_transform(h, np.stack([xs, ys], -1)).astype(np.float32)  # [H, W, 2]
        rx, ry = r[..., 0], r[..., 1]
        g = sample_bilinear(to_first, rx, ry)  # [H, W, 2]
        trusted = sample_bilinear(ok.astype(np.float32), rx, ry) > 0.99
        qx, qy = rx + g[..., 0], ry + g[..., 1]
        in_first = sample_bilinear(inside[0].astype(np.float32), qx, qy) > 0.99
        seen = (rx >= 0) & (rx <= width - 1) & (ry >= 0) & (ry <= height - 1)
        valid[t] = inside[t] & trusted & in_first & seen
        if valid[t].any() and np.median(np.linalg.norm(g[valid[t]], axis=-1)) > max_median_px:
            valid[t] = False  # the flow matched something else: keep the transform alone
        offsets[t] = np.where(valid[t][..., None], g, 0.0)
        if progress is not None:
            progress(t, num_frames - 1)
    return offsets, valid


def fit_grid(
    offsets: np.ndarray,  # [H, W, 2]
    valid: np.ndarray,  # [H, W] bool
    grid_hw: tuple[int, int],
) -> np.ndarray:
    """A smooth ``[h, w, 2]`` grid whose bilinear reading (corners aligned) approximates the valid
    offsets: each node averages the valid pixels around it (bilinear weights); nodes with none
    take the average of their neighbours, pulled in from coarser levels."""
    height, width = valid.shape
    gh, gw = grid_hw
    ys, xs = np.nonzero(valid)
    gx = xs * (gw - 1) / max(width - 1, 1)
    gy = ys * (gh - 1) / max(height - 1, 1)
    x0 = np.minimum(np.floor(gx).astype(int), max(gw - 2, 0))
    y0 = np.minimum(np.floor(gy).astype(int), max(gh - 2, 0))
    fx, fy = gx - x0, gy - y0
    num = np.zeros((gh * gw, 2))
    den = np.zeros(gh * gw)
    values = offsets[ys, xs].astype(np.float64)
    for dx, dy, wgt in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        idx = np.minimum(y0 + dy, gh - 1) * gw + np.minimum(x0 + dx, gw - 1)
        np.add.at(den, idx, wgt)
        np.add.at(num, idx, values * wgt[:, None])
    return push_pull_fill(num.reshape(gh, gw, 2), den.reshape(gh, gw))
