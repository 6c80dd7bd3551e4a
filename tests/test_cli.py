"""Tests of the command line, neural_atlases.cli.main, run in-process on a tiny trained project.

Every bad input must give exit status 2, one ``error: ...`` line on stderr and no traceback; no
command may touch the project's input files.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from neural_atlases.cli.main import main
from neural_atlases.data.synthetic import SceneConfig, make_scene, write_project
from neural_atlases.editing.render import Renderer, RenderOptions
from neural_atlases.io.images import read_frames, read_image, read_rgba, write_image
from neural_atlases.io.project import Project
from neural_atlases.io.video import read_video, write_video
from neural_atlases.pipeline.trained import load_trained

SMALL_CONFIG = {
    "train": {"batch_size": 512, "eval_every": 10, "checkpoint_every": 10},
    "preprocess": {"flow_gaps": [1, 2]},
}
T, H, W = 5, 32, 48


def folder_hash(folder: Path) -> str:
    """A hash of every file's name and bytes in a folder (recursively)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def run(args: list, capsys) -> tuple[int, str, str]:
    """``main(args)`` in-process: ``(status, stdout, stderr)``."""
    capsys.readouterr()
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def assert_user_error(args: list, capsys, match: str | None = None) -> str:
    """The command fails as bad input: status 2, one ``error:`` line (the last on stderr; progress
    lines may come before it), no traceback. Returns the error line."""
    status, _, err = run(args, capsys)
    assert status == 2, err
    assert "Traceback" not in err
    lines = err.strip("\n").splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, err
    assert lines[-1] == errors[0], err
    if match is not None:
        assert match in errors[0], errors[0]
    return errors[0]


def assert_early_user_error(args: list, capsys, match: str | None = None) -> str:
    """As ``assert_user_error``, and stderr is that one line only."""
    status, _, err = run(args, capsys)
    assert status == 2, err
    assert err.count("\n") == 1 and err.startswith("error:"), err
    if match is not None:
        assert match in err, err
    return err.strip()


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scene():
    return make_scene(SceneConfig(width=W, height=H, frames=T))


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "small.json"
    path.write_text(json.dumps(SMALL_CONFIG))
    return path


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def trained(tmp_path_factory, scene, config_file):
    """A tiny project with user masks, trained for 20 steps with ``train``; with the hashes of its
    inputs taken before training (what training wrote on stderr is kept beside it, in
    ``train_stderr.txt``, as a terminal shows it: its stderr says it is one)."""
    root = tmp_path_factory.mktemp("cli") / "clip"
    write_project(scene, root, masks=True)
    hashes = {name: folder_hash(root / name) for name in ("frames", "masks")}
    stderr = _Terminal()
    with contextlib.redirect_stderr(stderr):
        status = main(["train", "-p", str(root), "-s", "20", "-c", str(config_file)])
    assert status == 0
    (root.parent / "train_stderr.txt").write_text(stderr.getvalue())
    return root, hashes


def test_training_progress_shows_psnr_once_evaluated(trained):
    """The bar (tqdm's, on a terminal) shows the loss from the first step and the PSNR from the
    first evaluation (step 10 here), never a PSNR of nan before it."""
    stderr = (trained[0].parent / "train_stderr.txt").read_text()
    lines = stderr.replace("\r", "\n").splitlines()
    lines = [line for line in lines if line.startswith("training:") and "| 0/" not in line]  # drawn at 0
    assert lines and all("loss=" in line for line in lines)
    assert not any("nan" in line for line in lines)
    assert "psnr=" not in lines[0] and "psnr=" in lines[-1]


@pytest.fixture()
def somefile(tmp_path) -> Path:
    path = tmp_path / "somefile.txt"
    path.write_text("not a folder")
    return path


# -- working commands -----------------------------------------------------------------------------
def test_help_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "neural_atlases", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: neural-atlases")
    for command in ("init", "train", "evaluate", "atlases", "render"):
        assert command in result.stdout
    assert "Traceback" not in result.stderr


def test_train_wrote_a_checkpoint_and_atlases(trained, capsys):
    root, _ = trained
    project = Project(root)
    assert (project.checkpoints_dir / "checkpoint.pt").is_file()
    assert (project.atlases_dir / "background_atlas.png").is_file()
    assert project.load_meta()["trained_steps"] == 20


