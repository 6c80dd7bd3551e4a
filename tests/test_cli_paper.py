"""The paper model through the whole command line: everything downstream of ``train`` works with
it unchanged (evaluate, atlases, atlases -cf, render with edits, removal, reconstruction)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_cli import assert_early_user_error, folder_hash, run

from neural_atlases.cli.main import main
from neural_atlases.config import PRESETS, from_dict, to_dict
from neural_atlases.data.synthetic import SceneConfig, make_scene, write_project
from neural_atlases.io.images import read_frames, read_image, read_rgba, write_image
from neural_atlases.training.checkpoint import read_checkpoint

T, H, W = 4, 32, 48
TINY = {"train": {"batch_size": 1024, "prefit_steps": 2, "eval_every": 2, "checkpoint_every": 2}}


@pytest.fixture(scope="module")
def paper_project(tmp_path_factory) -> tuple[Path, dict]:
    """A tiny project trained for 3 steps of the paper preset, with a snapshot at minute 0."""
    folder = tmp_path_factory.mktemp("paper")
    root = folder / "clip"
    write_project(make_scene(SceneConfig(width=W, height=H, frames=T)), root, masks=True)
    hashes = {name: folder_hash(root / name) for name in ("frames", "masks")}
    config = folder / "paper_tiny.json"
    config.write_text(json.dumps(to_dict(from_dict(TINY, PRESETS["paper"]))))
    status = main(["train", "-p", str(root), "-s", "3", "-c", str(config), "--snapshots", "0"])
    assert status == 0
    return root, hashes


def test_paper_train_keeps_its_config_and_a_snapshot(paper_project):
    root, _ = paper_project
    payload = read_checkpoint(root / "results" / "checkpoints" / "checkpoint.pt")
    assert payload["config"]["model"]["model"] == "paper" and payload["state"]["step"] == 3
    snapshot = read_checkpoint(root / "results" / "checkpoints" / "snapshot_0min.pt")
    assert snapshot["state"]["step"] == 0 and snapshot["extra"]["snapshot_minutes"] == 0.0
    assert 0.0 <= snapshot["extra"]["wall_seconds"] < 600


def test_paper_model_evaluates_and_writes_square_atlases(paper_project, capsys):
    root, _ = paper_project
    status, out, err = run(["evaluate", "-p", root], capsys)
    assert status == 0, err
    assert out.startswith("PSNR ")
    metrics = json.loads((root / "results" / "evaluation" / "metrics.json").read_text())
    assert len(metrics["per_frame_psnr"]) == T
    status, out, err = run(["atlases", "-p", root], capsys)
    assert status == 0, err
    side = round(1.0 * (W - 1) / 0.8) + 1  # atlas_scale 1 at uv = 0.8 (x, y)
    for name in ("background_atlas.png", "foreground_atlas_0.png"):
        assert read_rgba(root / "results" / "atlases" / name).shape == (side, side, 4)
    used = read_rgba(root / "results" / "atlases" / "background_atlas.png")[..., 3] > 0
    assert used.any() and not used.all()  # where the (barely pre-fitted) mapping lands


def test_paper_model_renders_edits_removal_and_reconstruction(paper_project, capsys, tmp_path):
    root, hashes = paper_project
    frames = read_frames(root / "frames")
    edited = frames[1].copy()
    edited[8:20, 10:30] = [255, 0, 255]
    path = tmp_path / "00001.png"
    write_image(path, edited)
    atlases = tmp_path / "edited_atlases"
    status, _, err = run(["atlases", "-p", root, "-cf", path, "-o", atlases], capsys)
    assert status == 0, err
    bg, fg = atlases / "background_atlas.png", atlases / "foreground_atlas_0.png"
    status, _, err = run(["render", "-p", root, "-b", bg, "-f", fg, "-o", tmp_path / "edited"], capsys)
    assert status == 0, err
    rendered = read_frames(tmp_path / "edited")
    assert rendered.shape == frames.shape
    changed = np.abs(rendered[1].astype(int) - frames[1].astype(int)).max(-1) > 3
    assert changed[8:20, 10:30].mean() > 0.5  # the edit shows on the frame it was painted on
    for extra in (["-r", "foreground"], ["--reconstruct"]):
        out = tmp_path / extra[-1]
        status, _, err = run(["render", "-p", root, *extra, "-o", out], capsys)
        assert status == 0, err
        assert read_image(out / "00000.png").shape == (H, W, 3)
    assert {name: folder_hash(root / name) for name in ("frames", "masks")} == hashes


@pytest.mark.parametrize("value", ["soon", "1,-2", "nan"])
def test_bad_snapshot_minutes_are_one_line_errors(paper_project, capsys, value):
    root, _ = paper_project
    assert_early_user_error(["train", "-p", root, "--snapshots", value], capsys, "--snapshots")
