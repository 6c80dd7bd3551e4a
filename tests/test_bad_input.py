# ruff: noqa: E501 - the table reads best one case a line
"""Bad input, command by command, from a table: every case must end with exit status 2 and one
``error: ...`` line on stderr that names the offending thing, with no traceback. Progress lines of
stages that ran before the problem showed may come before the error line, never after it.

The inputs themselves are never changed (``conftest.inputs_never_change`` checks every run).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from neural_atlases.cli.main import main
from neural_atlases.io.images import read_frames, write_image
from neural_atlases.io.video import write_video

GARBAGE = b"\x89PNG\r\n\x1a\n this is not an image \x00\x01\x02" * 4


def _frames_project(root: Path, sizes: list[tuple[int, int]]) -> Path:
    """A project with one textured frame per ``(width, height)``."""
    rng = np.random.default_rng(0)
    for i, (w, h) in enumerate(sizes):
        write_image(root / "frames" / f"{i:05d}.png", rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return root


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="module")
def c(tmp_path_factory, tiny_trained, tiny_config) -> SimpleNamespace:
    """Everything the table's cases point at, made once."""
    base = tmp_path_factory.mktemp("bad")
    ns = SimpleNamespace(base=base, trained=tiny_trained, config=tiny_config, out=base / "out")
    frames = read_frames(tiny_trained / "frames")

    ns.busy = socket.socket()  # a port that is taken (the studio cannot serve on it)
    ns.busy.bind(("127.0.0.1", 0))
    ns.busy.listen()
    ns.busy_port = ns.busy.getsockname()[1]
    ns.video = base / "clip.mp4"
    write_video(ns.video, np.zeros((3, 16, 16, 3), np.uint8), fps=10)
    for name, data in {
        "garbage.mp4": b"\x00\x01garbage" * 20,
        "empty.mp4": b"",
        "notes.txt": b"hello",
    }.items():
        (base / name).write_bytes(data)
    (base / "garbage.png").write_bytes(GARBAGE)
    (base / "a_folder").mkdir()
    ns.small_atlas = base / "small.png"
    write_image(ns.small_atlas, np.zeros((10, 12, 4), np.uint8))
    ns.edit_wrong_size = base / "00001.png"
    write_image(ns.edit_wrong_size, frames[1][:-2])
    ns.edit_unnamed = base / "edit.png"
    write_image(ns.edit_unnamed, frames[1])
    ns.edit_late = base / "00099.png"
    write_image(ns.edit_late, frames[1])

    configs = {
        "broken.json": "{",
        "unknown_key.json": json.dumps({"train": {"stpes": 3}}),
        "wrong_type.json": json.dumps({"train": {"steps": "many"}}),
        "a_list.json": "[1, 2]",
        "bad_value.json": json.dumps({"model": {"background_motion": "wobble"}}),
        "deep.json": "[" * 100000 + "]" * 100000,
        "section_not_object.json": json.dumps({"train": 5}),
    }
    for name, text in configs.items():
        (base / name).write_text(text)
    (base / "latin1.json").write_bytes(b'{"train": {"seed": "\xe9"}}')

    p = base / "projects"
    ns.mixed = _frames_project(p / "mixed", [(24, 16), (24, 16), (20, 16)])
    ns.garbage_frame = _frames_project(p / "garbage_frame", [(24, 16)] * 3)
    (ns.garbage_frame / "frames" / "00001.png").write_bytes(GARBAGE)
    ns.empty_frame = _frames_project(p / "empty_frame", [(24, 16)] * 3)
    (ns.empty_frame / "frames" / "00002.jpg").write_bytes(b"")
    ns.few_masks = _frames_project(p / "few_masks", [(24, 16)] * 3)
    ns.mask_size = _frames_project(p / "mask_size", [(24, 16)] * 3)
    ns.garbage_mask = _frames_project(p / "garbage_mask", [(24, 16)] * 3)
    for i in range(3):
        if i < 2:
            write_image(ns.few_masks / "masks" / f"{i:05d}.png", np.zeros((16, 24), np.uint8))
        write_image(ns.mask_size / "masks" / f"{i:05d}.png", np.zeros((16, 20 if i == 1 else 24), np.uint8))
        write_image(ns.garbage_mask / "masks" / f"{i:05d}.png", np.zeros((16, 24), np.uint8))
    (ns.garbage_mask / "masks" / "00002.png").write_bytes(GARBAGE)
    ns.no_frames = p / "no_frames"
    (ns.no_frames / "frames").mkdir(parents=True)
    ns.frames_a_file = p / "frames_a_file"
    ns.frames_a_file.mkdir()
    (ns.frames_a_file / "frames").write_text("not a folder")
    ns.has_frames = _frames_project(p / "has_frames", [(16, 16)])

    ns.garbage_checkpoint = _copy(tiny_trained, p / "garbage_checkpoint")
    (ns.garbage_checkpoint / "results" / "checkpoints" / "checkpoint.pt").write_bytes(b"garbage" * 10)
    ns.foreign_checkpoint = _copy(tiny_trained, p / "foreign_checkpoint")
    torch.save({"weights": [1, 2]}, ns.foreign_checkpoint / "results" / "checkpoints" / "checkpoint.pt")
    ns.frame_removed = _copy(tiny_trained, p / "frame_removed")
    (ns.frame_removed / "frames" / "00004.png").unlink()
    ns.bad_meta = _copy(tiny_trained, p / "bad_meta")
    (ns.bad_meta / "results" / "project.json").write_text("{not json")
    ns.untrained = _frames_project(p / "untrained", [(24, 16)] * 3)
    return ns