def test_evaluate(trained, capsys):
    root, _ = trained
    status, out, err = run(["evaluate", "-p", root], capsys)
    assert status == 0, err
    lines = [line for line in out.splitlines() if line.startswith("PSNR")]
    assert len(lines) == 1 and lines[0].endswith("dB")
    value = float(lines[0].split()[1])
    evaluation = root / "results" / "evaluation"
    metrics = json.loads((evaluation / "metrics.json").read_text())
    assert metrics["psnr"] == pytest.approx(value, abs=0.01)
    assert metrics["frames"] == T and len(metrics["per_frame_psnr"]) == T
    assert value > 15.0
    frames, _ = read_video(evaluation / "reconstruction.mp4")
    assert frames.shape == (T, H, W, 3)
    for name in ("alpha_foreground_0.mp4", "checkerboard_background.mp4", "checkerboard_foreground_0.mp4"):
        assert (evaluation / name).is_file()


def test_atlases_to_a_folder(trained, capsys, tmp_path):
    root, _ = trained
    out_dir = tmp_path / "atlases"
    status, out, err = run(["atlases", "-p", root, "-o", out_dir], capsys)
    assert status == 0, err
    printed = out.split()
    for name in ("background_atlas.png", "foreground_atlas_0.png"):
        path = out_dir / name
        assert str(path) in printed
        with Image.open(path) as image:
            assert image.mode == "RGBA"
        atlas = read_rgba(path)
        assert (atlas[..., 3] == 255).any() and atlas.shape[0] > H // 2
    baked = load_trained(Project(root))
    assert np.array_equal(read_rgba(out_dir / "background_atlas.png"), baked.atlases[0])


def test_render_to_mp4(trained, capsys, tmp_path):
    root, _ = trained
    out = tmp_path / "out.mp4"
    status, stdout, err = run(["render", "-p", root, "-o", out], capsys)
    assert status == 0, err
    frames, _ = read_video(out)
    assert frames.shape == (T, H, W, 3)
    original = read_frames(root / "frames")
    assert np.abs(frames.astype(int) - original.astype(int)).mean() < 8  # H.264, nearly lossless


def test_render_to_a_folder_without_edits_gives_the_frames(trained, capsys, tmp_path):
    root, _ = trained
    out = tmp_path / "frames_out"
    status, stdout, err = run(["render", "-p", root, "-o", out], capsys)
    assert status == 0, err
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"{i:05d}.png" for i in range(T)]
    assert np.array_equal(read_frames(out), read_frames(root / "frames"))


def test_render_removing_the_foreground(trained, capsys, tmp_path):
    root, _ = trained
    out = tmp_path / "removed"
    status, _, err = run(["render", "-p", root, "-r", "foreground", "-o", out], capsys)
    assert status == 0, err
    rendered = read_frames(out)
    original = read_frames(root / "frames")
    baked = load_trained(Project(root))
    expected = np.stack(
        list(Renderer(baked, [None, None], RenderOptions(remove=frozenset({1}))).frames(original))
    )
    assert np.array_equal(rendered, expected)
    shares = np.asarray(baked.shares)
    diff = np.abs(rendered.astype(int) - original.astype(int)).max(-1)
    assert diff[shares[..., 1] > 0.5].mean() > 2 * diff[shares[..., 1] < 0.2].mean()
    # foreground_0 names the same layer
    out2 = tmp_path / "removed2"
    assert run(["render", "-p", root, "-r", "foreground_0", "-o", out2], capsys)[0] == 0
    assert np.array_equal(read_frames(out2), rendered)


def test_render_reconstruct(trained, capsys, tmp_path):
    root, _ = trained
    out = tmp_path / "recon"
    status, _, err = run(["render", "-p", root, "--reconstruct", "-o", out], capsys)
    assert status == 0, err
    rendered = read_frames(out).astype(float)
    original = read_frames(root / "frames").astype(float)
    mse = ((rendered - original) ** 2).mean()
    assert 10 * np.log10(255.0**2 / mse) > 15.0
    assert not np.array_equal(rendered, original)


