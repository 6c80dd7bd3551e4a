"""Opening an ONNX model with onnxruntime (CPU), with one-line errors for what goes wrong."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neural_atlases.errors import UserError


def open_session(path: Path, label: str) -> Any:
    """An onnxruntime session of the ONNX file ``path`` on the CPU.

    ``label`` starts every message (``foreground_class 'rvm'``, ``preprocess.modnet_onnx``). A
    missing onnxruntime or a file it cannot load is a ``UserError``.
    """
    try:
        import onnxruntime
    except ImportError:
        raise UserError(f"{label} needs onnxruntime: pip install 'neural-atlases[modnet]'") from None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only
    # no arena: it keeps the peak of every activation (0.8 GB more for ISNet at 1024x1024)
    options.enable_cpu_mem_arena = False
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for a bad file
        reason = " ".join(str(exc).split())[:200]
        raise UserError(f"{label}: {path} is not a usable ONNX model: {reason}") from None


def check_names(session: Any, inputs: Sequence[str], outputs: Sequence[str], label: str, what: str) -> None:
    """A ``UserError`` unless ``session`` takes the inputs and gives the outputs named (it may
    give more outputs); ``what`` names the model expected, for the message."""
    have_in = [i.name for i in session.get_inputs()]
    have_out = {o.name for o in session.get_outputs()}
    if sorted(have_in) != sorted(inputs) or not set(outputs) <= have_out:
        raise UserError(
            f"{label}: the file is not {what}: it takes {', '.join(have_in)} and gives "
            f"{', '.join(sorted(have_out))}; expected inputs {', '.join(inputs)} and outputs "
            f"{', '.join(outputs)}"
        )


def run_session(session: Any, outputs: list[str] | None, feed: dict[str, Any], label: str) -> list[Any]:
    """``session.run``; the model failing on its input is a ``UserError``."""
    try:
        return session.run(outputs, feed)
    except Exception as exc:  # onnxruntime's own error types: the model does not fit
        reason = " ".join(str(exc).split())[:200]
        raise UserError(f"{label}: the model fails on its input: {reason}") from None
