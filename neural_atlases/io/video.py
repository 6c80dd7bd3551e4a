"""Reading and writing videos with PyAV.

Frames are ``uint8`` ``[T, H, W, 3]`` RGB (see ``neural_atlases.conventions``). Reading applies the
rotation stored in the file (a phone's portrait clip reads upright) and can trim and shrink the
clip; writing makes H.264 (libx264, yuv420p) files that every player opens.

Odd sizes: yuv420p needs an even width and height, so ``write_video`` pads an odd side by repeating
the last column or row once; the file is then one pixel wider or taller than the frames (no pixel
is resampled). Reading never requires even sizes.
"""

from __future__ import annotations

import math
import os
import re
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from neural_atlases.errors import UserError
from neural_atlases.io.images import atomic_write_path
from neural_atlases.progress import ProgressFn

_CONTAINER_FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}
DEFAULT_FPS = 30.0
"""Frame rate assumed for a video that does not state one."""


def _reason(e: BaseException) -> str:
    """A short, one-line reason: FFmpeg's message without the errno and the repeated path."""
    strerror = getattr(e, "strerror", None)
    if isinstance(strerror, str) and strerror:
        return strerror[0].lower() + strerror[1:]
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _open_video(path: Path):
    """Open ``path`` for reading; return ``(container, stream)`` or raise ``UserError``."""
    if not path.exists():
        raise UserError(f"video not found: {path}")
    if not path.is_file():
        raise UserError(f"not a video file: {path}")
    if path.stat().st_size == 0:
        raise UserError(f"cannot read video {path}: the file is empty")
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read video {path}: {_reason(e)}") from e
    if not container.streams.video:
        container.close()
        raise UserError(f"no video stream in {path}")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