def test_render_with_an_edited_background_changes_only_pixels_near_the_paint(trained, capsys, tmp_path):
    root, _ = trained
    project = Project(root)
    atlas = read_rgba(project.atlases_dir / "background_atlas.png")
    used = np.argwhere(atlas[..., 3] == 255)
    cy, cx = np.median(used, 0).astype(int)
    edited = atlas.copy()
    y0, y1, x0, x1 = cy - 3, cy + 3, cx - 3, cx + 3
    edited[y0:y1, x0:x1, :3] = [255, 0, 255]
    path = tmp_path / "edited.png"
    write_image(path, edited)
    out = tmp_path / "edited_render"
    status, _, err = run(["render", "-p", root, "-b", path, "-o", out], capsys)
    assert status == 0, err
    rendered = read_frames(out)
    original = read_frames(root / "frames")
    changed = np.abs(rendered.astype(int) - original.astype(int)).max(-1) > 0
    maps = np.asarray(load_trained(project).maps[0])  # [T, H, W, 2] texel x, y
    near = (
        (maps[..., 0] > x0 - 2) & (maps[..., 0] < x1 + 1) & (maps[..., 1] > y0 - 2) & (maps[..., 1] < y1 + 1)
    )
    assert changed.any()
    assert not (changed & ~near).any()


def test_init_from_a_video(tmp_path, capsys):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (6, 10, 3), dtype=np.uint8).repeat(4, 0).repeat(4, 1)  # 40x24
    video = tmp_path / "clip.mp4"
    write_video(video, np.stack([np.roll(base, i, axis=1) for i in range(6)]), fps=12)
    root = tmp_path / "made"
    status, out, err = run(["init", "-p", root, "--video", video], capsys)
    assert status == 0, err
    frames = read_frames(root / "frames")
    assert frames.shape == (6, 24, 40, 3)
    assert "6 frames" in out
    meta = json.loads((root / "results" / "project.json").read_text())
    assert meta["size"] == [40, 24] and meta["num_frames"] == 6 and meta["fps"] == pytest.approx(12)

    # a second init refuses to overwrite; --overwrite with a size and a range replaces
    before = folder_hash(root / "frames")
    assert_user_error(["init", "-p", root, "--video", video], capsys, "--overwrite")
    assert folder_hash(root / "frames") == before
    args = ["init", "-p", root, "--video", video, "--overwrite", "--size", "20x12", "--frames", "1:4"]
    status, _, err = run(args, capsys)
    assert status == 0, err
    assert read_frames(root / "frames").shape == (3, 12, 20, 3)


def test_init_finds_cuts_and_takes_one_shot_or_each(tmp_path, capsys, two_shot_video):
    video = two_shot_video(tmp_path / "cut.mp4")  # frames 0:8, then another scene 8:15
    root = tmp_path / "clip"
    status, out, err = run(["init", "-p", root, "--video", video], capsys)
    assert status == 0, err
    assert "cut.mp4: 2 shots, 1: frames 0:8, 2: frames 8:15" in out and "--shot" in out
    assert len(read_frames(root / "frames")) == 15
    before = folder_hash(root)
    assert_user_error(["train", "-p", root, "-s", "1"], capsys, "spans 2 shots (new shots start at frames 8)")
    assert folder_hash(root) == before  # refused before anything is written

    status, out, err = run(["init", "-p", root, "--video", video, "--shot", "2", "--overwrite"], capsys)
    assert status == 0, err
    assert read_frames(root / "frames").shape[0] == 7
    assert json.loads((root / "results" / "project.json").read_text())["frame_range"] == [8, 15]

    status, out, err = run(["init", "-p", tmp_path / "each", "--video", video, "--shot", "all"], capsys)
    assert status == 0, err
    assert [len(read_frames(tmp_path / f"each_shot{k}" / "frames")) for k in (1, 2)] == [8, 7]
    assert not (tmp_path / "each").exists()

    assert_user_error(["init", "-p", tmp_path / "x", "--video", video, "--shot", "3"], capsys, "no such shot")
    assert_user_error(["init", "-p", tmp_path / "x", "--video", video, "--shot", "0"], capsys, "--shot 0")
    assert not (tmp_path / "x").exists()


# -- bad inputs -----------------------------------------------------------------------------------
def _small_project(root: Path, sizes: list[tuple[int, int]]) -> Path:
    """A project with one textured frame per ``(width, height)``."""
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate(sizes):
        frame = rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, 3), dtype=np.uint8).repeat(4, 0).repeat(4, 1)
        write_image(root / "frames" / f"{i:05d}.png", np.ascontiguousarray(frame[:h, :w]))
    return root


