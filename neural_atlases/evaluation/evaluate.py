"""Evaluation of a trained project: reconstruction quality, alpha, UV checkerboards."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from neural_atlases.baking.bake import Baked
from neural_atlases.conventions import layer_name
from neural_atlases.editing.render import Renderer, RenderOptions
from neural_atlases.io.images import atomic_write_path
from neural_atlases.io.video import write_video
from neural_atlases.progress import Progress


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB of two uint8 images or videos, optionally over a boolean ``mask`` (broadcast
    over channels)."""
    d = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    if mask is not None:
        m = np.broadcast_to(mask[..., None] if mask.ndim == d.ndim - 1 else mask, d.shape)
        if not m.any():
            return float("nan")
        d = d[m]
    return _decibels(float(d.mean()))


def _decibels(mse: float) -> float:
    """PSNR in dB of a mean squared error of 8-bit values."""
    return 10.0 * math.log10(255.0**2 / max(mse, 1e-10))


def video_psnr(video: np.ndarray, reference: np.ndarray) -> tuple[float, list[float]]:
    """PSNR in dB of a whole uint8 video ``[T, H, W, 3]`` against another, and of each frame: the
    same figures as ``psnr`` over the video and over each frame, from per-frame squared errors
    (no float64 copy of the whole video is made)."""
    errors = [float(np.mean((v.astype(np.float64) - r) ** 2)) for v, r in zip(video, reference, strict=True)]
    return _decibels(float(np.mean(errors))), [_decibels(e) for e in errors]


def checkerboard(height: int, width: int, cells: int = 24) -> np.ndarray:
    """A two-colour checkerboard ``[height, width, 3]`` float32 with ``cells`` squares along the
    longer side."""
    size = max(height, width) / cells
    ys, xs = np.mgrid[0:height, 0:width]
    odd = ((xs // size).astype(int) + (ys // size).astype(int)) % 2 == 1
    out = np.where(odd[..., None], [0.95, 0.85, 0.2], [0.15, 0.3, 0.8]).astype(np.float32)
    return out


def checkerboard_frame(baked: Baked, layer: int, t: int, frame: np.ndarray) -> np.ndarray:
    """Frame ``t`` with a checkerboard in ``layer``'s atlas painted through its map where the layer
    shows: ``[H, W, 3]`` uint8."""
    ah, aw = baked.atlases[layer].shape[:2]
    board = checkerboard(ah, aw)
    colour = cv2.remap(
        board, np.asarray(baked.maps[layer][t]), None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    share = np.asarray(baked.shares[t, ..., layer : layer + 1], np.float32)
    out = colour * share + frame.astype(np.float32) / 255.0 * 0.35 * (1.0 - share)
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


@dataclass
class Evaluation:
    psnr: float
    per_frame: list[float]


def evaluate(baked: Baked, frames: np.ndarray, out_dir: Path, fps: float) -> Evaluation:
    """Write reconstruction, alpha and checkerboard videos plus ``metrics.json`` to ``out_dir``."""
    num_layers = baked.num_layers
    renderer = Renderer(baked, [None] * num_layers, RenderOptions(reconstruct=True))
    recon = np.empty_like(frames)
    with Progress(frames.shape[0], "reconstructing", unit="frame") as bar:
        for t, image in enumerate(renderer.frames(frames)):
            recon[t] = image
            bar.update()
    result = Evaluation(*video_psnr(recon, frames))
    out_dir.mkdir(parents=True, exist_ok=True)
    write_video(out_dir / "reconstruction.mp4", recon, fps)
    for layer in range(1, num_layers):
        share = np.asarray(baked.shares[..., layer])
        grey = (np.clip(share, 0, 1) * 255 + 0.5).astype(np.uint8)
        write_video(out_dir / f"alpha_{layer_name(layer)}.mp4", np.repeat(grey[..., None], 3, -1), fps)
    for layer in range(num_layers):
        boards = np.stack([checkerboard_frame(baked, layer, t, frames[t]) for t in range(frames.shape[0])])
        write_video(out_dir / f"checkerboard_{layer_name(layer)}.mp4", boards, fps)
    metrics = {"psnr": result.psnr, "per_frame_psnr": result.per_frame, "frames": int(frames.shape[0])}
    with atomic_write_path(out_dir / "metrics.json") as tmp:
        tmp.write_text(json.dumps(metrics, indent=2))
    return result