# (id, command line built from the context, text the error line must hold)
CASES = [
    # -- anything -------------------------------------------------------------------------------
    ("no command", lambda c: [], "command"),
    ("unknown command", lambda c: ["paint"], "paint"),
    ("unknown flag", lambda c: ["evaluate", "-p", c.trained, "--colour"], "--colour"),
    ("project missing", lambda c: ["evaluate", "-p", c.base / "nowhere"], "nowhere"),
    ("project is a file", lambda c: ["train", "-p", c.base / "notes.txt"], "notes.txt"),
    ("project name empty", lambda c: ["train", "-p", ""], "empty project name"),
    # -- init -----------------------------------------------------------------------------------
    ("init: video missing", lambda c: ["init", "-p", c.out, "--video", c.base / "missing.mp4"], "missing.mp4"),
    ("init: video garbage", lambda c: ["init", "-p", c.out, "--video", c.base / "garbage.mp4"], "garbage.mp4"),
    ("init: video empty", lambda c: ["init", "-p", c.out, "--video", c.base / "empty.mp4"], "empty.mp4"),
    ("init: video is text", lambda c: ["init", "-p", c.out, "--video", c.base / "notes.txt"], "notes.txt"),
    ("init: video is a folder", lambda c: ["init", "-p", c.out, "--video", c.base / "a_folder"], "a_folder"),
    ("init: size", lambda c: ["init", "-p", c.out, "--video", c.video, "--size", "12by4"], "12by4"),
    ("init: zero size", lambda c: ["init", "-p", c.out, "--video", c.video, "--size", "0x10"], "0x10"),
    ("init: frame range", lambda c: ["init", "-p", c.out, "--video", c.video, "--frames", "5:2"], "5:2"),
    ("init: range text", lambda c: ["init", "-p", c.out, "--video", c.video, "--frames", "a:b"], "a:b"),
    ("init: range past end", lambda c: ["init", "-p", c.out, "--video", c.video, "--frames", "9:"], "clip.mp4"),
    ("init: max side", lambda c: ["init", "-p", c.out, "--video", c.video, "--max-side", "0"], "side 0"),
    ("init: max side text", lambda c: ["init", "-p", c.out, "--video", c.video, "--max-side", "x"], "--max-side"),
    ("init: frames exist", lambda c: ["init", "-p", c.has_frames, "--video", c.video], "--overwrite"),
    ("init: frames/ a file", lambda c: ["init", "-p", c.frames_a_file, "--video", c.video], "frames"),
    ("init: project a file", lambda c: ["init", "-p", c.base / "notes.txt", "--video", c.video], "notes.txt"),
    # -- train: frames and masks ----------------------------------------------------------------
    ("train: no frames", lambda c: ["train", "-p", c.no_frames], "no frames"),
    ("train: mixed sizes", lambda c: ["train", "-p", c.mixed, "-c", c.config], "00002.png"),
    ("train: garbage frame", lambda c: ["train", "-p", c.garbage_frame, "-c", c.config], "00001.png"),
    ("train: empty frame", lambda c: ["train", "-p", c.empty_frame, "-c", c.config], "00002.jpg: the file is empty"),
    ("train: too few masks", lambda c: ["train", "-p", c.few_masks, "-c", c.config], "masks"),
    ("train: mask size", lambda c: ["train", "-p", c.mask_size, "-c", c.config], "00001.png"),
    ("train: garbage mask", lambda c: ["train", "-p", c.garbage_mask, "-c", c.config], "00002.png"),
    # -- train: configs and flags ---------------------------------------------------------------
    ("config missing", lambda c: ["train", "-p", c.trained, "-c", c.base / "gone.json"], "gone.json"),
    ("config a folder", lambda c: ["train", "-p", c.trained, "-c", c.base / "a_folder"], "a_folder"),
    ("config broken", lambda c: ["train", "-p", c.trained, "-c", c.base / "broken.json"], "broken.json"),
    ("config not UTF-8", lambda c: ["train", "-p", c.trained, "-c", c.base / "latin1.json"], "latin1.json"),
    ("config nests deep", lambda c: ["train", "-p", c.trained, "-c", c.base / "deep.json"], "deep.json"),
    ("config a list", lambda c: ["train", "-p", c.trained, "-c", c.base / "a_list.json"], "a_list.json"),
    ("config unknown key", lambda c: ["train", "-p", c.trained, "-c", c.base / "unknown_key.json"], "stpes"),
    ("config wrong type", lambda c: ["train", "-p", c.trained, "-c", c.base / "wrong_type.json"], "train.steps"),
    ("config bad value", lambda c: ["train", "-p", c.trained, "-c", c.base / "bad_value.json"], "model.background_motion"),
    ("config section", lambda c: ["train", "-p", c.trained, "-c", c.base / "section_not_object.json"], "train"),
    ("train: steps 0", lambda c: ["train", "-p", c.trained, "-s", "0"], "--steps"),
    ("train: steps text", lambda c: ["train", "-p", c.trained, "-s", "many"], "many"),
    ("train: minutes", lambda c: ["train", "-p", c.trained, "--max-minutes", "-1"], "--max-minutes"),
    ("train: device", lambda c: ["train", "-p", c.trained, "--device", "abacus"], "abacus"),
    ("train: seed", lambda c: ["train", "-p", c.trained, "--seed", "x"], "--seed"),
    ("train: garbage checkpoint", lambda c: ["train", "-p", c.garbage_checkpoint], "checkpoint.pt"),
    # -- evaluate -------------------------------------------------------------------------------
    ("evaluate: untrained", lambda c: ["evaluate", "-p", c.untrained], "no trained model"),
    ("evaluate: garbage checkpoint", lambda c: ["evaluate", "-p", c.garbage_checkpoint], "checkpoint.pt"),
    ("evaluate: foreign checkpoint", lambda c: ["evaluate", "-p", c.foreign_checkpoint], "checkpoint.pt"),
    ("evaluate: frames changed", lambda c: ["evaluate", "-p", c.frame_removed], "frame_removed"),
    ("evaluate: project.json", lambda c: ["evaluate", "-p", c.bad_meta], "project.json"),
    # -- atlases --------------------------------------------------------------------------------
    ("atlases: -o in frames", lambda c: ["atlases", "-p", c.trained, "-o", c.trained / "frames"], "frames"),
    ("atlases: -o a file", lambda c: ["atlases", "-p", c.trained, "-o", c.base / "notes.txt" / "x"], "notes.txt is a file"),
    ("atlases: -cf missing", lambda c: ["atlases", "-p", c.trained, "-cf", c.base / "00001.jpg"], "00001.jpg"),
    ("atlases: -cf garbage", lambda c: ["atlases", "-p", c.trained, "-cf", c.base / "garbage.png", "--frame", "1"], "garbage.png"),
    ("atlases: -cf size", lambda c: ["atlases", "-p", c.trained, "-cf", c.edit_wrong_size], "00001.png"),
    ("atlases: -cf unnamed", lambda c: ["atlases", "-p", c.trained, "-cf", c.edit_unnamed], "edit.png"),
    ("atlases: -cf frame 99", lambda c: ["atlases", "-p", c.trained, "-cf", c.edit_late], "frame 99"),
    ("atlases: --frame alone", lambda c: ["atlases", "-p", c.trained, "--frame", "1"], "-cf"),
    # -- render ---------------------------------------------------------------------------------
    ("render: no -o", lambda c: ["render", "-p", c.trained], "-o/--out"),
    ("render: -o .avi", lambda c: ["render", "-p", c.trained, "-o", c.base / "out.avi"], "out.avi"),
    ("render: -o in masks", lambda c: ["render", "-p", c.trained, "-o", c.trained / "masks" / "x"], "masks"),
    ("render: -o in scribbles", lambda c: ["render", "-p", c.trained, "-o", c.trained / "scribbles" / "x"], "scribbles"),
    ("render: -o a file", lambda c: ["render", "-p", c.trained, "-o", c.base / "notes.txt" / "x.mp4"], "notes.txt is a file"),
    ("render: -o unwritable", lambda c: ["render", "-p", c.trained, "--reconstruct", "-o", "/proc/nope/out.mp4"], "cannot write in /proc"),
    ("render: -o folder unwritable", lambda c: ["render", "-p", c.trained, "-o", "/proc/nope/frames"], "cannot write in /proc"),
    ("render: atlas missing", lambda c: ["render", "-p", c.trained, "-b", c.base / "gone.png", "-o", c.out], "gone.png"),
    ("render: atlas garbage", lambda c: ["render", "-p", c.trained, "-b", c.base / "garbage.png", "-o", c.out], "garbage.png"),
    ("render: atlas text", lambda c: ["render", "-p", c.trained, "-f", c.base / "notes.txt", "-o", c.out], "notes.txt"),
    ("render: atlas folder", lambda c: ["render", "-p", c.trained, "-b", c.base / "a_folder", "-o", c.out], "a_folder"),
    ("render: atlas size", lambda c: ["render", "-p", c.trained, "-f", c.small_atlas, "-o", c.out], "small.png"),
    ("render: two -f", lambda c: ["render", "-p", c.trained, "-f", c.small_atlas, "-f", c.small_atlas, "-o", c.out], "-f"),
    ("render: -r sky", lambda c: ["render", "-p", c.trained, "-r", "sky", "-o", c.out], "sky"),
    ("render: -r foreground_3", lambda c: ["render", "-p", c.trained, "-r", "foreground_3", "-o", c.out], "foreground_3"),
    ("render: untrained", lambda c: ["render", "-p", c.untrained, "-o", c.out], "no trained model"),
    # -- export (where the branch has it) --------------------------------------------------------
    ("report: untrained", lambda c: ["report", "-p", c.untrained], "untrained"),
    ("report: garbage checkpoint", lambda c: ["report", "-p", c.garbage_checkpoint], "checkpoint.pt"),
    ("report: no project", lambda c: ["report"], "-p/--project"),
    ("export: no -o", lambda c: ["export", "-p", c.trained], "-o/--out"),
    ("export: -o a file", lambda c: ["export", "-p", c.trained, "-o", c.base / "notes.txt"], "notes.txt"),
    ("export: -o in frames", lambda c: ["export", "-p", c.trained, "-o", c.trained / "frames"], "frames"),
    ("export: untrained", lambda c: ["export", "-p", c.untrained, "-o", c.out], "no trained model"),
    ("studio: no project", lambda c: ["studio"], "-p/--project"),
    ("studio: missing project", lambda c: ["studio", "-p", c.base / "nowhere"], "nowhere"),
    ("studio: untrained", lambda c: ["studio", "-p", c.untrained, "--port", "0"], "no trained model"),
    ("studio: port too large", lambda c: ["studio", "-p", c.trained, "--port", "99999"], "--port 99999"),
    ("studio: port text", lambda c: ["studio", "-p", c.trained, "--port", "web"], "web"),
    ("studio: port in use", lambda c: ["studio", "-p", c.trained, "--port", str(c.busy_port)], "cannot serve on 127.0.0.1:"),
    # -- demo -----------------------------------------------------------------------------------
    ("models: unknown", lambda c: ["models", "fetch", "nope", "--cache", c.base / "models"], "unknown model"),
    ("models: no name", lambda c: ["models", "fetch", "--cache", c.base / "models"], "name a model"),
    ("demo: minutes", lambda c: ["demo", "--minutes", "-1", "-p", c.base / "demo"], "--minutes"),
    ("demo: minutes text", lambda c: ["demo", "--minutes", "soon", "-p", c.base / "demo"], "soon"),
]  # fmt: skip


