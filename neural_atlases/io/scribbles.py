"""User scribbles: which layer some pixels belong to, on as few frames as the user likes.

``projects/NAME/scribbles/00007.png`` marks frame ``frames/00007.*`` (the same name, any image
suffix). Black (or transparent) is "no scribble"; each other colour marks one layer. As in the
original tool, the distinct non-black colours are the foreground layers in order of first
appearance (files in frame order, pixels row by row). ``scribbles/layers.json`` maps colours
explicitly instead, e.g. ``{"#ff0000": "background", "#00ff00": 0, "#0000ff": 1}``; then every
colour used must be in it. Paint with a hard brush: anti-aliased edges are colours of their own.

Labels follow the layer convention of ``neural_atlases.conventions``: ``[T, H, W]`` int16, -1 where
nothing is scribbled, 0 for the background, ``k + 1`` for foreground layer ``k``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from neural_atlases.errors import UserError
from neural_atlases.io.files import check_scribbles, list_frame_files
from neural_atlases.io.images import read_rgba

LAYERS_FILE = "layers.json"
"""The optional colour -> layer map inside ``scribbles/``."""

NO_SCRIBBLE = -1
"""Label of a pixel that no scribble marks."""

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def colour_key(rgb: np.ndarray) -> np.ndarray:
    """Colours ``[..., 3]`` uint8 as one integer each ``[...]`` (``0xRRGGBB``)."""
    c = np.asarray(rgb).astype(np.int64)
    return (c[..., 0] << 16) | (c[..., 1] << 8) | c[..., 2]


def colour_name(key: int) -> str:
    """``0xRRGGBB`` -> ``"#rrggbb"``."""
    return f"#{int(key):06x}"


def parse_layer_map(data: object, foreground_layers: int, where: str) -> dict[int, int]:
    """A ``layers.json`` object -> ``{colour key: label}`` (0 background, ``k + 1`` layer ``k``).

    Raises ``UserError`` naming the entry for a bad colour, a bad layer, or a layer that the
    config does not have.
    """
    if not isinstance(data, dict):
        raise UserError(
            f"{where}: must hold a JSON object mapping '#rrggbb' to 'background' or a layer number"
        )
    out: dict[int, int] = {}
    for name, layer in data.items():
        if not _HEX.match(name):
            raise UserError(f"{where}: '{name}' is not a colour; write colours as '#rrggbb'")
        key = int(name[1:], 16)
        if key == 0:
            raise UserError(f"{where}: '{name}' is black, which means 'no scribble'")
        if layer == "background":
            out[key] = 0
        elif isinstance(layer, int) and not isinstance(layer, bool):
            if not 0 <= layer < foreground_layers:
                raise UserError(
                    f"{where}: '{name}' maps to foreground layer {layer}, but the config has "
                    f"{foreground_layers} foreground layer(s) (0..{foreground_layers - 1})"
                )
            out[key] = layer + 1
        else:
            raise UserError(f"{where}: '{name}' maps to {layer!r}; use 'background' or a layer number")
    return out


def read_layer_map(path: Path, foreground_layers: int) -> dict[int, int]:
    """Read ``scribbles/layers.json`` (see ``parse_layer_map``)."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    return parse_layer_map(data, foreground_layers, str(path))


def labels_from_colours(
    images: list[np.ndarray],  # each [H, W, 4] uint8 RGBA
    layer_map: dict[int, int] | None,
    foreground_layers: int,
    names: list[str],
) -> list[np.ndarray]:
    """Scribble images -> labels ``[H, W]`` int16 each (see the module docstring).

    Without ``layer_map``, distinct colours become foreground layers 0, 1, ... in order of first
    appearance. ``names`` name the images in error messages.
    """
    mapping = dict(layer_map) if layer_map is not None else {}
    out = []
    for image, name in zip(images, names, strict=True):
        keys = colour_key(image[..., :3])
        keys[image[..., 3] < 128] = 0  # transparent: no scribble
        labels = np.full(keys.shape, NO_SCRIBBLE, np.int16)
        flat = keys.ravel()
        unique, first = np.unique(flat, return_index=True)
        for key in unique[np.argsort(first)]:  # colours in order of first appearance
            if key == 0:
                continue
            if key not in mapping:
                if layer_map is not None:
                    raise UserError(f"{name}: colour {colour_name(key)} is not in {LAYERS_FILE}")
                if len(mapping) >= foreground_layers:
                    raise UserError(
                        f"{name}: colour {colour_name(key)} would be foreground layer {len(mapping)}, but "
                        f"the config has {foreground_layers} foreground layer(s); map colours (and the "
                        f"background) in {LAYERS_FILE}"
                    )
                mapping[int(key)] = len(mapping) + 1
            labels[keys == key] = mapping[int(key)]
        out.append(labels)
    return out


def read_scribbles(
    folder: str | os.PathLike,
    frame_files: list[Path],
    height: int,
    width: int,
    foreground_layers: int,
) -> np.ndarray | None:
    """A project's scribbles as labels ``[T, H, W]`` int16 (``T = len(frame_files)``), or None
    when ``folder`` is missing or holds no images.

    A scribble whose name is not a frame's, or whose size differs from the frames', raises
    ``UserError`` naming the file; so do more colours than layers and a bad ``layers.json``.
    Nothing in ``folder`` is modified.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    files = list_frame_files(folder)
    if not files:
        return None
    layers_path = folder / LAYERS_FILE
    layer_map = read_layer_map(layers_path, foreground_layers) if layers_path.is_file() else None
    check_scribbles(folder, frame_files, width, height)  # names and sizes, from the headers
    index = {p.stem: t for t, p in enumerate(frame_files)}
    files = sorted(files, key=lambda p: index[p.stem])
    frames_at = [index[path.stem] for path in files]
    images = [read_rgba(path) for path in files]
    labels = np.full((len(frame_files), height, width), NO_SCRIBBLE, np.int16)
    names = [str(p) for p in files]
    for t, lab in zip(
        frames_at, labels_from_colours(images, layer_map, foreground_layers, names), strict=True
    ):
        labels[t] = lab
    return labels