def _stream_fps(stream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and float(rate) > 0:
            return float(rate)
    return DEFAULT_FPS


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Apply a display rotation (degrees counter-clockwise, as ``VideoFrame.rotation``)."""
    turn = int(round(rotation / 90.0)) % 4
    if turn == 1:
        return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    if turn == 2:
        return cv2.rotate(image, cv2.ROTATE_180)
    if turn == 3:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    return image


def scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """``(W, H)`` shrunk so the larger side is at most ``max_side``, keeping the aspect ratio.

    Never enlarges. ``scaled_size(1280, 720, 640) == (640, 360)``.
    """
    if max_side <= 0:
        raise UserError(f"bad maximum side {max_side}: must be a positive number of pixels")
    scale = max_side / max(width, height)
    if scale >= 1.0:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def read_video(
    path: str | os.PathLike,
    size: tuple[int, int] | None = None,
    start: int = 0,
    end: int | None = None,
    max_side: int | None = None,
    progress: ProgressFn | None = None,
) -> tuple[np.ndarray, float]:
    """Read frames ``[start, end)`` of a video as ``[T, H, W, 3]`` uint8 RGB, and its fps.

    Args:
        path: any video PyAV (FFmpeg) can decode.
        size: ``(W, H)`` to resize every frame to; otherwise
        max_side: shrink so the larger side is at most this, keeping the aspect ratio.
        start, end: frame range, ``end`` exclusive, ``None`` for the end of the clip.
        progress: ``progress(done, total)``, ``total`` 0 if the frame count is unknown.

    Resizing uses ``cv2.INTER_AREA``. A missing or unreadable file, a file with no video stream,
    a bad range or ``start`` beyond the last frame raises ``UserError``.
    """
    path = Path(path)
    if start < 0 or (end is not None and end <= start):
        raise UserError(f"bad frame range {start}:{'' if end is None else end} for {path}")
    if size is not None and (len(size) != 2 or min(size) <= 0):
        raise UserError(f"bad size {size}: expected (width, height), both positive")
    container, stream = _open_video(path)
    fps = _stream_fps(stream)
    known = stream.frames or 0
    total = max((min(end, known) if end is not None else known) - start, 0) if known else 0
    frames: list[np.ndarray] = []
    index = -1
    target: tuple[int, int] | None = None
    try:
        with container:
            for index, frame in enumerate(container.decode(stream)):
                if index < start:
                    continue
                if end is not None and index >= end:
                    break
                image = _upright(frame.to_ndarray(format="rgb24"), frame.rotation)
                if target is None:
                    h, w = image.shape[:2]
                    target = (
                        (int(size[0]), int(size[1]))
                        if size is not None
                        else (scaled_size(w, h, max_side) if max_side is not None else (w, h))
                    )
                if (image.shape[1], image.shape[0]) != target:
                    image = cv2.resize(image, target, interpolation=cv2.INTER_AREA)
                frames.append(np.ascontiguousarray(image))
                if progress is not None:
                    progress(len(frames), max(total, len(frames)) if total else 0)
    except (av.FFmpegError, OSError, ValueError) as e:
        raise UserError(f"cannot decode {path} at frame {index + 1}: {_reason(e)}") from e
    if not frames:
        if index < 0:
            raise UserError(f"cannot read video {path}: it holds no decodable frames")
        raise UserError(f"{path}: start frame {start} is beyond the end of the video ({index + 1} frames)")
    return np.stack(frames), fps  # [T, H, W, 3]


def video_info(path: str | os.PathLike) -> dict:
    """``{"frames", "fps", "width", "height"}`` of a video (size as displayed, after rotation).

    ``frames`` comes from the container's header, or from counting packets when the header does
    not say.
    """
    path = Path(path)
    container, stream = _open_video(path)
    try:
        with container:
            fps = _stream_fps(stream)
            width, height = stream.width, stream.height
            rotation = 0
            for frame in container.decode(stream):
                rotation, width, height = frame.rotation, frame.width, frame.height
                break
            if int(round(rotation / 90.0)) % 2:
                width, height = height, width
            count = stream.frames or 0
            if count <= 0:
                container.seek(0)
                count = sum(1 for packet in container.demux(stream) if packet.size)
    except (av.FFmpegError, OSError, ValueError) as e:
        raise UserError(f"cannot read video {path}: {_reason(e)}") from e
    return {"frames": int(count), "fps": fps, "width": int(width), "height": int(height)}


def _even_pad(image: np.ndarray) -> np.ndarray:
    """Repeat the last row / column once where the height / width is odd."""
    h, w = image.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return image
    return np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: float,
    crf: int = 18,
    progress: ProgressFn | None = None,
) -> Path:
    """Write ``[T, H, W, 3]`` uint8 RGB frames as an H.264 (libx264, yuv420p) video.

    The container follows the suffix: ``.mp4`` (usual), ``.mov`` or ``.mkv``. ``crf`` is x264's
    quality (0 lossless, 18 visually lossless, 23 default). An odd width or height is padded by
    one repeated pixel (see the module docstring). The file is written under a temporary name in
    the same folder and renamed into place. Returns ``path``.
    """
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(
            f"write_video({path}): expected [T, H, W, 3] uint8 with T >= 1, "
            f"got {frames.dtype} {list(frames.shape)}"
        )
    try:
        fps_value = float(fps)
    except (TypeError, ValueError):
        fps_value = math.nan
    if not (math.isfinite(fps_value) and fps_value > 0):
        raise UserError(f"cannot write {path}: bad frame rate {fps!r} (must be a positive number)")
    fmt = _CONTAINER_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"cannot write {path}: unsupported video type {path.suffix!r} (use .mp4)")
    height, width = frames.shape[1:3]
    rate = Fraction(fps_value).limit_denominator(1001)
    with atomic_write_path(path) as tmp:
        try:
            options = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
            with av.open(str(tmp), mode="w", format=fmt, options=options) as container:
                stream = container.add_stream("libx264", rate=rate)
                stream.width = width + width % 2
                stream.height = height + height % 2
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": str(int(crf)), "preset": "medium"}
                for i, image in enumerate(frames):
                    frame = av.VideoFrame.from_ndarray(_even_pad(image), format="rgb24")
                    for packet in stream.encode(frame):
                        container.mux(packet)
                    if progress is not None:
                        progress(i + 1, len(frames))
                for packet in stream.encode(None):
                    container.mux(packet)
        except av.FFmpegError as e:
            raise UserError(f"cannot write {path}: {_reason(e)}") from e
    return path


def parse_size(text: str) -> tuple[int, int]:
    """``"640x360"`` -> ``(640, 360)`` (width first); anything else raises ``UserError``."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", str(text))
    if not match or int(match.group(1)) <= 0 or int(match.group(2)) <= 0:
        raise UserError(f"bad size {text!r}: expected WIDTHxHEIGHT with positive numbers, such as 640x360")
    return int(match.group(1)), int(match.group(2))


def parse_frame_range(text: str) -> tuple[int, int | None]:
    """Parse ``START:END``, end exclusive: ``"10:50"`` -> ``(10, 50)``.

    Either side may be empty: ``"10:"`` -> ``(10, None)``, ``":50"`` -> ``(0, 50)``. Anything
    else, or an end not after the start, raises ``UserError``.
    """
    match = re.fullmatch(r"\s*(\d*)\s*:\s*(\d*)\s*", str(text))
    if not match:
        raise UserError(
            f"bad frame range {text!r}: expected START:END such as 0:100 "
            "(END exclusive; either may be left empty)"
        )
    start = int(match.group(1)) if match.group(1) else 0
    end = int(match.group(2)) if match.group(2) else None
    if end is not None and end <= start:
        raise UserError(f"bad frame range {text!r}: END ({end}) must be greater than START ({start})")
    return start, end