def _assert_train_fails_untouched(root: Path, capsys, config_file: Path, match: str) -> None:
    hashes = {p.name: folder_hash(p) for p in (root / "frames", root / "masks") if p.is_dir()}
    assert_user_error(["train", "-p", root, "-s", "2", "-c", config_file], capsys, match)
    assert {p.name: folder_hash(p) for p in (root / "frames", root / "masks") if p.is_dir()} == hashes
    assert not (root / "results" / "checkpoints" / "checkpoint.pt").exists()


def test_no_arguments_and_unknown_command(capsys):
    assert_early_user_error([], capsys, "command")
    assert_early_user_error(["paint"], capsys, "paint")
    assert_early_user_error(["train"], capsys, "-p/--project")
    assert_early_user_error(["train", "-p", "x", "-s", "many"], capsys, "many")


def test_missing_project(tmp_path, capsys):
    for command in ("train", "evaluate", "atlases"):
        assert_early_user_error([command, "-p", tmp_path / "nowhere"], capsys, "project not found")
    assert_early_user_error(["render", "-p", tmp_path / "nowhere", "-o", tmp_path / "o.mp4"], capsys)
    assert not (tmp_path / "nowhere").exists()


def test_project_that_is_a_file(somefile, capsys):
    assert_early_user_error(["train", "-p", somefile], capsys, "not a folder")


def test_project_with_no_frames(tmp_path, capsys):
    (tmp_path / "empty" / "frames").mkdir(parents=True)
    assert_early_user_error(["train", "-p", tmp_path / "empty"], capsys, "no frames")
    (tmp_path / "bare").mkdir()
    assert_early_user_error(["evaluate", "-p", tmp_path / "bare"], capsys, "no frames")


def test_untrained_project(tmp_path, capsys):
    root = _small_project(tmp_path / "p", [(24, 16)] * 3)
    for args in (["evaluate"], ["atlases"], ["render", "-o", tmp_path / "o.mp4"]):
        assert_early_user_error([args[0], "-p", root, *args[1:]], capsys, "no trained model")


def test_frames_of_mixed_sizes(tmp_path, capsys, config_file):
    root = _small_project(tmp_path / "p", [(24, 16), (24, 16), (20, 16)])
    _assert_train_fails_untouched(root, capsys, config_file, "00002.png")


def test_unreadable_frame(tmp_path, capsys, config_file):
    root = _small_project(tmp_path / "p", [(24, 16)] * 3)
    (root / "frames" / "00001.png").write_bytes(b"\x89PNG garbage \x00\x01\x02" * 10)
    _assert_train_fails_untouched(root, capsys, config_file, "00001.png")


def test_masks_of_the_wrong_count(tmp_path, capsys, config_file):
    root = _small_project(tmp_path / "p", [(24, 16)] * 3)
    for i in range(2):
        write_image(root / "masks" / f"{i:05d}.png", np.zeros((16, 24), np.uint8))
    _assert_train_fails_untouched(root, capsys, config_file, "2 mask file(s) for 3 frames")


def test_masks_of_the_wrong_size(tmp_path, capsys, config_file):
    root = _small_project(tmp_path / "p", [(24, 16)] * 3)
    for i in range(3):
        write_image(root / "masks" / f"{i:05d}.png", np.zeros((16, 20 if i == 1 else 24), np.uint8))
    _assert_train_fails_untouched(root, capsys, config_file, "00001.png")


