"""Scribbles: colours to layer labels, ``layers.json``, and every bad input as one clear error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neural_atlases.errors import UserError
from neural_atlases.io.images import write_image
from neural_atlases.io.scribbles import (
    NO_SCRIBBLE,
    colour_key,
    colour_name,
    labels_from_colours,
    parse_layer_map,
    read_scribbles,
)

T, H, W = 4, 6, 8
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def _frames(root: Path) -> list[Path]:
    files = []
    for t in range(T):
        path = root / "frames" / f"{t:05d}.jpg"
        write_image(path, np.full((H, W, 3), 100, np.uint8))
        files.append(path)
    return files


def _scribble(*strokes: tuple[int, int, tuple[int, int, int]]) -> np.ndarray:
    """An RGB scribble ``[H, W, 3]`` with a pixel of each ``(x, y, colour)``."""
    image = np.zeros((H, W, 3), np.uint8)
    for x, y, colour in strokes:
        image[y, x] = colour
    return image


def _rgba(image: np.ndarray) -> np.ndarray:
    return np.concatenate([image, np.full((*image.shape[:2], 1), 255, np.uint8)], -1)


def test_colour_keys_and_names():
    assert colour_key(np.array([[255, 0, 16]], np.uint8)).tolist() == [0xFF0010]
    assert colour_name(0xFF0010) == "#ff0010"


def test_colours_become_layers_in_order_of_first_appearance():
    first = _rgba(_scribble((5, 0, BLUE), (1, 2, GREEN)))  # blue comes first, row by row
    second = _rgba(_scribble((0, 0, GREEN), (3, 3, BLUE)))
    labels = labels_from_colours([first, second], None, 2, ["a", "b"])
    assert labels[0][0, 5] == 1 and labels[0][2, 1] == 2
    assert labels[1][0, 0] == 2 and labels[1][3, 3] == 1
    assert (labels[0] == NO_SCRIBBLE).sum() == H * W - 2


def test_transparent_pixels_are_no_scribble():
    image = _rgba(_scribble((2, 2, RED)))
    image[2, 2, 3] = 0
    (labels,) = labels_from_colours([image], None, 1, ["a"])
    assert (labels == NO_SCRIBBLE).all()


def test_layer_map_names_the_background_and_layers():
    mapping = parse_layer_map({"#ff0000": "background", "#00ff00": 0, "#0000FF": 1}, 2, "x")
    assert mapping == {0xFF0000: 0, 0x00FF00: 1, 0x0000FF: 2}
    (labels,) = labels_from_colours([_rgba(_scribble((0, 0, RED), (1, 0, BLUE)))], mapping, 2, ["a"])
    assert labels[0, 0] == 0 and labels[0, 1] == 2


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"#00ff00": 2}, "config has 2 foreground layer"),
        ({"#00ff00": -1}, "foreground layer -1"),
        ({"green": 0}, "'green' is not a colour"),
        ({"#000000": 0}, "black"),
        ({"#00ff00": "fg"}, "'background' or a layer number"),
        ([1], "JSON object"),
    ],
)
def test_bad_layer_map_names_the_entry(data, match):
    with pytest.raises(UserError, match=match):
        parse_layer_map(data, 2, "scribbles/layers.json")


def test_read_scribbles_pairs_files_with_frames_by_name(tmp_path):
    files = _frames(tmp_path)
    assert read_scribbles(tmp_path / "scribbles", files, H, W, 2) is None
    write_image(tmp_path / "scribbles" / "00002.png", _scribble((1, 1, GREEN), (6, 4, BLUE)))
    labels = read_scribbles(tmp_path / "scribbles", files, H, W, 2)
    assert labels.shape == (T, H, W) and labels.dtype == np.int16
    assert (labels[[0, 1, 3]] == NO_SCRIBBLE).all()
    assert labels[2, 1, 1] == 1 and labels[2, 4, 6] == 2


def test_read_scribbles_with_layers_json_leaves_the_folder_as_it_was(tmp_path):
    files = _frames(tmp_path)
    folder = tmp_path / "scribbles"
    write_image(folder / "00000.png", _scribble((0, 0, RED), (1, 1, GREEN), (2, 2, BLUE)))
    (folder / "layers.json").write_text(json.dumps({"#ff0000": "background", "#00ff00": 1, "#0000ff": 0}))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    labels = read_scribbles(folder, files, H, W, 2)
    assert (labels[0, 0, 0], labels[0, 1, 1], labels[0, 2, 2]) == (0, 2, 1)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def _error(tmp_path: Path, layers: int = 2) -> str:
    with pytest.raises(UserError) as info:
        read_scribbles(tmp_path / "scribbles", _frames(tmp_path), H, W, layers)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_scribble_of_another_size(tmp_path):
    write_image(tmp_path / "scribbles" / "00001.png", np.zeros((H + 1, W, 3), np.uint8))
    assert "00001.png: scribble size 8x7 differs from the frame size 8x6" in _error(tmp_path)


def test_scribble_not_named_like_a_frame(tmp_path):
    write_image(tmp_path / "scribbles" / "00009.png", np.zeros((H, W, 3), np.uint8))
    assert "no frame is named '00009'" in _error(tmp_path)


def test_more_colours_than_layers(tmp_path):
    write_image(tmp_path / "scribbles" / "00000.png", _scribble((0, 0, RED), (1, 1, GREEN), (2, 2, BLUE)))
    message = _error(tmp_path)
    assert "#0000ff would be foreground layer 2" in message and "layers.json" in message


def test_layers_json_naming_a_missing_layer(tmp_path):
    write_image(tmp_path / "scribbles" / "00000.png", _scribble((0, 0, RED)))
    (tmp_path / "scribbles" / "layers.json").write_text('{"#ff0000": 3}')
    assert "'#ff0000' maps to foreground layer 3" in _error(tmp_path)


def test_colour_missing_from_layers_json(tmp_path):
    write_image(tmp_path / "scribbles" / "00000.png", _scribble((0, 0, RED), (1, 1, GREEN)))
    (tmp_path / "scribbles" / "layers.json").write_text('{"#ff0000": "background"}')
    assert "colour #00ff00 is not in layers.json" in _error(tmp_path)


def test_layers_json_that_is_not_json(tmp_path):
    write_image(tmp_path / "scribbles" / "00000.png", _scribble((0, 0, RED)))
    (tmp_path / "scribbles" / "layers.json").write_text("{#ff0000: 0")
    assert "layers.json is not valid JSON" in _error(tmp_path)
