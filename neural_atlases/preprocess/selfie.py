"""Person segmentation that works offline: MediaPipe's selfie segmentation model.

MediaPipe 0.10.14 and 0.10.21 ship ``selfie_segmentation.tflite`` inside the wheel (later releases
do not), so no download is needed. Their declared dependencies ask for numpy < 2, so the wheel is
installed with ``--no-deps`` beside what it really needs at run time (the ``selfie`` extra:
``pip install 'neural-atlases[selfie]' && pip install --no-deps mediapipe==0.10.21``). The model
runs through MediaPipe's ImageSegmenter task and gives a person confidence per pixel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from neural_atlases.errors import UserError
from neural_atlases.progress import ProgressFn

INSTALL_HINT = "pip install 'neural-atlases[selfie]' && pip install --no-deps mediapipe==0.10.21"
MODEL_FILE = ("modules", "selfie_segmentation", "selfie_segmentation.tflite")
"""Where the model sits inside the ``mediapipe`` package."""


def import_mediapipe() -> Any:
    """The ``mediapipe`` module, or a ``UserError`` saying how to install it."""
    try:
        import mediapipe
    except Exception as exc:  # a missing package, or one whose own imports fail (protobuf >= 5)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"foreground_class 'selfie' needs MediaPipe ({reason}): {INSTALL_HINT}") from None
    return mediapipe


def selfie_model_path(mediapipe: Any) -> Path:
    """The selfie model file inside the installed MediaPipe; a ``UserError`` if this release lacks it."""
    path = Path(mediapipe.__file__).parent.joinpath(*MODEL_FILE)
    if not path.is_file():
        raise UserError(
            f"MediaPipe {getattr(mediapipe, '__version__', '?')} does not ship {path.name} "
            f"(0.10.14 and 0.10.21 do): {INSTALL_HINT}"
        )
    return path


def open_selfie() -> Any:
    """A MediaPipe ImageSegmenter of the selfie model, giving confidence masks."""
    mediapipe = import_mediapipe()
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    options = vision.ImageSegmenterOptions(
        base_options=BaseOptions(model_asset_path=str(selfie_model_path(mediapipe))),
        running_mode=vision.RunningMode.IMAGE,
        output_confidence_masks=True,
        output_category_mask=False,
    )
    return vision.ImageSegmenter.create_from_options(options)


def selfie_masks(frames: np.ndarray, progress: ProgressFn | None = None) -> np.ndarray:
    """Person confidence ``float32 [T, H, W]`` in [0, 1] of frames ``uint8 [T, H, W, 3]`` (RGB)."""
    mediapipe = import_mediapipe()
    t, h, w, _ = frames.shape
    out = np.empty((t, h, w), np.float32)
    with open_selfie() as segmenter:
        for i in range(t):
            image = mediapipe.Image(
                image_format=mediapipe.ImageFormat.SRGB, data=np.ascontiguousarray(frames[i])
            )
            confidence = segmenter.segment(image).confidence_masks[0].numpy_view()  # [H, W]
            out[i] = np.clip(np.asarray(confidence, np.float32).reshape(h, w), 0.0, 1.0)
            if progress is not None:
                progress(i + 1, t)
    return out
