"""Robust Video Matting (Lin et al., 2021) from its ONNX export, run by onnxruntime.

RVM is recurrent: each frame is matted with the states the previous frame left, so its mattes are
stable over time. The convention of its export: input ``src`` ``float32 [1, 3, H, W]`` RGB in
[0, 1], recurrent states ``r1i`` .. ``r4i`` (zeros ``[1, 1, 1, 1]`` at the first frame) and
``downsample_ratio`` ``float32 [1]``; outputs ``fgr``, ``pha`` (the matte ``[1, 1, H, W]``) and the
next states ``r1o`` .. ``r4o``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from neural_atlases.errors import UserError
from neural_atlases.progress import ProgressFn

INPUTS = ("src", "r1i", "r2i", "r3i", "r4i", "downsample_ratio")
OUTPUTS = ("fgr", "pha", "r1o", "r2o", "r3o", "r4o")

WORKING_SIDE = 512
"""RVM works on frames scaled down so that their larger side is at most this (its authors advise
a ratio of 0.25 to 0.4 for HD and 4K)."""

PERSON_AREA = 0.01
"""Mean share of the frame that RVM's mattes must cover to say the clip shows a person."""


def downsample_ratio(height: int, width: int, side: int = WORKING_SIDE) -> float:
    """RVM's ``downsample_ratio`` for a ``height x width`` frame: at most 1."""
    return min(1.0, side / max(height, width))


def open_rvm(path: Path) -> Any:
    """An onnxruntime session of RVM's export at ``path``; a wrong file is a ``UserError``."""
    try:
        import onnxruntime
    except ImportError:
        raise UserError(
            "foreground_class 'rvm' needs onnxruntime: pip install 'neural-atlases[modnet]'"
        ) from None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own error types
        raise UserError(f"{path} is not a usable ONNX model: {' '.join(str(exc).split())[:160]}") from None
    names_in = tuple(i.name for i in session.get_inputs())
    names_out = tuple(o.name for o in session.get_outputs())
    if sorted(names_in) != sorted(INPUTS) or sorted(names_out) != sorted(OUTPUTS):
        raise UserError(f"{path} is not Robust Video Matting's export (inputs {', '.join(names_in)})")
    return session


def rvm_masks(frames: np.ndarray, session: Any, progress: ProgressFn | None = None) -> np.ndarray:
    """Mattes ``float32 [T, H, W]`` in [0, 1] of frames ``uint8 [T, H, W, 3]``, in order, each
    frame with the recurrent states of the one before."""
    t, h, w, _ = frames.shape
    states = [np.zeros((1, 1, 1, 1), np.float32)] * 4
    ratio = np.array([downsample_ratio(h, w)], np.float32)
    out = np.empty((t, h, w), np.float32)
    for i in range(t):
        src = np.ascontiguousarray(frames[i].transpose(2, 0, 1)[None], np.float32) / 255.0
        feed = {"src": src, "downsample_ratio": ratio} | {f"r{k + 1}i": s for k, s in enumerate(states)}
        try:
            result = dict(zip(OUTPUTS, session.run(list(OUTPUTS), feed), strict=True))
        except Exception as exc:  # onnxruntime's own error types: the model does not fit
            raise UserError(
                f"Robust Video Matting fails on frame {i}: {' '.join(str(exc).split())[:160]}"
            ) from None
        matte = np.asarray(result["pha"], np.float32)
        if matte.shape[-2:] != (h, w):
            raise UserError(f"Robust Video Matting gave a matte of {matte.shape}, not [1, 1, {h}, {w}]")
        out[i] = np.clip(matte.reshape(h, w), 0.0, 1.0)
        states = [result[f"r{k + 1}o"] for k in range(4)]
        if progress is not None:
            progress(i + 1, t)
    return out


def shows_a_person(mattes: np.ndarray) -> bool:
    """Whether RVM's mattes ``[T, H, W]`` found someone: a mean coverage above ``PERSON_AREA``."""
    return float(np.mean(mattes)) > PERSON_AREA