def _params(cases: list) -> list:
    """The cases as test parameters; a case of a command this build does not have is skipped."""
    from neural_atlases.cli.main import COMMANDS

    params = []
    for name, args, match in cases:
        command = name.split(":")[0] if ":" in name else None
        missing = command is not None and command not in COMMANDS
        marks = [pytest.mark.skip(reason=f"no `{command}` command here")] if missing else []
        params.append(pytest.param(name, args, match, id=name, marks=marks))
    return params


def test_the_table_is_long_and_covers_every_command():
    from neural_atlases.cli.main import COMMANDS

    assert len(CASES) >= 30
    assert len({name for name, _, _ in CASES}) == len(CASES)
    named = {name.split(":")[0] for name, _, _ in CASES}
    assert set(COMMANDS) <= named, f"add bad-input cases for {set(COMMANDS) - named}"


@pytest.mark.parametrize("name,args,match", _params(CASES))
def test_bad_input_is_one_line_and_status_2(c, capsys, name, args, match):
    argv = [str(a) for a in args(c)]
    capsys.readouterr()
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 2, (argv, err)
    assert "Traceback" not in err and "Traceback" not in out
    lines = err.strip("\n").splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    assert match in errors[0], errors[0]
    assert not (c.base / "demo").exists()  # a refused demo replaces nothing


