"""The project folder: where a clip's input lives and where everything made from it goes.

Layout (written down here once; every other module asks ``Project`` for its paths)::

    projects/NAME/frames/00000.jpg ...   input frames (jpg or png, sorted by name)
    projects/NAME/masks/00000.png ...    optional user masks, one per frame (white = foreground)
    projects/NAME/scribbles/ ...         optional user scribbles
    projects/NAME/results/...            everything the tool writes:
        project.json                     fps, source video, size (``meta_path``)
        log.txt                          (``log_path``)
        training_log.jsonl               loss terms and PSNR while training (``training_log_path``)
        report.html  report/             the report page and its media (``report_path``)
        renders.json                     what ``render`` wrote (``renders_record_path``)
        cache/                           preprocessing caches, keyed by ``frames_fingerprint``
        checkpoints/  evaluation/  atlases/  edited_atlases/  animated_atlases/
        baked/  renders/  masks/
        studio/                          the studio's saved edit: atlases/, render.mp4, studio.json

The tool reads ``frames/``, ``masks/`` and ``scribbles/`` and never writes there, except
``init_project``, which fills ``frames/`` from a video.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from neural_atlases.errors import UserError
from neural_atlases.io.files import (
    atomic_write_path,
    check_frames,
    check_masks,
    check_scribbles,
    image_size,
    list_frame_files,
)

if TYPE_CHECKING:
    pass

PROJECTS_DIR = Path("projects")
"""Where bare project names live, relative to the working directory."""


def resolve_project(arg: str | os.PathLike, must_exist: bool = True) -> Path:
    """The project folder that ``-p ARG`` means.

    An existing folder path wins; otherwise a bare name (no ``/``) maps to ``./projects/NAME``.
    With ``must_exist=False`` the folder need not exist yet (``init``): a bare name then maps to
    ``./projects/NAME`` and anything else is taken as a path. A project that is not found raises
    ``UserError`` saying where it was looked for.
    """
    text = os.fspath(arg)
    if not text.strip():
        raise UserError("empty project name: give a name under ./projects or a path to a folder")
    as_path = Path(text).expanduser()
    is_bare_name = len(Path(text).parts) == 1 and text not in (".", "..") and "/" not in text
    under_projects = PROJECTS_DIR / text
    if as_path.is_dir():
        return as_path
    if is_bare_name and under_projects.is_dir():
        return under_projects
    if as_path.exists():
        raise UserError(f"project is not a folder: {as_path}")
    if not must_exist:
        return under_projects if is_bare_name else as_path
    looked = [str(as_path)]
    if is_bare_name:
        looked.append(str(under_projects))
    raise UserError(f"project not found: {text} (looked in {' and '.join(looked)})")


@dataclass(frozen=True)
class Project:
    """Paths of one project folder (see the module docstring for the layout)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def name(self) -> str:
        return self.root.resolve().name

    # -- user input (read only) -----------------------------------------------------------------
    @property
    def frames_dir(self) -> Path:
        return self.root / "frames"

    @property
    def masks_dir(self) -> Path:
        return self.root / "masks"

    @property
    def scribbles_dir(self) -> Path:
        return self.root / "scribbles"

    # -- tool output ----------------------------------------------------------------------------
    @property
    def results_dir(self) -> Path:
        return self.root / "results"

    @property
    def cache_dir(self) -> Path:
        return self.results_dir / "cache"

    @property
    def checkpoints_dir(self) -> Path:
        return self.results_dir / "checkpoints"

    @property
    def evaluation_dir(self) -> Path:
        return self.results_dir / "evaluation"

    @property
    def atlases_dir(self) -> Path:
        return self.results_dir / "atlases"

    @property
    def edited_atlases_dir(self) -> Path:
        return self.results_dir / "edited_atlases"

    @property
    def animated_atlases_dir(self) -> Path:
        return self.results_dir / "animated_atlases"

    @property
    def baked_dir(self) -> Path:
        return self.results_dir / "baked"

    @property
    def renders_dir(self) -> Path:
        return self.results_dir / "renders"

    @property
    def studio_dir(self) -> Path:
        return self.results_dir / "studio"

    @property
    def masks_out_dir(self) -> Path:
        return self.results_dir / "masks"

    @property
    def masks_about_path(self) -> Path:
        """``masks.json``: which backend made ``results/masks`` and, for ``auto``, which model it
        used and on which keyframes the model ran."""
        return self.results_dir / "masks.json"

    @property
    def meta_path(self) -> Path:
        return self.results_dir / "project.json"

    @property
    def log_path(self) -> Path:
        return self.results_dir / "log.txt"

    @property
    def training_log_path(self) -> Path:
        return self.results_dir / "training_log.jsonl"

    @property
    def report_path(self) -> Path:
        return self.results_dir / "report.html"

    @property
    def report_media_dir(self) -> Path:
        return self.results_dir / "report"

    @property
    def renders_record_path(self) -> Path:
        return self.results_dir / "renders.json"

    # -- helpers --------------------------------------------------------------------------------
    def frame_files(self) -> list[Path]:
        """The input frame files, sorted (``UserError`` if ``frames/`` is missing)."""
        return list_frame_files(self.frames_dir)

    def has_user_masks(self) -> bool:
        """Whether ``masks/`` exists and holds at least one image."""
        return self.masks_dir.is_dir() and bool(list_frame_files(self.masks_dir))

    def load_meta(self) -> dict:
        """``results/project.json`` as a dict (``{}`` if there is none yet)."""
        if not self.meta_path.exists():
            return {}
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise UserError(f"cannot read {self.meta_path}: {e}") from e
        if not isinstance(meta, dict):
            raise UserError(f"cannot read {self.meta_path}: expected a JSON object")
        return meta

    def save_meta(self, meta: dict) -> None:
        """Replace ``results/project.json`` with ``meta`` (atomically)."""
        text = json.dumps(meta, indent=2, sort_keys=True) + "\n"
        with atomic_write_path(self.meta_path) as tmp:
            tmp.write_text(text, encoding="utf-8")

    def update_meta(self, **values: object) -> dict:
        """Set some keys of ``results/project.json``, keeping the others; returns the new dict."""
        meta = self.load_meta()
        meta.update(values)
        self.save_meta(meta)
        return meta

    def fps(self, default: float = 30.0) -> float:
        """The clip's frame rate from ``project.json``, or ``default`` if it does not say."""
        value = self.load_meta().get("fps")
        return float(value) if isinstance(value, (int, float)) and value > 0 else default


