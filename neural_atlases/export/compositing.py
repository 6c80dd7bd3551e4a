"""Export for compositing tools (Nuke, After Effects, Resolve/Fusion): what they need to apply an
atlas edit themselves.

    DIR/atlases/background_atlas.png, foreground_atlas_0.png   the static atlases, RGBA
    DIR/layers/background/00000.png ...     each layer as the frame shows it: RGBA, straight alpha
    DIR/layers/foreground_0/00000.png ...     (RGB: the layer's own colour; A: its visible share)
    DIR/mattes/foreground_0/00000.png ...   8-bit grey: a foreground layer's visible share
    DIR/clean_plate/00000.png ...           the video with every foreground layer removed
    DIR/clean_plate_invented/00000.png ...  8-bit grey: 255 where the clean plate shows background
                                            that no frame showed (inpainted, ``baking.unseen``)
    DIR/stmaps/background/00000.png ...     16-bit RGB STMaps into each layer's atlas image
    DIR/manifest.json                       sizes, frame rate, layer names, conventions

The layers, premultiplied by their alpha and added, give back the input frame. An atlas remapped
through a layer's STMap and multiplied by its matte (the background's: one minus the foreground
mattes) is that layer's part of the reconstruction; an edited atlas put through the same gives the
edit on every frame.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from neural_atlases.baking.bake import Baked
from neural_atlases.baking.unseen import invented_matte, unseen_texels
from neural_atlases.conventions import (
    atlas_file_name,
    frame_file_name,
    layer_name,
    stmap_to_texel,
    texel_to_stmap,
)
from neural_atlases.editing.layers import layer_colours
from neural_atlases.editing.render import Renderer, RenderOptions
from neural_atlases.io.images import atomic_write_path, read_mask, read_rgb16, read_rgba, write_image
from neural_atlases.progress import ProgressFn

MANIFEST_VERSION = 1


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] (clipped) to uint8, rounded."""
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def stmap_image(texel_map: np.ndarray, atlas_hw: tuple[int, int]) -> np.ndarray:
    """A frame's map into an atlas ``[H, W, 2]`` (texels) as a 16-bit STMap ``[H, W, 3]`` uint16."""
    st = texel_to_stmap(texel_map, *atlas_hw)
    out = np.zeros((*texel_map.shape[:2], 3), np.uint16)
    out[..., :2] = np.round(st * 65535.0).astype(np.uint16)
    return out


def layer_images(baked: Baked, t: int, frame: np.ndarray) -> list[np.ndarray]:
    """Each layer of frame ``t`` as the frame shows it: ``[H, W, 4]`` uint8 RGBA, straight alpha."""
    colours, residual = layer_colours(baked, t, frame)
    shares = np.asarray(baked.shares[t], np.float32)
    return [
        np.concatenate([to_uint8(colours[k] + residual), to_uint8(shares[..., k : k + 1])], -1)
        for k in range(baked.num_layers)
    ]


def manifest(baked: Baked, fps: float) -> dict:
    """What ``manifest.json`` says: sizes, frame rate, layers and the conventions of every file."""
    frames, height, width = baked.shape
    layers = []
    for k in range(baked.num_layers):
        name = layer_name(k)
        ah, aw = baked.atlases[k].shape[:2]
        layers.append(
            {
                "name": name,
                "atlas": f"atlases/{atlas_file_name(k)}",
                "atlas_size": [aw, ah],
                "layer": f"layers/{name}",
                "matte": f"mattes/{name}" if k > 0 else None,
                "stmap": f"stmaps/{name}",
            }
        )
    return {
        "version": MANIFEST_VERSION,
        "frames": frames,
        "size": [width, height],
        "fps": fps,
        "frame_files": f"{frame_file_name(0)} .. {frame_file_name(frames - 1)} in each folder",
        "layers": layers,
        "clean_plate": "clean_plate",
        "clean_plate_invented": "clean_plate_invented",
        "conventions": {
            "colour": "8-bit sRGB, as the input frames",
            "layers": "RGBA, straight (unpremultiplied) alpha = the layer's visible share of the pixel; "
            "the layers premultiplied and added give back the input frame",
            "mattes": "8-bit grey, the foreground layer's visible share; "
            "the background's is 1 minus their sum",
            "stmaps": "16-bit RGB PNG as Nuke's STMap node reads it: R = s = (x + 0.5) / atlas width "
            "from the left, G = t = 1 - (y + 0.5) / atlas height from the bottom, over the atlas image; "
            "B = 0",
            "atlases": "RGBA; alpha = the part of the atlas the video uses",
            "clean_plate_invented": "8-bit grey, 255 where the clean plate reads background texels "
            "that no frame showed (filled by inpainting the atlas), 0 elsewhere",
        },
    }


