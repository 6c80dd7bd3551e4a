"""One studio session on one trained project: its baked maps and frames, the edit being made, and
saving it (the edited atlases, then the video rendered by the same code as ``render``).

Reads the baked maps and atlases only (``pipeline.trained.load_trained``), never the networks.
What is saved goes to ``results/studio/`` (``Project.studio_dir``): ``atlases/`` (one PNG per
layer, as ``atlases`` names them), ``studio.json`` (the layers removed) and ``render.mp4``. A
studio started again on the project opens the saved edit.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neural_atlases.baking.bake import Baked
from neural_atlases.conventions import atlas_file_name, layer_name
from neural_atlases.editing.render import RenderOptions
from neural_atlases.errors import UserError
from neural_atlases.io.images import atomic_write_path, read_rgba, write_image
from neural_atlases.io.project import Project
from neural_atlases.io.video import write_video
from neural_atlases.pipeline.edits import atlas_renderer, render_all
from neural_atlases.studio.edits import EditHistory, carry_frame_stroke, erase_atlas, paint_atlas
from neural_atlases.studio.frames import MapEncoding, check_layers, map_encoding, pack_frame

SESSION_IDLE_S = 30.0
"""A page that has not been heard from for this long no longer holds the session."""


@dataclass
class SaveState:
    """Where a save stands, for the page's progress bar."""

    state: str = "idle"
    """``idle``, ``saving``, ``done`` or ``failed``."""
    done: int = 0
    total: int = 0
    message: str = ""


@dataclass
class Holder:
    """The page that holds the edit session."""

    token: str = ""
    seen: float = field(default=-float("inf"))


