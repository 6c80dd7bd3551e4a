"""Folders of frames, safe writes and checks read from file headers; imports no torch.

The command line runs these before any heavy work (``io.preflight``), so they read only what an
image's header says (its size, its orientation tag), never its pixels, and import only the standard
library and Pillow.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from neural_atlases.errors import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
"""Suffixes of frame and mask files (compared case-insensitively)."""

_TRANSPOSED_ORIENTATIONS = (5, 6, 7, 8)
"""EXIF orientations that swap width and height once applied (``ImageOps.exif_transpose``)."""


def frame_file_name(index: int, suffix: str = ".png") -> str:
    """File name of frame ``index`` in a folder of frames: ``00000.png``."""
    return f"{index:05d}{suffix}"


def _natural_key(name: str) -> tuple:
    """Sort key putting ``frame2`` before ``frame10`` (zero-padded names sort as usual)."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name))


def list_frame_files(folder: str | os.PathLike) -> list[Path]:
    """Image files (``.jpg``, ``.jpeg``, ``.png``, any case) in ``folder``, sorted by name.

    Names sort naturally (``f2.png`` before ``f10.png``; zero-padded names sort as plain text).
    Hidden files (``.name``) and sub-folders are ignored. A missing folder raises ``UserError``.
    """
    folder = Path(folder)
    if not folder.exists():
        raise UserError(f"folder not found: {folder}")
    if not folder.is_dir():
        raise UserError(f"not a folder: {folder}")
    files = [
        p
        for p in folder.iterdir()
        if not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    ]
    return sorted(files, key=lambda p: (_natural_key(p.name), p.name))


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of an image as it is read (EXIF orientation applied), from its header
    alone: no pixel is decoded. A missing, empty or unreadable file raises ``UserError``."""
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise UserError(f"image not found: {path}" if not path.exists() else f"not an image file: {path}")
    if path.stat().st_size == 0:
        raise UserError(f"cannot read image {path}: the file is empty")
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)
    except Exception as e:  # PIL raises many types for bad files; all mean "cannot read this"
        raise UserError(f"cannot read image {path}: {_reason(e)}") from e
    return (height, width) if orientation in _TRANSPOSED_ORIENTATIONS else (width, height)


def check_frames(folder: Path) -> tuple[int, int, int]:
    """``(count, width, height)`` of a folder of frames, from headers; ``UserError`` for an empty
    folder or a frame whose size differs from the first one's."""
    files = list_frame_files(folder)
    if not files:
        raise UserError(f"no frames in {folder} (expected .jpg, .jpeg or .png files)")
    width, height = image_size(files[0])
    for path in files[1:]:
        w, h = image_size(path)
        if (w, h) != (width, height):
            raise UserError(
                f"{path}: size {w}x{h} differs from {files[0].name} ({width}x{height}); "
                "all frames must have one size"
            )
    return len(files), width, height


def check_masks(folder: Path, num_frames: int, width: int, height: int) -> None:
    """``UserError`` unless ``folder`` holds one mask of ``width`` x ``height`` per frame (headers)."""
    files = list_frame_files(folder)
    if len(files) != num_frames:
        raise UserError(
            f"{folder}: {len(files)} mask file(s) for {num_frames} frames; need exactly one mask per frame"
        )
    for path in files:
        w, h = image_size(path)
        if (w, h) != (width, height):
            raise UserError(f"{path}: mask size {w}x{h} differs from the frame size {width}x{height}")


def check_scribbles(folder: Path, frame_files: list[Path], width: int, height: int) -> None:
    """``UserError`` for a scribble that names no frame, or whose size is not the frames' (headers).
    Colours and ``layers.json`` are checked where the scribbles are read (``io.scribbles``)."""
    if not folder.is_dir():
        return
    stems = {p.stem for p in frame_files}
    seen: set[str] = set()
    for path in list_frame_files(folder):
        if path.stem not in stems:
            raise UserError(
                f"{path}: no frame is named '{path.stem}'; name each scribble like the frame it marks "
                f"(e.g. {frame_files[0].stem}.png)"
            )
        if path.stem in seen:
            raise UserError(f"{path}: frame '{path.stem}' has more than one scribble file")
        seen.add(path.stem)
        w, h = image_size(path)
        if (w, h) != (width, height):
            raise UserError(f"{path}: scribble size {w}x{h} differs from the frame size {width}x{height}")


def _write_failure(path: Path, e: OSError) -> str:
    """Why ``path`` cannot be written: a file where a folder should be, or the system's reason."""
    for parent in path.parents:
        if parent.exists():
            return f"{parent} is a file, not a folder" if not parent.is_dir() else e.strerror or _reason(e)
    return e.strerror or _reason(e)


def check_writable(folder: Path, what: str) -> None:
    """Raise ``UserError`` (starting with ``what``) when files cannot be made in ``folder``, which
    the writer makes later with its parents: the nearest folder of it that exists must be a folder
    and take a new file. A probe file is made there and removed at once; nothing else is written.
    Cheap, so a command runs it before any heavy work."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise UserError(f"{what}: {existing} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=existing)
    except OSError as e:
        raise UserError(f"{what}: cannot write in {existing}: {e.strerror or _reason(e)}") from None
    os.close(fd)
    os.unlink(probe)


@contextlib.contextmanager
def atomic_write_path(path: str | os.PathLike) -> Iterator[Path]:
    """Give a temporary path beside ``path`` to write to; rename it onto ``path`` on success.

    ``with atomic_write_path(p) as tmp: save(tmp)``. Creates the parent folders. On an exception
    the temporary file is removed and ``path`` is left as it was. ``OSError`` (no permission, a
    full disk) becomes ``UserError`` naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
        os.close(fd)
    except OSError as e:
        raise UserError(f"cannot write {path}: {_write_failure(path, e)}") from e
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, new_file_mode())  # mkstemp makes 0600; a written file gets the usual mode
        os.replace(tmp, path)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or _reason(e)}") from e
    finally:
        tmp.unlink(missing_ok=True)


@functools.cache
def new_file_mode() -> int:
    """The mode a new file gets here: ``0o666`` less the process's umask (read without changing it
    where ``/proc`` tells it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask
