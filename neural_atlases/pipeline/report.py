"""The report job: gather what a project's ``results/`` holds and write ``results/report.html``.

``write_report`` only reads (the training log, ``project.json``, the media of
``results/report/``, ``renders.json``) and writes the page: cheap enough for every evaluation of a
training run. ``refresh_media`` makes the videos and atlas images of a baked model (a few seconds
for a short clip); ``build_report`` (the ``report`` command) does that first when the media are
missing or show another model than the checkpoint's.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from neural_atlases.baking.bake import Baked
from neural_atlases.errors import UserError
from neural_atlases.io.images import atomic_write_path
from neural_atlases.io.project import Project
from neural_atlases.pipeline.trained import checkpoint_path, frames_for, load_trained
from neural_atlases.progress import Progress
from neural_atlases.report.media import MediaManifest, read_manifest, write_media
from neural_atlases.report.page import ReportData, render_page
from neural_atlases.training.checkpoint import read_checkpoint
from neural_atlases.training.log import loss_history, read_log


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- renders.json ---------------------------------------------------------------------------------
def read_renders(project: Project) -> list[dict]:
    """The renders recorded so far, oldest first (``[]`` when none or unreadable)."""
    path = project.renders_record_path
    if not path.is_file():
        return []
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [r for r in records if isinstance(r, dict) and "path" in r] if isinstance(records, list) else []


def record_render(project: Project, out: Path, what: str) -> None:
    """Add a render to ``results/renders.json`` (a later render to the same path replaces it)."""
    path = str(out.resolve())
    records = [r for r in read_renders(project) if r["path"] != path]
    records.append({"path": path, "what": what, "time": utc_now()})
    with atomic_write_path(project.renders_record_path) as tmp:
        tmp.write_text(json.dumps(records, indent=2), encoding="utf-8")


def _render_rows(project: Project) -> list[dict]:
    rows = []
    for r in read_renders(project):
        target = Path(r["path"])
        try:
            href = Path(os.path.relpath(target, project.report_path.parent.resolve())).as_posix()
        except ValueError:  # on another drive (Windows): no relative path
            href = target.as_uri()
        rows.append({**r, "href": href, "exists": target.exists()})
    return rows


# -- media ----------------------------------------------------------------------------------------
def refresh_media(project: Project, baked: Baked, frames: np.ndarray, key: str, step: int) -> MediaManifest:
    """Write the report's videos and atlas images of a baked model into ``results/report/``."""
    with Progress(1 + 3 * baked.num_layers, "report videos and atlases", unit="file") as bar:
        return write_media(project.report_media_dir, baked, frames, project.fps(), key, step, bar.callback())


def clear_media(project: Project) -> None:
    """Forget the media (a run that starts afresh makes them stale): the manifest goes first."""
    folder = project.report_media_dir
    (folder / "media.json").unlink(missing_ok=True)
    if folder.is_dir():
        for path in folder.iterdir():
            if path.is_file():
                path.unlink()


# -- the page -------------------------------------------------------------------------------------
def collect(project: Project) -> ReportData:
    """Read everything the page shows from the project's ``results/``."""
    records = read_log(project.training_log_path)
    plans = [r for r in records if r.get("event") == "plan"]
    dones = [r for r in records if r.get("event") == "done"]
    meta = project.load_meta()
    plan = plans[-1] if plans else None
    manifest = read_manifest(project.report_media_dir)
    videos, images = [], []
    if manifest is not None:
        folder = project.report_media_dir
        videos = [
            (t, (folder / f).read_bytes()) for t, f in manifest.videos.items() if (folder / f).is_file()
        ]
        images = [
            (t, (folder / f).read_bytes()) for t, f in manifest.atlases.items() if (folder / f).is_file()
        ]
    frame_names = [p.name for p in project.frame_files()] if project.frames_dir.is_dir() else []
    return ReportData(
        title=project.name,
        root=str(project.root.resolve()),
        generated=utc_now(),
        plan=plan,
        history=loss_history(records),
        done=dones[-1] if dones else None,
        config=(plan or {}).get("config") or meta.get("config"),
        manifest=manifest,
        videos=videos,
        images=images,
        frame_names=frame_names,
        renders=_render_rows(project),
    )


def try_write_report(project: Project) -> None:
    """``write_report`` where the page is a side output (during training): a page that cannot be
    written (a full disk, a read-only project) is a warning, never the end of the run."""
    try:
        write_report(project)
    except UserError as e:
        print(f"warning: the report was not updated: {e}", file=sys.stderr)


def try_record_render(project: Project, out: Path, what: str) -> None:
    """``record_render``, a warning where the project cannot be written (the render itself, made
    elsewhere, is fine)."""
    try:
        record_render(project, out, what)
    except UserError as e:
        print(f"warning: the render was not recorded for the report: {e}", file=sys.stderr)


def write_report(project: Project) -> Path:
    """Write ``results/report.html`` from what ``results/`` holds now; returns its path."""
    html = render_page(collect(project))
    with atomic_write_path(project.report_path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return project.report_path


def trained_key(project: Project) -> str:
    """``fingerprint:step`` of the project's checkpoint (``UserError`` when it has none)."""
    payload = read_checkpoint(checkpoint_path(project))
    return f"{payload['extra'].get('fingerprint')}:{payload['state']['step']}"


def build_report(project: Project) -> Path:
    """The ``report`` command: make the media again when they are missing or show another model
    than the checkpoint's, then write the page."""
    if not checkpoint_path(project).is_file() and not project.training_log_path.is_file():
        raise UserError(
            f"nothing to report in {project.root}: run `neural-atlases train -p {project.root}` first"
        )
    if checkpoint_path(project).is_file():
        key = trained_key(project)
        manifest = read_manifest(project.report_media_dir)
        if manifest is None or manifest.key != key:
            baked = load_trained(project)
            refresh_media(project, baked, frames_for(project, baked), key, int(key.rsplit(":", 1)[1]))
    return write_report(project)
