"""Images and folders of frames.

Frames are ``uint8`` ``[H, W, 3]`` RGB and a folder of frames reads as ``[T, H, W, 3]`` (see
``neural_atlases.conventions``). Masks read as ``float32`` ``[H, W]`` in [0, 1], white = 1.
Every reader accepts 8- and 16-bit, greyscale, palette, RGB and RGBA PNG and JPEG files; any
problem with a file raises ``UserError`` naming it. Writers write to a temporary file in the same
folder and rename it into place, so a reader never sees half an image.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from neural_atlases.errors import UserError
from neural_atlases.io.files import (  # noqa: F401  (re-exported: the readers and writers' home)
    IMAGE_SUFFIXES,
    atomic_write_path,
    check_frames,
    check_masks,
    check_writable,
    frame_file_name,
    list_frame_files,
    new_file_mode,
)
from neural_atlases.progress import ProgressFn

_PIL_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


# -- reading one image ----------------------------------------------------------------------------
def _open(path: str | os.PathLike) -> Image.Image:
    """Open and fully decode an image, upright (EXIF orientation applied)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"image not found: {path}")
    if not path.is_file():
        raise UserError(f"not an image file: {path}")
    if path.stat().st_size == 0:
        raise UserError(f"cannot read image {path}: the file is empty")
    try:
        with Image.open(path) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
            upright.load()
            return upright
    except Exception as e:  # PIL raises many types for bad files; all mean "cannot read this"
        raise UserError(f"cannot read image {path}: {_reason(e)}") from e


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Any PIL image -> ``[H, W, 3]`` uint8 (alpha dropped, 16-bit scaled to 8-bit)."""
    if image.mode in _SIXTEEN_BIT_MODES:
        grey = np.asarray(image).astype(np.float64)
        grey = np.clip(np.round(grey / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode == "F":
        grey = np.clip(np.round(np.asarray(image, dtype=np.float64)), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image as ``[H, W, 3]`` uint8 RGB.

    Greyscale and palette images become RGB, alpha is dropped, 16-bit images are scaled to 8 bits.
    A missing, unreadable or corrupt file raises ``UserError`` naming the path.
    """
    return _to_rgb(_open(path))


