"""Portrait matting with MODNet exported to ONNX, run by onnxruntime.

The convention is that of MODNet's own ONNX export and its inference script: RGB scaled to
[-1, 1], ``float32 [1, 3, h, w]`` with both sides multiples of 32 (the frame resized so that its
shorter side is 512 when it is smaller than that or larger than both sides allow, as
``modnet_input_size`` says), and one output, the matte ``[1, 1, h, w]`` in [0, 1], resized back
to the frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from neural_atlases.errors import UserError
from neural_atlases.progress import ProgressFn

REFERENCE_SIDE = 512
"""MODNet's reference size (``ref_size`` in its inference script)."""

MODNET_HINT = (
    "MODNet's ONNX export (modnet_photographic_portrait_matting.onnx, from its authors) named by "
    "preprocess.modnet_onnx"
)


def modnet_input_size(height: int, width: int, reference: int = REFERENCE_SIDE) -> tuple[int, int]:
    """``(h, w)`` MODNet's script feeds a ``height x width`` frame at: both multiples of 32.

    Frames whose larger side is below ``reference``, or whose smaller side is above it, are
    scaled so that the shorter side is ``reference``; others keep their size. Each side is then
    rounded down to a multiple of 32 (never below 32).
    """
    if max(height, width) < reference or min(height, width) > reference:
        if width >= height:
            h, w = reference, int(width / height * reference)
        else:
            h, w = int(height / width * reference), reference
    else:
        h, w = height, width
    return max(32, h - h % 32), max(32, w - w % 32)


def modnet_input(frame: np.ndarray, reference: int = REFERENCE_SIDE) -> np.ndarray:
    """RGB ``uint8 [H, W, 3]`` -> ``float32 [1, 3, h, w]`` in [-1, 1] (``modnet_input_size``)."""
    h, w = modnet_input_size(frame.shape[0], frame.shape[1], reference)
    scaled = (frame.astype(np.float32) - 127.5) / 127.5
    resized = cv2.resize(scaled, (w, h), interpolation=cv2.INTER_AREA)  # [h, w, 3]
    return np.ascontiguousarray(resized.transpose(2, 0, 1)[None])


def matte_to_frame(matte: np.ndarray, height: int, width: int) -> np.ndarray:
    """MODNet's output ``[1, 1, h, w]`` -> ``float32 [height, width]`` clipped to [0, 1]."""
    plane = np.asarray(matte, np.float32).reshape(matte.shape[-2:])
    resized = cv2.resize(plane, (width, height), interpolation=cv2.INTER_AREA)
    return np.clip(resized, 0.0, 1.0)


def open_modnet(path: Path) -> Any:
    """An onnxruntime session of the ONNX file ``path`` (CPU); missing pieces are a ``UserError``."""
    try:
        import onnxruntime
    except ImportError:
        raise UserError(
            "foreground_class 'modnet' needs onnxruntime: pip install 'neural-atlases[modnet]'"
        ) from None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only
    # no arena: it keeps the peak of every activation (0.8 GB more for ISNet at 1024x1024)
    options.enable_cpu_mem_arena = False
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for a bad file
        raise UserError(f"preprocess.modnet_onnx: {path} is not a usable ONNX model: {exc}") from None
    if len(session.get_inputs()) != 1:
        raise UserError(f"preprocess.modnet_onnx: {path} must take one input (an RGB image)")
    return session


def modnet_masks(frames: np.ndarray, session: Any, progress: ProgressFn | None = None) -> np.ndarray:
    """Mattes ``float32 [T, H, W]`` in [0, 1] of frames ``uint8 [T, H, W, 3]``, frame by frame."""
    t, h, w, _ = frames.shape
    name = session.get_inputs()[0].name
    out = np.empty((t, h, w), np.float32)
    for i in range(t):
        try:
            matte = session.run(None, {name: modnet_input(frames[i])})[0]
        except Exception as exc:  # onnxruntime's own error types: the model does not fit
            reason = " ".join(str(exc).split())[:200]
            raise UserError(f"preprocess.modnet_onnx: the model fails on a MODNet input: {reason}") from None
        if matte.ndim != 4 or matte.shape[:2] != (1, 1):
            raise UserError(f"preprocess.modnet_onnx: the model gave {matte.shape}, not a matte [1, 1, h, w]")
        out[i] = matte_to_frame(matte, h, w)
        if progress is not None:
            progress(i + 1, t)
    return out
