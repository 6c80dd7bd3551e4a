"""Optical flow with RAFT (torchvision ``raft_large``), in the project's flow convention.

RAFT takes RGB in [-1, 1], ``[N, 3, H, W]`` with sides divisible by 8, and its correlation
pyramid needs at least ``MIN_SIDE`` pixels a side: frames are padded (edge pixels repeated) to
fit, and the flow cropped back. Its output ``[N, 2, H, W]`` has x first, as ours does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from neural_atlases.preprocess.weights import WeightsSpec, load_into

RAFT_WEIGHTS = WeightsSpec(
    what="RAFT",
    url="https://download.pytorch.org/models/raft_large_C_T_SKHT_V2-ff5fadd5.pth",
    config_key="preprocess.flow_weights",
    offline_options='use flow "dis" (no weights)',
)

MIN_SIDE = 128
"""Frames are padded to at least this many pixels a side (8 x 2^4: four pyramid levels at 1/8)."""


def padding_for(height: int, width: int) -> tuple[int, int]:
    """Rows and columns to add at the bottom and right: sides divisible by 8 and >= ``MIN_SIDE``."""

    def pad(side: int) -> int:
        return max(MIN_SIDE, -(-side // 8) * 8) - side

    return pad(height), pad(width)


def build_raft(weights: Path, updates: int = 12) -> torch.nn.Module:
    """``raft_large`` with the weights in ``weights`` (a state dict), in eval mode.

    ``updates``: the recurrent refinements per pair (torchvision's default 12).
    """
    from torchvision.models.optical_flow import raft_large

    model = load_into(raft_large(weights=None, progress=False), weights, RAFT_WEIGHTS).eval()
    model.num_flow_updates = updates
    return model


def _prepare(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """``uint8 [N, H, W, 3]`` -> padded ``float32 [N, 3, H', W']`` in [-1, 1]."""
    images = torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2).float()
    images = images / 127.5 - 1.0
    pad_h, pad_w = padding_for(frames.shape[1], frames.shape[2])
    return F.pad(images, (0, pad_w, 0, pad_h), mode="replicate")


@torch.no_grad()
def raft_flow(model: torch.nn.Module, frames_a: np.ndarray, frames_b: np.ndarray) -> np.ndarray:
    """Flow of each ``frames_a[i]`` to ``frames_b[i]``.

    frames_a, frames_b: ``uint8 [N, H, W, 3]``. Returns ``float32 [N, H, W, 2]``,
    ``out[i, y, x] = (dx, dy)`` as ``preprocess.flow`` has it.
    """
    if frames_a.shape != frames_b.shape:
        raise ValueError(f"frames {frames_a.shape} and {frames_b.shape} differ")
    device = next(model.parameters()).device
    _, h, w, _ = frames_a.shape
    num_updates = getattr(model, "num_flow_updates", 12)
    predictions = model(_prepare(frames_a, device), _prepare(frames_b, device), num_flow_updates=num_updates)
    flow = predictions[-1][:, :, :h, :w]  # [N, 2, H, W], the last refinement
    return np.ascontiguousarray(flow.permute(0, 2, 3, 1).cpu().numpy(), dtype=np.float32)
