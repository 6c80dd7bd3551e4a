"""The atlases a user gives to ``render``: static images or folders of animated ones.

A static atlas is an edited copy of one that ``atlases`` wrote; its edit is the same on every frame.
An animated atlas is a folder with one image per frame (``atlases -a`` writes them): frame ``t``
uses image ``t``, and its edit is what differs from the unedited animated atlas of frame ``t``,
which is made again here exactly as ``atlases -a`` made it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neural_atlases.baking.bake import Baked
from neural_atlases.conventions import atlas_file_name, atlas_stem, frame_file_name
from neural_atlases.editing.frame_edit import edited_atlas, splat_frame_edit
from neural_atlases.editing.layers import animated_atlas
from neural_atlases.editing.render import (
    ColourSource,
    EditSource,
    Renderer,
    RenderOptions,
    edit_from_atlas,
    static_edit,
)
from neural_atlases.errors import UserError
from neural_atlases.io.images import list_frame_files, read_image, read_rgba, write_image
from neural_atlases.io.project import Project, frame_index_of
from neural_atlases.pipeline.trained import load_trained
from neural_atlases.progress import ProgressFn


class AnimatedAtlas:
    """One layer's animated atlas folder, read frame by frame: ``edit(t)`` and ``colour(t)``."""

    def __init__(self, baked: Baked, layer: int, frames: np.ndarray, folder: Path):
        files = list_frame_files(folder)
        if len(files) != frames.shape[0]:
            raise UserError(
                f"{folder} holds {len(files)} images but the project has {frames.shape[0]} frames: "
                "an animated atlas needs one image per frame"
            )
        self.baked, self.layer, self.frames, self.files = baked, layer, frames, files
        self._t: int | None = None
        self._edit: np.ndarray | None = None
        self._colour: np.ndarray | None = None

    def _load(self, t: int) -> None:
        if self._t == t:
            return
        original = animated_atlas(self.baked, self.layer, t, self.frames[t])
        self._edit = edit_from_atlas(original, read_rgba(self.files[t]), name=str(self.files[t]))
        self._colour = original[..., :3].astype(np.float32) / 255.0
        self._t = t

    def edit(self, t: int) -> np.ndarray | None:
        self._load(t)
        return self._edit

    def colour(self, t: int) -> np.ndarray:
        self._load(t)
        assert self._colour is not None
        return self._colour


def given_atlases(
    baked: Baked, frames: np.ndarray, given: list[Path | None]
) -> tuple[list[EditSource | None], list[ColourSource | None]]:
    """Per layer, the edit source and (for animated atlases) the per-frame colour source of the
    atlases a user gave (``None``: not given)."""
    edits: list[EditSource | None] = []
    bases: list[ColourSource | None] = []
    for layer, path in enumerate(given):
        if path is None:
            edits.append(None)
            bases.append(None)
        elif path.is_dir():
            animated = AnimatedAtlas(baked, layer, frames, path)
            edits.append(animated.edit)
            bases.append(animated.colour)
        else:
            edit = edit_from_atlas(baked.atlases[layer], read_rgba(path), name=str(path))
            edits.append(static_edit(edit) if edit is not None else None)
            bases.append(None)
    return edits, bases


def write_animated_atlases(
    baked: Baked, frames: np.ndarray, folder: Path, progress: ProgressFn | None = None
) -> list[Path]:
    """Write ``folder/background_atlas/00000.png``, ``folder/foreground_atlas_0/00000.png``, ...:
    one RGBA atlas per frame and layer. Returns the layer folders."""
    folders = [folder / atlas_stem(k) for k in range(baked.num_layers)]
    total = frames.shape[0] * baked.num_layers
    for t in range(frames.shape[0]):
        for k, layer_folder in enumerate(folders):
            write_image(layer_folder / frame_file_name(t), animated_atlas(baked, k, t, frames[t]))
            if progress is not None:
                progress(t * baked.num_layers + k + 1, total)
    return folders


def atlas_renderer(
    baked: Baked, frames: np.ndarray, given: list[Path | None], options: RenderOptions
) -> Renderer:
    """The renderer of the atlases a user gave (``given_atlases``) with ``options``: what
    ``render`` and the studio's save both run (every given atlas is read and checked here)."""
    edits, bases = given_atlases(baked, frames, given)
    return Renderer(baked, edits, options, bases)


def render_all(renderer: Renderer, frames: np.ndarray, progress: ProgressFn | None = None) -> np.ndarray:
    """Every frame ``[T, H, W, 3]`` uint8 rendered."""
    rendered = np.empty_like(frames)
    for t, image in enumerate(renderer.frames(frames)):
        rendered[t] = image
        if progress is not None:
            progress(t + 1, frames.shape[0])
    return rendered


def atlases_from_frame(project: Project, edited_path: Path, frame: int | None, out: Path) -> list[Path]:
    baked = load_trained(project)
    files = project.frame_files()
    t = frame_index_of(edited_path, frame, len(files))
    original = read_image(files[t])
    edited = read_image(edited_path)
    if edited.shape != original.shape:
        raise UserError(
            f"{edited_path} is {edited.shape[1]}x{edited.shape[0]} but frame {t} is "
            f"{original.shape[1]}x{original.shape[0]}"
        )
    paths = []
    for layer, edit in enumerate(splat_frame_edit(original, edited, t, baked)):
        path = out / atlas_file_name(layer)
        write_image(path, edited_atlas(baked.atlases[layer], edit))
        paths.append(path)
    return paths