class StudioSession:
    """The edit of one project (thread-safe: every method takes the lock)."""

    def __init__(self, project: Project, baked: Baked, frames: np.ndarray, fps: float):
        check_layers(baked)
        self.project, self.baked, self.frames, self.fps = project, baked, frames, fps
        self.encodings: list[MapEncoding] = [map_encoding(np.asarray(m)) for m in baked.maps]
        self.lock = threading.RLock()
        saved, removed = load_saved(project, baked)
        self.history = EditHistory(saved)
        self.removed: frozenset[int] = removed
        self.save_state = SaveState()
        self.holder = Holder()
        self.version = 0

    # -- the page that edits ----------------------------------------------------------------
    def claim(self, token: str | None, now: float | None = None) -> str | None:
        """The session token for a page (its own again after a reload), or None while another
        page holds the session."""
        now = time.monotonic() if now is None else now
        with self.lock:
            h = self.holder
            if token and token == h.token:
                h.seen = now
                return token
            if h.token and now - h.seen < SESSION_IDLE_S:
                return None
            self.holder = Holder(secrets.token_urlsafe(16), now)
            return self.holder.token

    def holds(self, token: str | None, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self.lock:
            if token and token == self.holder.token:
                self.holder.seen = now
                return True
            return False

    # -- what the page shows ----------------------------------------------------------------
    def meta(self) -> dict:
        t, h, w = self.baked.shape
        layers = [
            {
                "name": layer_name(k),
                "width": int(a.shape[1]),
                "height": int(a.shape[0]),
                "map_offset": e.offset,
                "map_scale": e.scale,
            }
            for k, (a, e) in enumerate(zip(self.baked.atlases, self.encodings, strict=True))
        ]
        depth = [[int(v) for v in self.baked.depth_at(i)] for i in range(t)]
        with self.lock:
            return {
                "project": self.project.name,
                "frames": t,
                "width": w,
                "height": h,
                "fps": self.fps,
                "layers": layers,
                "depth": depth,
                **self._edit_state(),
            }

    def _edit_state(self) -> dict:
        return {
            "removed": sorted(self.removed),
            "can_undo": self.history.can_undo,
            "can_redo": self.history.can_redo,
            "version": self.version,
        }

    def frame_block(self, t: int) -> bytes:
        self.check_frame(t)
        return pack_frame(self.baked, self.frames[t], t, self.encodings)

    def atlas(self, layer: int, which: str) -> np.ndarray:
        """A layer's atlas ``[S_h, S_w, 4]`` uint8: ``original`` or ``current``."""
        self.check_layer(layer)
        if which == "original":
            return self.baked.atlases[layer]
        with self.lock:
            return self.history.current[layer]

    # -- edits ------------------------------------------------------------------------------
    def frame_stroke(self, t: int, overlay: np.ndarray, erase: bool) -> dict:
        self.check_frame(t)
        with self.lock:
            before = self.history.current
            after = carry_frame_stroke(self.baked, before, self.frames[t], overlay, t, erase)
            return self._push(before, after)

    def atlas_stroke(self, layer: int, overlay: np.ndarray, erase: bool) -> dict:
        self.check_layer(layer)
        with self.lock:
            before = self.history.current
            atlas = before[layer]
            new = (
                erase_atlas(atlas, self.baked.atlases[layer], overlay)
                if erase
                else paint_atlas(atlas, overlay)
            )
            after = [new if k == layer else a for k, a in enumerate(before)]
            return self._push(before, after)

    def _push(self, before: list[np.ndarray], after: list[np.ndarray]) -> dict:
        self.history.push(after)
        return self._changed(before)

    def _changed(self, before: list[np.ndarray]) -> dict:
        self.version += 1
        return {"changed": self.history.changed_layers(before), **self._edit_state()}

    def undo(self) -> dict:
        with self.lock:
            before = self.history.current
            self.history.undo()
            return self._changed(before)

    def redo(self) -> dict:
        with self.lock:
            before = self.history.current
            self.history.redo()
            return self._changed(before)

    def set_removed(self, removed: list[int]) -> dict:
        for k in removed:
            self.check_layer(k)
        if len(set(removed)) >= self.baked.num_layers:
            raise UserError("cannot remove every layer")
        with self.lock:
            self.removed = frozenset(removed)
            self.version += 1
            return self._edit_state()

    # -- saving -----------------------------------------------------------------------------
    def start_save(self) -> bool:
        """Save in a thread (``save_state`` says how far it got); False if a save is running."""
        with self.lock:
            if self.save_state.state == "saving":
                return False
            self.save_state = SaveState("saving", 0, self.frames.shape[0], "writing the atlases")
            atlases, removed = list(self.history.current), self.removed
        threading.Thread(target=self._save, args=(atlases, removed), daemon=True).start()
        return True

    def _save(self, atlases: list[np.ndarray], removed: frozenset[int]) -> None:
        def progress(done: int, total: int) -> None:
            with self.lock:
                self.save_state = SaveState("saving", done, total, "rendering")

        try:
            out = save_edit(self.project, self.baked, self.frames, self.fps, atlases, removed, progress)
        except (UserError, OSError) as exc:
            with self.lock:
                self.save_state = SaveState("failed", 0, 0, str(exc))
            return
        with self.lock:
            self.save_state = SaveState("done", self.frames.shape[0], self.frames.shape[0], str(out))

    def save_status(self) -> dict:
        with self.lock:
            s = self.save_state
            return {"state": s.state, "done": s.done, "total": s.total, "message": s.message}

    # -- checks -----------------------------------------------------------------------------
    def check_frame(self, t: int) -> None:
        if not 0 <= t < self.frames.shape[0]:
            raise UserError(
                f"frame {t} is out of range: the project has frames 0..{self.frames.shape[0] - 1}"
            )

    def check_layer(self, layer: int) -> None:
        if not 0 <= layer < self.baked.num_layers:
            raise UserError(f"layer {layer} is out of range: the project has {self.baked.num_layers} layers")


def saved_atlas_paths(project: Project, num_layers: int) -> list[Path]:
    return [project.studio_dir / "atlases" / atlas_file_name(k) for k in range(num_layers)]


def save_edit(
    project: Project,
    baked: Baked,
    frames: np.ndarray,  # [T, H, W, 3] uint8
    fps: float,
    atlases: list[np.ndarray],
    removed: frozenset[int],
    progress=None,
) -> Path:
    """Write the edited atlases and ``studio.json``, then render the video with them as ``render
    -b ATLAS -f ATLAS ... [-r LAYER]`` does; returns the video's path."""
    paths = saved_atlas_paths(project, baked.num_layers)
    for path, atlas in zip(paths, atlases, strict=True):
        write_image(path, atlas)
    with atomic_write_path(project.studio_dir / "studio.json") as tmp:
        tmp.write_text(json.dumps({"removed": [layer_name(k) for k in sorted(removed)]}))
    renderer = atlas_renderer(baked, frames, list[Path | None](paths), RenderOptions(remove=removed))
    rendered = render_all(renderer, frames, progress=progress)
    out = project.studio_dir / "render.mp4"
    write_video(out, rendered, fps)
    return out


def load_saved(project: Project, baked: Baked) -> tuple[list[np.ndarray], frozenset[int]]:
    """The saved edit (the atlases and the layers removed), or the unedited atlases when none
    was saved or what was saved does not fit the project any more."""
    original = [a for a in baked.atlases]
    paths = saved_atlas_paths(project, baked.num_layers)
    if not all(p.is_file() for p in paths):
        return original, frozenset()
    try:
        atlases = [read_rgba(p) for p in paths]
        names = json.loads((project.studio_dir / "studio.json").read_text(encoding="utf-8"))["removed"]
    except (UserError, OSError, ValueError, KeyError, TypeError):
        return original, frozenset()
    if any(a.shape != b.shape for a, b in zip(atlases, original, strict=True)):
        return original, frozenset()
    index = {layer_name(k): k for k in range(baked.num_layers)}
    removed = frozenset(index[n] for n in names if n in index)
    return atlases, removed if len(removed) < baked.num_layers else frozenset()