def check_inputs(project: Project) -> tuple[int, int, int]:
    """``(frames, width, height)`` of a project's input, checked from file headers alone (no pixel
    decoded, no torch): one frame size for all, one mask per frame of that size where the user gave
    masks, scribbles named after frames and of that size. ``UserError`` names the first problem."""
    count, width, height = check_frames(project.frames_dir)
    if project.has_user_masks():
        check_masks(project.masks_dir, count, width, height)
    check_scribbles(project.scribbles_dir, project.frame_files(), width, height)
    return count, width, height


def frames_fingerprint(project: Project | str | os.PathLike) -> str:
    """A short hash of the input frames' names, sizes and modification times.

    Cheap (no pixel is read); changes whenever a frame is added, removed, renamed or rewritten.
    Caches store it and are rebuilt when it no longer matches.
    """
    if not isinstance(project, Project):
        project = Project(Path(project))
    digest = hashlib.sha256()
    for path in project.frame_files():
        stat = path.stat()
        digest.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def frame_index_of(path: Path, frame: int | None, num_frames: int) -> int:
    """The frame an edited frame edits: ``--frame`` or the number its file name starts with."""
    if frame is None:
        digits = "".join(c for c in path.stem if c.isdigit())
        if not digits:
            raise UserError(
                f"cannot tell which frame {path.name} edits: name it like 00007.png or give --frame"
            )
        frame = int(digits)
    if not 0 <= frame < num_frames:
        raise UserError(f"frame {frame} is out of range: the project has frames 0..{num_frames - 1}")
    return frame


def check_edited_frame(project: Project, edited_path: Path, frame: int | None) -> None:
    """What ``-cf`` needs, from file headers: a frame it names, and that frame's size."""
    files = project.frame_files()
    t = frame_index_of(edited_path, frame, len(files))
    size, wanted = image_size(edited_path), image_size(files[t])
    if size != wanted:
        raise UserError(f"{edited_path} is {size[0]}x{size[1]} but frame {t} is {wanted[0]}x{wanted[1]}")


def project_cuts(project: Project) -> list[int]:
    """Frames of a project that start a new shot (``io.shots``): from ``project.json`` where it
    records the cuts of these very frames (``init`` does), else found in the frames' thumbnails
    and recorded there. An unreadable frame raises ``UserError``."""
    from neural_atlases.io.images import read_image  # the decoders: not needed to open a project
    from neural_atlases.io.shots import cut_scores, find_cuts, thumbnail

    fingerprint = frames_fingerprint(project)
    record = project.load_meta().get("cuts")
    if isinstance(record, dict) and record.get("frames") == fingerprint:
        return [int(c) for c in record.get("at") or []]
    cuts = find_cuts(cut_scores([thumbnail(read_image(path)) for path in project.frame_files()]))
    project.update_meta(cuts={"frames": fingerprint, "at": cuts})
    return cuts


def check_single_shot(project: Project) -> None:
    """``UserError`` if the project's frames span a cut: one atlas holds one shot."""
    cuts = project_cuts(project)
    if cuts:
        raise UserError(
            f"project {project.name} spans {len(cuts) + 1} shots (new shots start at frames "
            f"{', '.join(map(str, cuts))}) and one atlas holds one shot: make a project of each "
            "with `init --video V --shot all`, or take one with `--shot K` "
            "(or train --ignore-cuts if these are not cuts)"
        )
