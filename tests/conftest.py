"""Checks that hold for the whole suite, and shared fixtures (small model files built by the tests
themselves: no downloads).

Every command that any test runs through ``neural_atlases.cli.main.main`` is watched: the user's
input files it was given (the project's ``frames/``, ``masks/`` and ``scribbles/``, and every
file named on its command line: videos, configs, atlases, edited frames) are hashed before and
after it runs, and a test fails if one changed, whether the command succeeded or failed. ``init``
and ``demo`` write ``frames/`` by design, so for them only the other inputs count.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

os.environ["NEURAL_ATLASES_OFFLINE"] = "1"  # tests never download: the backends' first-use fetch
# is tested against local packages made by the test (tests/preprocess/test_models.py)

INPUT_FOLDERS = ("frames", "masks", "scribbles")
WRITES_FRAMES = ("init", "demo")
FILE_OPTIONS = ("video", "config", "background", "foreground", "edited_frame")

_checked = {"runs": 0, "files": 0}


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def input_files(command: str, args: argparse.Namespace) -> list[Path]:
    """The user's input files a command was given (existing ones only)."""
    from neural_atlases.errors import UserError
    from neural_atlases.io.project import resolve_project

    files: list[Path] = []
    project = getattr(args, "project", None)
    if project is not None:
        try:
            root = resolve_project(project)
        except UserError:
            root = None
        if root is not None:
            folders = [name for name in INPUT_FOLDERS if not (name == "frames" and command in WRITES_FRAMES)]
            for name in folders:
                if (root / name).is_dir():
                    files += [p for p in (root / name).rglob("*") if p.is_file()]
    for option in FILE_OPTIONS:
        values = getattr(args, option, None)
        for value in values if isinstance(values, list) else [values]:
            if value is not None and Path(value).is_file():
                files.append(Path(value))
    return sorted(set(files))


def snapshot(paths: list[Path]) -> dict[str, str]:
    """``{path: sha256 of its bytes}``; a file that went away reads as ``missing``."""
    return {str(p): _file_digest(p) if p.is_file() else "missing" for p in paths}


@pytest.fixture(autouse=True)
def empty_model_cache(monkeypatch, tmp_path_factory):
    """Every test sees an empty model cache (``preprocess.models``), so ``foreground_class:
    "auto"`` falls back to motion masks whatever the machine has fetched; a test that wants a model
    writes its own into ``$NEURAL_ATLASES_MODELS``."""
    monkeypatch.setenv("NEURAL_ATLASES_MODELS", str(tmp_path_factory.mktemp("models")))


@pytest.fixture(autouse=True)
def inputs_never_change(monkeypatch):
    """Wrap every command of the command line with a before/after hash of its input files."""
    from neural_atlases.cli import main as cli

    changed: list[str] = []

    def watch(name, command):
        def watched(args: argparse.Namespace):
            paths = input_files(name, args)
            before = snapshot(paths)
            folders = {p.parent for p in paths if p.parent.name in INPUT_FOLDERS}
            names_before = {f: sorted(os.listdir(f)) for f in folders}
            try:
                return command(args)
            finally:
                after = snapshot(paths)
                _checked["runs"] += 1
                _checked["files"] += len(paths)
                changed.extend(f"`{name}` changed {p}" for p in paths if before[str(p)] != after[str(p)])
                changed.extend(
                    f"`{name}` added or removed files in {f}"
                    for f, names in names_before.items()
                    if not f.is_dir() or sorted(os.listdir(f)) != names
                )

        return watched

    monkeypatch.setattr(cli, "COMMANDS", {name: watch(name, fn) for name, fn in cli.COMMANDS.items()})
    yield
    assert not changed, "input files changed: " + "; ".join(changed)


def pytest_terminal_summary(terminalreporter) -> None:
    if _checked["runs"]:
        terminalreporter.write_line(
            f"input files unchanged after {_checked['runs']} command runs ({_checked['files']} file checks)"
        )


TINY_CONFIG = {
    "train": {"batch_size": 512, "eval_every": 10, "checkpoint_every": 10},
    "preprocess": {"flow_gaps": [1, 2]},
}
"""A config that trains the tiny clip in a second or two."""


@pytest.fixture(scope="session")
def tiny_config(tmp_path_factory) -> Path:
    import json

    path = tmp_path_factory.mktemp("tiny_config") / "tiny.json"
    path.write_text(json.dumps(TINY_CONFIG))
    return path


