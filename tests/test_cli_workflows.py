"""Command-line tests of the editing workflows: animated atlases (``atlases -a``, ``render`` with
folders) and ``export``, on a tiny trained project."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_cli import SMALL_CONFIG, T, assert_user_error, folder_hash, run

from neural_atlases.cli.main import main
from neural_atlases.data.synthetic import SceneConfig, make_scene, write_project
from neural_atlases.evaluation.evaluate import psnr
from neural_atlases.export.compositing import composite_export
from neural_atlases.io.images import read_frames, read_rgba, write_image

H, W = 32, 48


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny project trained for 60 steps, its animated atlases written, and the hash of its frames."""
    base = tmp_path_factory.mktemp("workflows")
    config = base / "small.json"
    config.write_text(json.dumps(SMALL_CONFIG))
    root = base / "clip"
    write_project(make_scene(SceneConfig(width=W, height=H, frames=T)), root)
    frames_hash = folder_hash(root / "frames")
    assert main(["train", "-p", str(root), "-s", "60", "-c", str(config)]) == 0
    assert main(["atlases", "-p", str(root), "-a"]) == 0
    return root, frames_hash


def test_animated_atlases_one_per_frame_and_layer(trained):
    root, _ = trained
    animated = root / "results" / "animated_atlases"
    for layer in ("background_atlas", "foreground_atlas_0"):
        names = sorted(p.name for p in (animated / layer).iterdir())
        assert names == [f"{t:05d}.png" for t in range(T)]
        first = read_rgba(animated / layer / "00000.png")
        static = read_rgba(root / "results" / "atlases" / f"{layer}.png")
        assert first.shape == static.shape
        assert (first[..., 3] == 255).any() and (first[..., 3] == 0).any()


def test_unedited_animated_atlases_render_the_input_and_reconstruct_it(trained, capsys, tmp_path):
    root, _ = trained
    animated = root / "results" / "animated_atlases"
    frames = read_frames(root / "frames")
    given = ["-f", animated / "foreground_atlas_0", "-b", animated / "background_atlas"]
    status, _, err = run(["render", "-p", root, *given, "-o", tmp_path / "same"], capsys)
    assert status == 0, err
    np.testing.assert_array_equal(read_frames(tmp_path / "same"), frames)
    status, _, err = run(["render", "-p", root, *given, "--reconstruct", "-o", tmp_path / "anim"], capsys)
    assert status == 0, err
    status, _, err = run(["render", "-p", root, "--reconstruct", "-o", tmp_path / "static"], capsys)
    assert status == 0, err
    from_animated = psnr(read_frames(tmp_path / "anim"), frames)
    assert from_animated > psnr(read_frames(tmp_path / "static"), frames)
    assert from_animated > 30.0


def test_an_edited_animated_frame_mixed_with_a_static_atlas(trained, capsys, tmp_path):
    root, _ = trained
    animated = root / "results" / "animated_atlases" / "background_atlas"
    edited = tmp_path / "background_atlas"
    edited.mkdir()
    for path in sorted(animated.iterdir()):
        (edited / path.name).write_bytes(path.read_bytes())
    atlas = read_rgba(edited / "00002.png")
    ys, xs = np.nonzero(atlas[..., 3] == 255)
    cy, cx = int(np.median(ys)), int(np.median(xs))
    atlas[cy - 6 : cy + 6, cx - 6 : cx + 6, :3] = [250, 20, 200]
    write_image(edited / "00002.png", atlas)
    static_fg = root / "results" / "atlases" / "foreground_atlas_0.png"
    status, _, err = run(
        ["render", "-p", root, "-b", edited, "-f", static_fg, "-o", tmp_path / "out"], capsys
    )
    assert status == 0, err
    out, frames = read_frames(tmp_path / "out"), read_frames(root / "frames")
    changed = np.abs(out.astype(int) - frames.astype(int)).max(-1) > 10
    assert changed[2].sum() > 10
    assert not changed[[t for t in range(T) if t != 2]].any()


def test_export_through_the_command_line_reproduces_the_render(trained, capsys, tmp_path):
    root, frames_hash = trained
    out = tmp_path / "comp"
    status, stdout, err = run(["export", "-p", root, "-o", out], capsys)
    assert status == 0, err
    assert stdout.strip() == str(out / "manifest.json")
    status, _, err = run(["render", "-p", root, "--reconstruct", "-o", tmp_path / "recon"], capsys)
    assert status == 0, err
    frames = read_frames(root / "frames")
    composite = composite_export(out)
    assert abs(psnr(composite, frames) - psnr(read_frames(tmp_path / "recon"), frames)) < 0.5
    assert folder_hash(root / "frames") == frames_hash


def test_animated_and_export_bad_inputs(trained, capsys, tmp_path):
    root, _ = trained
    animated = root / "results" / "animated_atlases" / "foreground_atlas_0"
    short = tmp_path / "short"
    short.mkdir()
    for path in sorted(animated.iterdir())[:-1]:
        (short / path.name).write_bytes(path.read_bytes())
    assert_user_error(["render", "-p", root, "-f", short, "-o", tmp_path / "o"], capsys, f"{T - 1} images")
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    for t in range(T):
        write_image(wrong / f"{t:05d}.png", np.zeros((5, 7, 4), np.uint8))
    assert_user_error(["render", "-p", root, "-f", wrong, "-o", tmp_path / "o2"], capsys, "7x5")
    edited = tmp_path / "00001.png"
    write_image(edited, read_frames(root / "frames")[1])
    assert_user_error(["atlases", "-p", root, "-a", "-cf", edited], capsys, "-a")
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert_user_error(["export", "-p", root, "-o", afile], capsys, "not a folder")
    assert_user_error(["export", "-p", root, "-o", root / "frames" / "x"], capsys, "refusing")
    assert_user_error(["atlases", "-p", root, "-a", "-o", root / "frames"], capsys, "refusing")
