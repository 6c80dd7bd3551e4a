"""A scene on disk: a project folder, and its ground truth in one ``.npz``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from neural_atlases.data.synthetic.scene import SCRIBBLE_COLOURS, Scene, SceneConfig
from neural_atlases.io.files import frame_file_name
from neural_atlases.io.images import write_image


# -- files ----------------------------------------------------------------------------------------
def write_project(scene: Scene, project_dir: Path, masks: bool = False) -> None:
    """Write a project folder: ``frames/00000.png``..., with ``masks`` also ``masks/`` (white =
    ``alpha > 0.5``), and for two sprites ``scribbles/`` for the scribbled frames only, with a
    ``scribbles/layers.json`` that maps red to the background and green, blue to layers 0, 1."""
    project_dir = Path(project_dir)
    folders = {"frames": [(t, f) for t, f in enumerate(scene.frames)]}
    if masks:
        folders["masks"] = [
            (t, np.where(a > 0.5, 255, 0).astype(np.uint8)) for t, a in enumerate(scene.alpha)
        ]
    if scene.scribbles is not None:
        folders["scribbles"] = [(t, scene.scribbles[t]) for t in scene.scribble_frames]
    for name, images in folders.items():
        (project_dir / name).mkdir(parents=True, exist_ok=True)
        for t, image in images:
            write_image(project_dir / name / frame_file_name(t), image)
    if scene.scribbles is not None:  # red marks the background, not a first foreground layer
        names = ["background", *range(len(SCRIBBLE_COLOURS) - 1)]
        layers = {"#{:02x}{:02x}{:02x}".format(*c): n for c, n in zip(SCRIBBLE_COLOURS, names, strict=True)}
        (project_dir / "scribbles" / "layers.json").write_text(json.dumps(layers, indent=2) + "\n")


def save_ground_truth(scene: Scene, path: Path) -> None:
    """Save every array of ``scene`` and its config (as JSON) in one ``.npz`` file."""
    arrays = {
        f.name: np.asarray(getattr(scene, f.name))
        for f in dataclasses.fields(Scene)
        if f.name != "config" and getattr(scene, f.name) is not None
    }
    arrays["scribble_frames"] = np.asarray(scene.scribble_frames, np.int64)
    config = json.dumps(dataclasses.asdict(scene.config))
    # numpy's stub types every keyword as its allow_pickle: bool
    np.savez_compressed(Path(path), config=np.asarray(config), **arrays)  # type: ignore[arg-type]


def load_ground_truth(path: Path) -> Scene:
    """Load a scene saved by ``save_ground_truth``."""
    with np.load(Path(path), allow_pickle=False) as data:
        values = {name: data[name] for name in data.files}
    config = SceneConfig(**json.loads(str(values.pop("config"))))
    values["scribble_frames"] = [int(t) for t in values["scribble_frames"]]
    values.setdefault("scribbles", None)
    return Scene(config=config, **values)
