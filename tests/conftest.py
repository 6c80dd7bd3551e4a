"""Shared fixtures: small model files built by the tests themselves (no downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest


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
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def modnet_onnx(tmp_path_factory) -> Path:
    """Path of ``write_red_channel_modnet``'s model."""
    reason = "onnx (dev extra) is not installed or does not import (it needs protobuf >= 5)"
    pytest.importorskip("onnx", reason=reason, exc_type=ImportError)
    return write_red_channel_modnet(tmp_path_factory.mktemp("modnet") / "modnet.onnx")