def export_project(
    baked: Baked, frames: np.ndarray, out: Path, fps: float, progress: ProgressFn | None = None
) -> dict:
    """Write everything of the module docstring under ``out``; returns the manifest."""
    n = baked.num_layers
    for k, atlas in enumerate(baked.atlases):
        write_image(out / "atlases" / atlas_file_name(k), atlas)
    clean = Renderer(baked, [None] * n, RenderOptions(remove=frozenset(range(1, n))))
    unseen = unseen_texels(baked.maps[0], baked.shares[..., 0], baked.atlases[0].shape[:2])
    for t in range(frames.shape[0]):
        name = frame_file_name(t)
        for k, image in enumerate(layer_images(baked, t, frames[t])):
            write_image(out / "layers" / layer_name(k) / name, image)
            if k > 0:
                write_image(out / "mattes" / layer_name(k) / name, image[..., 3])
            texel_map = np.asarray(baked.maps[k][t], np.float32)
            write_image(
                out / "stmaps" / layer_name(k) / name, stmap_image(texel_map, baked.atlases[k].shape[:2])
            )
        write_image(out / "clean_plate" / name, clean.frame(t, frames[t]))
        write_image(out / "clean_plate_invented" / name, invented_matte(baked.maps[0][t], unseen))
        if progress is not None:
            progress(t + 1, frames.shape[0])
    info = manifest(baked, fps)
    with atomic_write_path(out / "manifest.json") as tmp:
        tmp.write_text(json.dumps(info, indent=2) + "\n")
    return info


def composite_export(folder: Path, atlases: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """What a compositor does with an export, done with ``cv2.remap``: each layer's atlas (or a
    replacement from ``atlases``, by layer name) read through the layer's STMaps, weighted by its
    matte (the background's: one minus the foreground mattes), added up. ``[T, H, W, 3]`` uint8.

    It is ``render --reconstruct`` rebuilt from the exported files alone (a check of the export,
    and the recipe for other tools)."""
    info = json.loads((folder / "manifest.json").read_text())
    frames = []
    for t in range(info["frames"]):
        name = frame_file_name(t)
        total: np.ndarray | float = 0.0
        foreground: np.ndarray | float = 0.0
        for layer in reversed(info["layers"]):  # foreground mattes first: the background needs them
            atlas = (atlases or {}).get(layer["name"])
            if atlas is None:
                atlas = read_rgba(folder / layer["atlas"])
            aw, ah = layer["atlas_size"]
            st = read_rgb16(folder / layer["stmap"] / name)[..., :2] / 65535.0
            colour = cv2.remap(
                atlas[..., :3].astype(np.float32),
                stmap_to_texel(st, ah, aw),
                None,
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            if layer["matte"] is None:
                matte = 1.0 - foreground
            else:
                matte = read_mask(folder / layer["matte"] / name)[..., None]
                foreground = foreground + matte
            total = total + colour * matte
        frames.append((np.clip(total, 0.0, 255.0) + 0.5).astype(np.uint8))
    return np.stack(frames)