@pytest.mark.parametrize("flags", [["-s", "0"], ["--max-minutes", "0"], ["--device", "abacus"]])
def test_a_bad_train_flag_leaves_no_trace_in_the_project(tmp_path, capsys, flags):
    root = _frames_project(tmp_path / "clip", [(24, 16)] * 2)
    assert main(["train", "-p", str(root), *flags]) == 2
    assert capsys.readouterr().err.startswith("error:")
    assert sorted(p.name for p in root.iterdir()) == ["frames"]


CHEAP_FIRST = [
    "render: -o unwritable",
    "render: -o folder unwritable",
    "render: -o a file",
]
"""Cases whose check is cheap and must come before any heavy work (reading the model, rendering a
frame): the error is the only stderr line but one at most, and nothing is written."""


@pytest.mark.parametrize("name", CHEAP_FIRST)
def test_a_cheap_check_comes_before_any_heavy_work(c, capsys, name):
    args = next(a for n, a, _ in CASES if n == name)
    results = c.trained / "results"
    before = sorted((p.relative_to(results), p.stat().st_mtime_ns) for p in results.rglob("*"))
    capsys.readouterr()
    assert main([str(a) for a in args(c)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip("\n").splitlines()) <= 2, err  # no progress of a stage that ran first
    assert "rendering" not in err
    assert sorted((p.relative_to(results), p.stat().st_mtime_ns) for p in results.rglob("*")) == before


BEFORE_TORCH = [
    "train: mixed sizes",
    "train: too few masks",
    "train: mask size",
    "config unknown key",
    "config broken",
    "train: steps 0",
    "train: device",
    "atlases: -o a file",
    "atlases: -cf size",
    "atlases: -cf frame 99",
    "render: -o unwritable",
    "render: -o a file",
    "render: atlas missing",
    "render: -r sky",
    "export: -o a file",
]
"""Cases answered from flags, configs and file headers alone: the error comes before torch (or any
decoder of pixels) is imported, it is the only line on stderr, and nothing is written anywhere."""

_RUN_AND_SAY_WHAT_WAS_IMPORTED = (
    "import sys\n"
    "from neural_atlases.cli.main import main\n"
    "try:\n"
    "    status = main(sys.argv[1:])\n"
    "except SystemExit as exit:\n"
    "    status = exit.code\n"
    "print(sorted(m for m in ('torch', 'cv2', 'av') if m in sys.modules))\n"
    "sys.exit(status)\n"
)


def _run_fresh(argv: list[str]) -> subprocess.CompletedProcess:
    """The command line in a new interpreter; its stdout ends with the heavy modules it imported."""
    return subprocess.run(
        [sys.executable, "-c", _RUN_AND_SAY_WHAT_WAS_IMPORTED, *argv],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _tree(root: Path) -> list[tuple[str, int]]:
    """Every file and folder under ``root``, files with their modification times (a folder's own
    time changes when ``check_writable``'s probe file comes and goes)."""
    return sorted(
        (str(p.relative_to(root)), p.stat().st_mtime_ns if p.is_file() else 0) for p in root.rglob("*")
    )


@pytest.mark.parametrize("name", BEFORE_TORCH)
def test_a_check_that_needs_no_model_comes_before_torch(c, name):
    args = next(a for n, a, _ in CASES if n == name)
    before = _tree(c.base), _tree(c.trained)
    result = _run_fresh([str(a) for a in args(c)])
    assert result.returncode == 2, result.stderr
    assert result.stdout.splitlines()[-1] == "[]", result.stdout  # no torch, OpenCV or PyAV
    lines = result.stderr.strip("\n").splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert (_tree(c.base), _tree(c.trained)) == before


def test_help_imports_nothing_heavy():
    result = _run_fresh(["--help"])
    assert result.returncode == 0
    assert "train" in result.stdout
    assert result.stdout.splitlines()[-1] == "[]"