@pytest.fixture(scope="session")
def tiny_trained(tmp_path_factory, tiny_config) -> Path:
    """A 5-frame 48x32 synthetic project with masks, trained for 20 steps with ``train``. Shared by
    the session: tests that change it must work on a copy (``shutil.copytree``)."""
    from neural_atlases.cli.main import main
    from neural_atlases.data.synthetic import SceneConfig, make_scene, write_project

    root = tmp_path_factory.mktemp("tiny_trained") / "clip"
    write_project(make_scene(SceneConfig(width=48, height=32, frames=5)), root, masks=True)
    assert main(["train", "-p", str(root), "-s", "20", "-c", str(tiny_config)]) == 0
    return root


def write_red_channel_modnet(path: Path) -> Path:
    """A tiny ONNX model with MODNet's interface: input ``float32 [1, 3, h, w]`` in [-1, 1],
    output ``[1, 1, h, w]``. Its matte is the input's first (red) channel mapped back to [0, 1],
    so a test can tell whether the input was RGB in [-1, 1]. It refuses (fails to run on) sides
    that are not multiples of 32, as MODNet's encoder does: a 32 x 32 average pool and a resize
    back must give the input's size."""
    import onnx
    from onnx import TensorProto, helper

    def const(name: str, values: list, dtype=TensorProto.INT64) -> onnx.TensorProto:
        return helper.make_tensor(name, dtype, [len(values)], values)

    nodes = [
        helper.make_node("Slice", ["input", "starts", "ends", "axes"], ["red"]),  # [1, 1, h, w]
        helper.make_node("Add", ["red", "one"], ["shifted"]),
        helper.make_node("Mul", ["shifted", "half"], ["matte"]),
        # [1, 1, h / 32, w / 32] -> back to [1, 1, h, w]: equal to the input's shape only when
        # both sides are multiples of 32; Sub fails to broadcast otherwise
        helper.make_node("AveragePool", ["matte"], ["pooled"], kernel_shape=[32, 32], strides=[32, 32]),
        helper.make_node("Resize", ["pooled", "", "scales"], ["coarse"], mode="nearest"),
        helper.make_node("Sub", ["coarse", "coarse"], ["zero"]),
        helper.make_node("Add", ["matte", "zero"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "red_channel_modnet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, "h", "w"])],
        initializer=[
            const("starts", [0]),
            const("ends", [1]),
            const("axes", [1]),
            helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
            helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
            const("scales", [1.0, 1.0, 32.0, 32.0], TensorProto.FLOAT),
        ],
    )
    return _save_onnx(graph, path)


@pytest.fixture(scope="session")
def modnet_onnx(tmp_path_factory) -> Path:
    """Path of ``write_red_channel_modnet``'s model."""
    _needs_onnx()
    return write_red_channel_modnet(tmp_path_factory.mktemp("modnet") / "modnet.onnx")


def write_tiny_rvm(path: Path, state_gain: float = 0.5) -> Path:
    """A tiny ONNX model with Robust Video Matting's interface (``preprocess.rvm``): ``src``
    ``[1, 3, h, w]``, states ``r1i`` .. ``r4i``, ``downsample_ratio``; outputs ``fgr``, ``pha``,
    ``r1o`` .. ``r4o``. Its matte is the red channel plus ``state_gain`` times the mean of ``r1i``;
    ``r1o`` is the matte's mean, so the matte of a frame depends on the frame before when the
    states are fed back. ``r2o`` .. ``r4o`` pass their inputs through."""
    import onnx
    from onnx import TensorProto, helper

    def const(name: str, values: list, dtype=TensorProto.INT64) -> onnx.TensorProto:
        return helper.make_tensor(name, dtype, [len(values)], values)

    nodes = [
        helper.make_node("Slice", ["src", "starts", "ends", "axes"], ["red"]),  # [1, 1, h, w]
        helper.make_node("ReduceMean", ["r1i"], ["state"], keepdims=0),  # []
        helper.make_node("Mul", ["state", "gain"], ["lift"]),
        helper.make_node("Add", ["red", "lift"], ["pha"]),
        helper.make_node("ReduceMean", ["pha"], ["r1o"], keepdims=1),  # [1, 1, 1, 1]
        helper.make_node("Identity", ["src"], ["fgr"]),
        helper.make_node("Identity", ["r2i"], ["r2o"]),
        helper.make_node("Identity", ["r3i"], ["r3o"]),
        helper.make_node("Mul", ["r4i", "one"], ["r4o"]),
    ]
    state = [1, 1, "a", "b"]
    inputs = [helper.make_tensor_value_info("src", TensorProto.FLOAT, [1, 3, "h", "w"])]
    inputs += [helper.make_tensor_value_info(f"r{k}i", TensorProto.FLOAT, state) for k in range(1, 5)]
    inputs += [helper.make_tensor_value_info("downsample_ratio", TensorProto.FLOAT, [1])]
    outputs = [
        helper.make_tensor_value_info("fgr", TensorProto.FLOAT, [1, 3, "h", "w"]),
        helper.make_tensor_value_info("pha", TensorProto.FLOAT, [1, 1, "h", "w"]),
    ]
    outputs += [
        helper.make_tensor_value_info(f"r{k}o", TensorProto.FLOAT, [1, 1, "c", "d"]) for k in range(1, 5)
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_rvm",
        inputs,
        outputs,
        initializer=[
            const("starts", [0]),
            const("ends", [1]),
            const("axes", [1]),
            helper.make_tensor("gain", TensorProto.FLOAT, [], [state_gain]),
            helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
        ],
    )
    return _save_onnx(graph, path)


@pytest.fixture(scope="session")
def tiny_rvm(tmp_path_factory) -> Path:
    """Path of ``write_tiny_rvm``'s model."""
    _needs_onnx()
    return write_tiny_rvm(tmp_path_factory.mktemp("rvm") / "rvm_mobilenetv3_fp32.onnx")


def _save_onnx(graph, path: Path) -> Path:
    """Write an ONNX graph as a checked opset-17 model at ``path``."""
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _needs_onnx() -> None:
    reason = "onnx (dev extra) is not installed or does not import (it needs protobuf >= 5)"
    pytest.importorskip("onnx", reason=reason, exc_type=ImportError)


ISNET_TEST_SIDE = 64
"""The tiny ISNet's fixed input side (the real one takes 1024)."""


def write_tiny_isnet(path: Path, side: int = ISNET_TEST_SIDE) -> Path:
    """A tiny ONNX model with ISNet's interface (``preprocess.isnet``): ``input`` ``float32 [1, 3,
    side, side]`` (RGB / 255 - 0.5) -> ``output`` ``[1, 1, side, side]``, the red channel back in
    [0, 1] (so a test can tell the normalisation), and a side output, as the real model has."""
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Slice", ["input", "starts", "ends", "axes"], ["red"]),
        helper.make_node("Add", ["red", "half"], ["output"]),
        helper.make_node("Neg", ["output"], ["side_output"]),
    ]
    shape = [1, 1, side, side]
    graph = helper.make_graph(
        nodes,
        "tiny_isnet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, side, side])],
        [
            helper.make_tensor_value_info("output", TensorProto.FLOAT, shape),
            helper.make_tensor_value_info("side_output", TensorProto.FLOAT, shape),
        ],
        initializer=[
            helper.make_tensor("starts", TensorProto.INT64, [1], [0]),
            helper.make_tensor("ends", TensorProto.INT64, [1], [1]),
            helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
            helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
        ],
    )
    return _save_onnx(graph, path)


@pytest.fixture(scope="session")
def tiny_isnet(tmp_path_factory) -> Path:
    """Path of ``write_tiny_isnet``'s model."""
    _needs_onnx()
    return write_tiny_isnet(tmp_path_factory.mktemp("isnet") / "isnet_medium.onnx")


def _two_shot_video(path: Path, first: int = 8, second: int = 7) -> Path:
    """A 64x48 video: a panning texture for ``first`` frames, then another scene for ``second``."""
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8).repeat(16, 0).repeat(16, 1)  # 64x48, smooth
    b = np.full_like(a, (20, 160, 60))
    b[::16] = 250
    frames = [np.roll(a, i, axis=1) for i in range(first)] + [np.roll(b, i, axis=0) for i in range(second)]
    from neural_atlases.io.video import write_video

    write_video(path, np.stack(frames), fps=10)
    return path


@pytest.fixture
def two_shot_video():
    """``make(path, first=8, second=7)``: writes a video with one cut (``_two_shot_video``)."""
    return _two_shot_video
