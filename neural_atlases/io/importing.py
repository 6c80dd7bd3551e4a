"""``init``: a project (or one per shot) made from a video.

``read_clip`` decodes the frames and finds the clip's shots (``io.shots``); ``write_project`` writes
one shot, or the whole clip, as a project's ``frames/`` and ``results/project.json``, which records
the source, the frame range taken and the cuts (so that ``train`` need not look for them again).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from neural_atlases.errors import UserError
from neural_atlases.io.project import Project, frames_fingerprint
from neural_atlases.io.shots import describe_shots, frames_cuts, shot_ranges

if TYPE_CHECKING:
    from neural_atlases.progress import ProgressFn


@dataclass(frozen=True)
class Clip:
    """Frames decoded from a video, and where its shots begin and end."""

    source: Path
    """The video file."""
    frames: np.ndarray
    """``[T, H, W, 3]`` uint8 RGB."""
    fps: float
    start: int
    """Which frame of the video ``frames[0]`` is."""
    cuts: list[int]
    """Indices into ``frames`` that start a new shot."""

    @property
    def shots(self) -> list[tuple[int, int]]:
        """``(start, end)`` of each shot, end exclusive, as indices into ``frames``."""
        return shot_ranges(self.cuts, len(self.frames))

    def describe(self) -> str:
        """One line naming the shots by the video's frame numbers."""
        shots = self.shots
        if len(shots) == 1:
            return f"{self.source.name}: one shot, frames {self.start}:{self.start + len(self.frames)}"
        return f"{self.source.name}: {len(shots)} shots, {describe_shots(shots, self.start)}"

    def check_shot(self, shot: int) -> None:
        """``UserError`` unless ``shot`` (numbered from 1) is one of the clip's."""
        if not 1 <= shot <= len(self.shots):
            raise UserError(f"--shot {shot}: there is no such shot in {self.describe()}")


def read_clip(
    video: str | os.PathLike,
    size: tuple[int, int] | None = None,
    frame_range: tuple[int, int | None] | None = None,
    max_side: int | None = None,
    progress: ProgressFn | None = None,
) -> Clip:
    """Decode ``video`` (arguments as in ``io.video.read_video``) and find its cuts."""
    from neural_atlases.io.video import read_video

    video = Path(video)
    start, end = frame_range if frame_range is not None else (0, None)
    frames, fps = read_video(video, size=size, start=start, end=end, max_side=max_side, progress=progress)
    return Clip(video, frames, fps, start, frames_cuts(frames))


def shot_project_dir(project_dir: str | os.PathLike, shot: int) -> Path:
    """Where ``init --shot all`` puts shot ``shot``: ``NAME_shot<shot>`` beside ``NAME``."""
    root = Path(project_dir)
    return root.with_name(f"{root.name}_shot{shot}")


def write_project(
    project_dir: str | os.PathLike,
    clip: Clip,
    shot: int | None = None,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> Project:
    """Write ``clip`` (or only its shot ``shot``, numbered from 1) as a project's ``frames/``.

    A ``frames/`` folder that already holds files is replaced only with ``overwrite=True``;
    otherwise ``UserError``. The frames are written to a temporary folder and swapped in, so a
    failure leaves an existing project as it was. ``progress`` sees the writing.
    """
    from neural_atlases.io.images import write_frames  # the encoders: not needed to open a project

    project = Project(Path(project_dir))
    first, last = (0, len(clip.frames)) if shot is None else clip.shots[shot - 1]
    frames = clip.frames[first:last]
    cuts = [c - first for c in clip.cuts if first < c < last]
    check_replaceable(project, overwrite)
    try:
        project.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=project.root, prefix=".frames.tmp-"))
    except OSError as e:
        raise UserError(f"cannot create project {project.root}: {e.strerror or e}") from e
    try:
        write_frames(staging, frames, progress=progress)
        _swap_in(staging, project.frames_dir)
    except OSError as e:
        raise UserError(f"cannot write frames into {project.frames_dir}: {e.strerror or e}") from e
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)

    height, width = frames.shape[1:3]
    project.save_meta(
        {
            "fps": clip.fps,
            "source": str(clip.source.resolve()),
            "frame_range": [clip.start + first, clip.start + last],
            "shot": shot,
            "size": [int(width), int(height)],
            "num_frames": int(len(frames)),
            "cuts": {"frames": frames_fingerprint(project), "at": cuts},
        }
    )
    return project


def init_project(
    project_dir: str | os.PathLike,
    video: str | os.PathLike,
    size: tuple[int, int] | None = None,
    frame_range: tuple[int, int | None] | None = None,
    max_side: int | None = None,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
) -> Project:
    """Make a project from a video's frames, all its shots together: ``read_clip`` then
    ``write_project``. The project is checked before the video is read."""
    check_replaceable(Project(Path(project_dir)), overwrite)
    clip = read_clip(video, size, frame_range, max_side, progress)
    return write_project(project_dir, clip, None, overwrite, progress)


def check_replaceable(project: Project, overwrite: bool) -> None:
    """``UserError`` unless the project can take new frames."""
    if project.root.exists() and not project.root.is_dir():
        raise UserError(f"project is not a folder: {project.root}")
    frames_dir = project.frames_dir
    if frames_dir.exists():
        if not frames_dir.is_dir():
            raise UserError(f"{frames_dir} is not a folder")
        existing = [p for p in frames_dir.iterdir() if not p.name.startswith(".")]
        if existing and not overwrite:
            raise UserError(
                f"{frames_dir} already holds {len(existing)} file(s); "
                "refusing to overwrite them (use --overwrite to replace them)"
            )


def _swap_in(staging: Path, frames_dir: Path) -> None:
    """Put the folder ``staging`` in place of ``frames_dir``; on failure the old frames stay."""
    if not frames_dir.exists():
        os.replace(staging, frames_dir)
        return
    old = Path(tempfile.mkdtemp(dir=frames_dir.parent, prefix=".frames.old-"))
    try:
        os.replace(frames_dir, old / "frames")
    except OSError:
        old.rmdir()
        raise
    try:
        os.replace(staging, frames_dir)
    except OSError:
        os.replace(old / "frames", frames_dir)  # put the old frames back
        old.rmdir()
        raise
    shutil.rmtree(old, ignore_errors=True)
