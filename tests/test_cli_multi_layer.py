"""Every command with two foreground layers, on a tiny two-sprite project with scribbles; and the
bad inputs of scribbles through ``train``."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from test_cli import SMALL_CONFIG, assert_user_error, folder_hash, run

from neural_atlases.cli.main import main
from neural_atlases.data.synthetic import SceneConfig, make_scene, write_project
from neural_atlases.io.images import read_frames, write_image

T, H, W = 6, 48, 64
MULTI_CONFIG = {
    **SMALL_CONFIG,
    "model": {"foreground_layers": 2},
    "train": {**SMALL_CONFIG["train"], "realign_at": [], "realign_final": 1},  # realignment is slow
}


@pytest.fixture(scope="module")
def scene():
    return make_scene(SceneConfig(width=W, height=H, frames=T, sprites=2))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, scene):
    """The project trained for 10 steps; the hashes of its frames and scribbles."""
    base = tmp_path_factory.mktemp("multi")
    config = base / "multi.json"
    config.write_text(json.dumps(MULTI_CONFIG))
    root = base / "clip"
    write_project(scene, root)
    hashes = folder_hash(root / "frames"), folder_hash(root / "scribbles")
    assert main(["train", "-p", str(root), "-s", "10", "-c", str(config)]) == 0
    return root, config, hashes


def test_train_writes_an_atlas_per_layer_and_leaves_the_inputs(trained):
    root, _, hashes = trained
    names = sorted(p.name for p in (root / "results" / "atlases").iterdir())
    assert names == ["background_atlas.png", "foreground_atlas_0.png", "foreground_atlas_1.png"]
    assert (folder_hash(root / "frames"), folder_hash(root / "scribbles")) == hashes


def test_atlases_animated_and_from_an_edited_frame(trained, scene, tmp_path):
    root, _, _ = trained
    assert main(["atlases", "-p", str(root), "-a", "-o", str(tmp_path / "animated")]) == 0
    for stem in ("background_atlas", "foreground_atlas_0", "foreground_atlas_1"):
        assert len(list((tmp_path / "animated" / stem).iterdir())) == T
    edited = scene.frames[2].copy()
    edited[10:30, 10:40] = (255, 255, 0)
    write_image(tmp_path / "00002.png", edited)
    assert (
        main(["atlases", "-p", str(root), "-cf", str(tmp_path / "00002.png"), "-o", str(tmp_path / "e")]) == 0
    )
    assert len(list((tmp_path / "e").glob("foreground_atlas_*.png"))) == 2


def test_render_removes_each_layer_or_all_and_takes_an_atlas_per_layer(trained, scene, tmp_path):
    root, _, _ = trained
    atlases = root / "results" / "atlases"
    outputs = {}
    for name in ("foreground_0", "foreground_1", "foreground"):
        assert main(["render", "-p", str(root), "-r", name, "-o", str(tmp_path / name)]) == 0
        outputs[name] = read_frames(tmp_path / name)
    assert not np.array_equal(outputs["foreground_0"], outputs["foreground_1"])
    args = ["render", "-p", str(root), "-o", str(tmp_path / "same")]
    args += ["-f", str(atlases / "foreground_atlas_0.png"), "-f", str(atlases / "foreground_atlas_1.png")]
    assert main(args) == 0
    assert np.array_equal(read_frames(tmp_path / "same"), scene.frames)  # unedited atlases: the input


def test_export_and_evaluate_every_layer(trained, tmp_path):
    root, _, _ = trained
    assert main(["export", "-p", str(root), "-o", str(tmp_path / "x")]) == 0
    for folder in ("layers", "mattes", "stmaps"):
        names = {p.name for p in (tmp_path / "x" / folder).iterdir()}
        assert {"foreground_0", "foreground_1"} <= names
    assert main(["evaluate", "-p", str(root)]) == 0
    assert (root / "results" / "evaluation" / "alpha_foreground_1.mp4").is_file()


def test_render_names_a_layer_that_is_not_there(trained, capsys, tmp_path):
    root, _, _ = trained
    line = assert_user_error(["render", "-p", root, "-r", "foreground_2", "-o", tmp_path / "o"], capsys)
    assert "2 foreground layer(s)" in line
    atlas = root / "results" / "atlases" / "foreground_atlas_0.png"
    line = assert_user_error(
        ["render", "-p", root, "-f", atlas, "-f", atlas, "-f", atlas, "-o", tmp_path / "o"], capsys
    )
    assert "3 -f atlases" in line


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        ("size", "differs from the frame size"),
        ("name", "no frame is named 'notaframe'"),
        ("colours", "would be foreground layer 2"),
        ("layers_json", "maps to foreground layer 5"),
    ],
)
def test_bad_scribbles_stop_train_with_one_line(trained, tmp_path, capsys, damage, match):
    source, config, _ = trained
    root = tmp_path / "clip"
    shutil.copytree(source / "frames", root / "frames")
    shutil.copytree(source / "scribbles", root / "scribbles")
    scribbles = root / "scribbles"
    first = sorted(scribbles.glob("*.png"))[0]
    if damage == "size":
        write_image(first, np.zeros((H, W + 2, 3), np.uint8))
    elif damage == "name":
        shutil.copy(first, scribbles / "notaframe.png")
    elif damage == "colours":
        (scribbles / "layers.json").unlink()  # red, green and blue: three layers for two
    else:
        (scribbles / "layers.json").write_text('{"#ff0000": "background", "#00ff00": 5}')
    line = assert_user_error(["train", "-p", root, "-s", "1", "-c", config], capsys)
    assert match in line


def test_without_scribbles_train_warns_that_layers_may_swap(trained, tmp_path, capsys):
    source, config, _ = trained
    root = tmp_path / "clip"
    shutil.copytree(source / "frames", root / "frames")
    shutil.copytree(source / "results" / "cache", root / "results" / "cache")  # the flow, not computed again
    status, _, err = run(["train", "-p", root, "-s", "2", "-c", config], capsys)
    assert status == 0
    assert "may swap" in err
