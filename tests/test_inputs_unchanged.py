"""Tests of the suite-wide input check in ``conftest.py`` (``inputs_never_change``): that it
watches every command and sees the files a command was given."""

from __future__ import annotations

import argparse

from conftest import input_files, snapshot

from neural_atlases.cli import main as cli
from neural_atlases.io.images import write_image


def test_every_command_is_watched():
    assert cli.COMMANDS and all(fn.__name__ == "watched" for fn in cli.COMMANDS.values())


def test_the_inputs_of_a_command_and_a_change_to_one(tmp_path):
    import numpy as np

    root = tmp_path / "clip"
    for folder in ("frames", "masks", "scribbles"):
        write_image(root / folder / "00000.png", np.zeros((4, 4), np.uint8))
    (root / "results").mkdir()
    (root / "results" / "project.json").write_text("{}")  # output, not input
    config, atlas = tmp_path / "c.json", tmp_path / "edit.png"
    config.write_text("{}")
    write_image(atlas, np.zeros((4, 4, 4), np.uint8))
    args = argparse.Namespace(
        project=str(root), config=config, video=None, background=None, foreground=[atlas], edited_frame=None
    )
    names = [p.relative_to(tmp_path).as_posix() for p in input_files("render", args)]
    assert names == [
        "c.json",
        "clip/frames/00000.png",
        "clip/masks/00000.png",
        "clip/scribbles/00000.png",
        "edit.png",
    ]
    assert "clip/frames/00000.png" not in [
        p.relative_to(tmp_path).as_posix() for p in input_files("init", args)
    ]

    paths = input_files("render", args)
    before = snapshot(paths)
    assert snapshot(paths) == before
    write_image(root / "masks" / "00000.png", np.full((4, 4), 255, np.uint8))
    after = snapshot(paths)
    assert [p for p in before if before[p] != after[p]] == [str(root / "masks" / "00000.png")]
    (root / "frames" / "00000.png").unlink()
    assert snapshot(paths)[str(root / "frames" / "00000.png")] == "missing"


def test_a_missing_project_has_no_project_inputs(tmp_path):
    args = argparse.Namespace(project=str(tmp_path / "nowhere"))
    assert input_files("train", args) == []
