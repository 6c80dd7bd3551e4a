"""The torch device a command runs on (``--device``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from neural_atlases.errors import UserError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda", "mps")
"""What ``--device`` takes. Checking a name needs no torch (``pipeline.request``); whether the
machine has the device is ``pick_device``'s to say."""


def check_device_name(name: str) -> None:
    """``UserError`` unless ``name`` is one of ``DEVICES``."""
    if name not in DEVICES:
        raise UserError(f"unknown --device {name!r}: use {', '.join(DEVICES)}")


def pick_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then the CPU; a named device must be there."""
    import torch  # here: naming a device is checked before torch is imported

    check_device_name(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available (try --device cpu)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("--device mps: no Apple GPU is available (try --device cpu)")
    return torch.device(name)