def read_rgba(path: str | os.PathLike) -> np.ndarray:
    """Read an image as ``[H, W, 4]`` uint8 RGBA; an image without alpha gets alpha 255."""
    image = _open(path)
    if _has_alpha(image):
        return np.asarray(image.convert("RGBA"), dtype=np.uint8).copy()
    rgb = _to_rgb(image)
    alpha = np.full(rgb.shape[:2] + (1,), 255, dtype=np.uint8)
    return np.concatenate([rgb, alpha], axis=2)


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a mask as ``[H, W]`` float32 in [0, 1], white = 1.

    Colour masks count by luminance (ITU-R 601 weights), 16-bit masks are divided by 65535, and
    a mask with transparency is composited over black (so white strokes on a transparent canvas
    work as well as white on black).
    """
    image = _open(path)
    if image.mode in _SIXTEEN_BIT_MODES:
        return (np.asarray(image).astype(np.float32) / 65535.0).clip(0.0, 1.0)
    if image.mode == "F":
        return (np.asarray(image, dtype=np.float32) / 255.0).clip(0.0, 1.0)
    if image.mode == "1":
        return np.asarray(image, dtype=np.float32)
    if image.mode == "L":
        return np.asarray(image, dtype=np.float32) / 255.0
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0  # [H, W, 4]
    luminance = rgba[..., 0] * 0.299 + rgba[..., 1] * 0.587 + rgba[..., 2] * 0.114
    return (luminance * rgba[..., 3]).clip(0.0, 1.0).astype(np.float32)


# -- writing one image ----------------------------------------------------------------------------
def write_image(path: str | os.PathLike, array: np.ndarray, jpeg_quality: int = 95) -> None:
    """Write ``[H, W, 3]`` or ``[H, W, 4]`` uint8, ``[H, W]`` uint8/uint16 or ``[H, W, 3]`` uint16 (PNG
    only), as PNG or JPEG.

    The format follows the suffix (``.png``, ``.jpg``, ``.jpeg``); parent folders are created.
    16-bit and RGBA images need ``.png``. The file is written under a temporary name in the same
    folder and renamed into place. An unsupported suffix or an unwritable path raises
    ``UserError`` naming the path; an array of the wrong shape or type raises ``ValueError``.
    """
    path = Path(path)
    array = np.asarray(array)
    if array.dtype == np.uint16 and array.ndim == 3 and array.shape[2] == 3:
        return _write_rgb16(path, array)
    if array.dtype == np.uint16 and array.ndim == 2:
        mode = "I;16"
    elif array.dtype == np.uint8 and (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        mode = {2: "L", 3: "RGB", 4: "RGBA"}[array.ndim if array.ndim == 2 else array.shape[2]]
    else:
        raise ValueError(
            f"write_image({path}): expected [H, W, 3|4] uint8 or [H, W] uint8/uint16, "
            f"got {array.dtype} {list(array.shape)}"
        )
    suffix = path.suffix.lower()
    fmt = _PIL_FORMATS.get(suffix)
    if fmt is None:
        raise UserError(f"cannot write {path}: unsupported image type {path.suffix!r} (use .png or .jpg)")
    if fmt == "JPEG" and mode in ("I;16", "RGBA"):
        kind = "16-bit" if mode == "I;16" else "RGBA"
        raise UserError(f"cannot write {path}: JPEG cannot hold a {kind} image (use .png)")
    image = Image.fromarray(np.ascontiguousarray(array))
    options = {"quality": jpeg_quality} if fmt == "JPEG" else {}
    with atomic_write_path(path) as tmp:
        image.save(tmp, format=fmt, **options)


def _write_rgb16(path: Path, array: np.ndarray) -> None:
    """16-bit RGB PNG (Pillow cannot write one; OpenCV can, in BGR order)."""
    if path.suffix.lower() != ".png":
        raise UserError(f"cannot write {path}: a 16-bit RGB image needs .png")
    ok, data = cv2.imencode(".png", np.ascontiguousarray(array[..., ::-1]))
    if not ok:
        raise ValueError(f"write_image({path}): OpenCV could not encode a 16-bit PNG")
    with atomic_write_path(path) as tmp:
        tmp.write_bytes(data.tobytes())


def read_rgb16(path: str | os.PathLike) -> np.ndarray:
    """A 16-bit RGB PNG as ``[H, W, 3]`` uint16 (``UserError`` if it is not one)."""
    data = np.fromfile(path, np.uint8) if Path(path).is_file() else np.zeros(0, np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None or image.dtype != np.uint16 or image.ndim != 3 or image.shape[2] != 3:
        raise UserError(f"cannot read {path}: not a 16-bit RGB PNG")
    return np.ascontiguousarray(image[..., ::-1])


def remove_partial_writes(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that ``atomic_write_path`` left in ``folder`` when its process
    was killed halfway; returns them. Only for a caller that alone writes there."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    partial = [p for p in folder.glob(".*.tmp*") if p.is_file()]
    for path in partial:
        path.unlink(missing_ok=True)
    return partial


# -- folders of frames ----------------------------------------------------------------------------
def read_frames(folder: str | os.PathLike, progress: ProgressFn | None = None) -> np.ndarray:
    """Read every frame in ``folder`` (see ``list_frame_files``) as ``[T, H, W, 3]`` uint8 RGB.

    An empty folder, or a frame whose size differs from the first one's, raises ``UserError``
    before any pixel is decoded (``io.files.check_frames``).
    """
    count, width, height = check_frames(Path(folder))
    frames = np.empty((count, height, width, 3), dtype=np.uint8)  # [T, H, W, 3]
    for i, path in enumerate(list_frame_files(folder)):
        frames[i] = read_image(path)
        if progress is not None:
            progress(i + 1, count)
    return frames


def read_masks(
    folder: str | os.PathLike,
    num_frames: int,
    height: int,
    width: int,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Read one mask per frame from ``folder`` as ``[T, H, W]`` float32 in [0, 1].

    Masks pair with frames by sorted position. A different number of masks than ``num_frames``,
    or a mask of a different size than ``width`` x ``height``, raises ``UserError`` saying which.
    """
    check_masks(Path(folder), num_frames, width, height)  # count and sizes, from the headers
    masks = np.empty((num_frames, height, width), dtype=np.float32)  # [T, H, W]
    for i, path in enumerate(list_frame_files(folder)):
        masks[i] = read_mask(path)
        if progress is not None:
            progress(i + 1, num_frames)
    return masks


def write_frames(
    folder: str | os.PathLike,
    frames: np.ndarray,
    progress: ProgressFn | None = None,
    suffix: str = ".png",
) -> list[Path]:
    """Write ``[T, H, W, 3]`` uint8 frames as ``folder/00000.png`` ... and return the paths.

    Creates ``folder``; existing files of the same names are replaced, other files are left alone.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8:
        raise ValueError(
            f"write_frames: expected [T, H, W, 3] uint8, got {frames.dtype} {list(frames.shape)}"
        )
    folder = Path(folder)
    paths = []
    for i, frame in enumerate(frames):
        path = folder / frame_file_name(i, suffix)
        write_image(path, frame)
        paths.append(path)
        if progress is not None:
            progress(i + 1, len(frames))
    return paths