def test_config_with_an_unknown_key(trained, capsys, tmp_path):
    root, _ = trained
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"train": {"stpes": 3}}))
    line = assert_early_user_error(["train", "-p", root, "-c", bad], capsys, "'train.stpes'")
    assert "'steps'" in line
    missing = tmp_path / "missing.json"
    assert_early_user_error(["train", "-p", root, "-c", missing], capsys, "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert_early_user_error(["train", "-p", root, "-c", broken], capsys, "not valid JSON")


def test_a_misspelt_foreground_class_lists_the_valid_ones(trained, capsys, tmp_path):
    root, _ = trained
    bad = tmp_path / "brid.json"
    bad.write_text(json.dumps({"preprocess": {"foreground_class": "brid"}}))
    line = assert_early_user_error(["train", "-p", root, "-c", bad], capsys, "'preprocess.foreground_class'")
    assert "did you mean 'bird'" in line and "person" in line and "toothbrush" in line and "selfie" in line


def test_bird_without_weights_or_network_fails_at_once(tmp_path):
    """The issue's check: ``foreground_class: "bird"`` with no weights and no network gives one
    line naming the file looked for and exit status 2 (the real command, in a child process)."""
    root = _small_project(tmp_path / "p", [(24, 16)] * 3)
    config = tmp_path / "bird.json"
    config.write_text(json.dumps({"preprocess": {"foreground_class": "bird"}}))
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch"), "NEURAL_ATLASES_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "neural_atlases", "train", "-p", str(root), "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    looked_for = tmp_path / "torch" / "hub" / "checkpoints" / "maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth"
    assert str(looked_for) in result.stderr
    assert "preprocess.mask_weights" in result.stderr and '"motion"' in result.stderr
    assert not (root / "results" / "cache").exists()  # nothing was computed


def test_bad_train_options(trained, capsys):
    root, _ = trained
    assert_early_user_error(["train", "-p", root, "-s", "0"], capsys, "--steps")
    assert_early_user_error(["train", "-p", root, "--max-minutes", "-1"], capsys, "--max-minutes")
    assert_early_user_error(["train", "-p", root, "--device", "abacus"], capsys, "--device")


def test_config_with_zero_eval_interval(trained, capsys, tmp_path, config_file):
    root = tmp_path / "copy"
    shutil.copytree(trained[0], root)
    bad = tmp_path / "zero.json"
    bad.write_text(json.dumps({**SMALL_CONFIG, "train": {**SMALL_CONFIG["train"], "eval_every": 0}}))
    assert_user_error(["train", "-p", root, "-s", "21", "-c", bad], capsys, "eval_every")


def test_edited_atlas_of_the_wrong_size(trained, capsys, tmp_path):
    root, _ = trained
    small = tmp_path / "small.png"
    write_image(small, np.zeros((10, 12, 4), np.uint8))
    out = tmp_path / "o.mp4"
    line = assert_early_user_error(
        ["render", "-p", root, "-b", small, "-o", out], capsys, "small.png is 12x10"
    )
    atlas = read_rgba(root / "results" / "atlases" / "background_atlas.png")
    assert f"{atlas.shape[1]}x{atlas.shape[0]}" in line
    assert_early_user_error(["render", "-p", root, "-f", small, "-o", out], capsys, "small.png is 12x10")
    assert not out.exists()


def test_edited_atlas_missing_or_garbage(trained, capsys, tmp_path):
    root, _ = trained
    out = tmp_path / "o.mp4"
    assert_early_user_error(
        ["render", "-p", root, "-b", tmp_path / "nope.png", "-o", out], capsys, "nope.png"
    )
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not an image at all")
    assert_early_user_error(["render", "-p", root, "-b", garbage, "-o", out], capsys, "garbage.png")
    assert_early_user_error(
        ["render", "-p", root, "-f", garbage, "-f", garbage, "-o", out], capsys, "foreground layer"
    )


def test_output_that_cannot_be_written(trained, capsys, somefile):
    root, _ = trained
    assert_user_error(["render", "-p", root, "-o", somefile / "out.mp4"], capsys, "somefile.txt")
    assert_user_error(["render", "-p", root, "-o", somefile / "frames"], capsys, "somefile.txt")
    assert_user_error(["atlases", "-p", root, "-o", somefile / "atlases"], capsys, "somefile.txt")
    assert_early_user_error(["render", "-p", root, "-o", somefile.parent / "out.avi"], capsys, "out.avi")
    assert somefile.read_text() == "not a folder"


def test_removing_a_layer_that_does_not_exist(trained, capsys, tmp_path):
    root, _ = trained
    out = tmp_path / "o.mp4"
    assert_early_user_error(["render", "-p", root, "-r", "foreground_3", "-o", out], capsys, "foreground_3")
    assert_early_user_error(["render", "-p", root, "-r", "sky", "-o", out], capsys, "sky")
    assert_early_user_error(
        ["render", "-p", root, "-r", "background", "-r", "foreground", "-o", out], capsys, "every layer"
    )
    assert not out.exists()


def test_bad_init_arguments(tmp_path, capsys):
    video = tmp_path / "clip.mp4"
    write_video(video, np.zeros((3, 16, 16, 3), np.uint8), fps=10)
    root = tmp_path / "p"
    for size in ("12by4", "0x10", "-3x4", "10x"):
        assert_user_error(["init", "-p", root, "--video", video, f"--size={size}"], capsys, size)
    assert_early_user_error(["init", "-p", root, "--video", video, "--frames", "5:2"], capsys, "5:2")
    assert_user_error(["init", "-p", root, "--video", video, "--max-side", "0"], capsys, "maximum side 0")
    assert_user_error(["init", "-p", root, "--video", video, "--frames", "10:"], capsys, "beyond")
    assert_user_error(["init", "-p", root, "--video", tmp_path / "missing.mp4"], capsys, "missing.mp4")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00" * 100)
    assert_user_error(["init", "-p", root, "--video", garbage], capsys, "garbage.mp4")
    assert not (root / "frames").exists()


def test_frames_changed_since_training(trained, capsys, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(trained[0], root)
    (root / "frames" / "00004.png").unlink()
    for args in (["evaluate"], ["render", "-o", tmp_path / "o.mp4"]):
        assert_user_error([args[0], "-p", root, *args[1:]], capsys, "not the ones the model was trained on")


def test_garbage_checkpoint(trained, capsys, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(trained[0], root)
    (root / "results" / "checkpoints" / "checkpoint.pt").write_bytes(b"garbage" * 10)
    assert_early_user_error(["evaluate", "-p", root], capsys, "checkpoint.pt cannot be read")
    assert_early_user_error(["train", "-p", root, "-s", "3"], capsys, "checkpoint.pt cannot be read")


@pytest.mark.parametrize("command", ["render", "atlases"])
def test_output_into_the_input_frames_is_refused(trained, capsys, tmp_path, command):
    root = tmp_path / "copy"
    shutil.copytree(trained[0], root)
    before = folder_hash(root / "frames")
    args = [command, "-p", root, "-o", root / "frames"] + (
        ["-r", "foreground"] if command == "render" else []
    )
    status, _, _ = run(args, capsys)
    assert folder_hash(root / "frames") == before
    assert status == 2


# -- inputs stay untouched (keep last: it checks after every command above) ------------------------
def test_every_input_file_is_unchanged(trained):
    root, hashes = trained
    assert {name: folder_hash(root / name) for name in ("frames", "masks")} == hashes
    assert read_image(root / "frames" / "00000.png").shape == (H, W, 3)


# -- atlases -cf: an edited frame carried into the atlases -----------------------------------------
def test_atlases_from_an_edited_frame_put_the_edit_on_other_frames(trained, capsys, tmp_path):
    root, _ = trained
    frames = read_frames(root / "frames")
    edited = frames[1].copy()
    edited[10:18, 20:30] = [255, 0, 255]
    path = tmp_path / "00001.png"
    write_image(path, edited)
    out = tmp_path / "edited_atlases"
    status, printed, err = run(["atlases", "-p", root, "-cf", path, "-o", out], capsys)
    assert status == 0, err
    assert (out / "background_atlas.png").is_file() and (out / "foreground_atlas_0.png").is_file()
    render = tmp_path / "render"
    args = ["render", "-p", root, "-b", out / "background_atlas.png", "-f", out / "foreground_atlas_0.png"]
    status, _, err = run([*args, "-o", render], capsys)
    assert status == 0, err
    rendered = read_frames(render)
    # frame 1 shows the paint where it was painted (within the blur of one resampling)
    assert np.abs(rendered[1, 11:17, 21:29].astype(int) - [255, 0, 255]).mean() < 40
    # and the edit reaches the other frames, as a patch about the paint's size, not a smear
    changed = np.abs(rendered.astype(int) - frames.astype(int)).max(-1) > 3
    counts = changed.reshape(changed.shape[0], -1).sum(1)
    assert (counts > 20).all() and (counts < 3 * 80).all(), counts


def test_atlases_from_an_edited_frame_bad_inputs(trained, capsys, tmp_path):
    root, hashes = trained
    frames = read_frames(root / "frames")
    wrong = tmp_path / "00001.png"
    write_image(wrong, frames[1][:-2])
    assert_user_error(["atlases", "-p", root, "-cf", wrong], capsys, "but frame 1 is")
    late = tmp_path / "00099.png"
    write_image(late, frames[1])
    assert_user_error(["atlases", "-p", root, "-cf", late], capsys, "out of range")
    nameless = tmp_path / "edit.png"
    write_image(nameless, frames[1])
    assert_user_error(["atlases", "-p", root, "-cf", nameless], capsys, "--frame")
    assert_user_error(["atlases", "-p", root, "--frame", "1"], capsys, "-cf")
    assert {name: folder_hash(root / name) for name in ("frames", "masks")} == hashes
