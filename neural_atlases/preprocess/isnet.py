"""ISNet (Qin et al. 2022, "Highly Accurate Dichotomous Image Segmentation") from its ONNX export,
run by onnxruntime: class-agnostic segmentation of the salient object, people or not.

The convention of the export (that of DIS's own inference script): input ``input`` ``float32
[1, 3, 1024, 1024]``, RGB / 255 - 0.5 (mean 0.5, std 1.0); first output ``output`` ``[1, 1,
1024, 1024]``, already in [0, 1]. Each frame is resized to 1024 x 1024 and its matte back to the
frame. Frames are independent (no temporal state).

At about 5 s a frame on two CPU cores, ISNet runs on keyframes only (``keyframes``); the frames
between take the mattes of the two keyframes around them carried along the clip's optical flow
(``propagate``), each weighted by its nearness.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from neural_atlases.errors import UserError
from neural_atlases.preprocess.flow import warp_by_flow
from neural_atlases.preprocess.onnx_session import check_names, open_session, run_session
from neural_atlases.progress import ProgressFn

SIDE = 1024
"""ISNet's fixed input side."""
LABEL = "foreground_class 'isnet'"


def open_isnet(path: Path) -> Any:
    """An onnxruntime session of ISNet's ONNX file; another model or a bad file is a ``UserError``."""
    session = open_session(path, LABEL)
    check_names(session, ["input"], ["output"], f"{LABEL}: {path}", "ISNet's ONNX export")
    return session


def isnet_input(frame: np.ndarray, side: int = SIDE) -> np.ndarray:
    """RGB ``uint8 [H, W, 3]`` -> ``float32 [1, 3, side, side]``, RGB / 255 - 0.5."""
    resized = cv2.resize(frame.astype(np.float32) / 255.0, (side, side), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray((resized - 0.5).transpose(2, 0, 1)[None])  # [1, 3, side, side]


def input_side(session: Any) -> int:
    """The square side the model takes (1024 for ISNet; a dynamic side reads as 1024)."""
    side = session.get_inputs()[0].shape[-1]
    return side if isinstance(side, int) else SIDE


def isnet_masks(frames: np.ndarray, session: Any, progress: ProgressFn | None = None) -> np.ndarray:
    """Mattes ``float32 [T, H, W]`` in [0, 1] of frames ``uint8 [T, H, W, 3]``, frame by frame."""
    t, h, w, _ = frames.shape
    side = input_side(session)
    out = np.empty((t, h, w), np.float32)
    for i in range(t):
        (matte,) = run_session(session, ["output"], {"input": isnet_input(frames[i], side)}, LABEL)
        if matte.ndim != 4 or matte.shape[:2] != (1, 1):
            raise UserError(f"{LABEL}: the model gave {matte.shape}, not a matte [1, 1, h, w]")
        plane = np.asarray(matte[0, 0], np.float32)
        out[i] = np.clip(cv2.resize(plane, (w, h), interpolation=cv2.INTER_AREA), 0.0, 1.0)
        if progress is not None:
            progress(i + 1, t)
    return out


def keyframes(num_frames: int, count: int) -> list[int]:
    """``count`` frame indices spread evenly over ``[0, num_frames)``, first and last included;
    every frame when ``count`` is 0 or at least ``num_frames``."""
    if count <= 0 or count >= num_frames:
        return list(range(num_frames))
    if count == 1:
        return [0]
    return sorted({round(i * (num_frames - 1) / (count - 1)) for i in range(count)})


def propagate(
    keys: list[int], key_mattes: np.ndarray, forward: np.ndarray, backward: np.ndarray
) -> np.ndarray:
    """Mattes ``float32 [T, H, W]`` of every frame from those of the keyframes ``keys``.

    ``key_mattes [K, H, W]``; ``forward [T - 1, H, W, 2]`` is the flow from frame t to t + 1 and
    ``backward [T - 1, H, W, 2]`` from t + 1 to t (``preprocess.flow``'s convention). A frame between
    keyframes a < t < b blends the matte of a carried forward (``m(t) = m(t - 1)`` sampled along
    ``backward[t - 1]``) and that of b carried back (along ``forward[t]``), weighted by nearness;
    before the first keyframe or after the last, the nearest one carried alone.
    """
    num_frames = forward.shape[0] + 1
    is_key = set(keys)
    out = np.empty((num_frames, *key_mattes.shape[1:]), np.float32)
    from_left: dict[int, tuple[int, np.ndarray]] = {}
    from_right: dict[int, tuple[int, np.ndarray]] = {}
    for index, key in enumerate(keys):
        matte = key_mattes[index].astype(np.float32)
        out[key] = matte
        carried, t = matte, key
        while t + 1 < num_frames and t + 1 not in is_key:  # forward to the next keyframe
            carried = warp_by_flow(carried, backward[t])
            t += 1
            from_left[t] = (key, carried)
        carried, t = matte, key
        while t - 1 >= 0 and t - 1 not in is_key:  # back to the previous keyframe
            carried = warp_by_flow(carried, forward[t - 1])
            t -= 1
            from_right[t] = (key, carried)
    for t in set(from_left) | set(from_right):
        if t in from_left and t in from_right:
            (a, left), (b, right) = from_left[t], from_right[t]
            share = (b - t) / (b - a)
            out[t] = share * left + (1.0 - share) * right
        else:
            out[t] = (from_left.get(t) or from_right[t])[1]
    return np.clip(out, 0.0, 1.0)
