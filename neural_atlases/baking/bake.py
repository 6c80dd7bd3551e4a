"""Baking: the trained fields turned into dense maps and textures, once.

After baking, rendering never runs the model: for each layer a per-pixel map into its atlas
(texel positions, ready for ``cv2.remap``), the layer shares of every pixel, and each atlas as an
8-bit RGBA image (alpha: the part of the atlas that the video uses). These are exactly what
``atlases`` writes and what ``render`` and ``export`` read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from neural_atlases.baking.depth import depth_ranks, front_votes
from neural_atlases.baking.unseen import fill_unseen, touched_texels, unseen_texels
from neural_atlases.conventions import normalised_to_pixel
from neural_atlases.io.images import atomic_write_path
from neural_atlases.model.atlas_model import AtlasModel
from neural_atlases.progress import ProgressFn

BAKE_VERSION = 4
"""Raised whenever what ``bake`` makes changes (4: the background's unseen texels are filled)."""


@dataclass
class Baked:
    """Dense maps of a trained model.

    ``maps[l]`` is ``[T, H, W, 2]`` float32: the atlas texel (x, y) that pixel (x, y, t) of layer
    ``l`` reads. ``shares`` is ``[T, H, W, L + 1]`` float32, background first. ``atlases[l]`` is
    ``[S_h, S_w, 4]`` uint8 RGBA. ``depth`` is ``[T, L + 1]``: each layer's depth rank in each
    frame (``baking.depth``: background 0, larger is nearer); None: the layer order itself.
    """

    maps: list[np.ndarray]
    shares: np.ndarray
    atlases: list[np.ndarray]
    depth: np.ndarray | None = None

    def depth_at(self, t: int) -> np.ndarray:
        """The layers' depth ranks in frame ``t`` ``[L + 1]`` (background 0, larger is nearer)."""
        return np.arange(self.num_layers) if self.depth is None else np.asarray(self.depth[t])

    @property
    def num_layers(self) -> int:
        return len(self.maps)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(T, H, W)``."""
        t, h, w = self.shares.shape[:3]
        return t, h, w


@torch.no_grad()
def bake(model: AtlasModel, progress: ProgressFn | None = None) -> Baked:
    """Evaluate every mapping and share at every pixel, and flatten every atlas."""
    video = model.video
    h, w = video.height, video.width
    maps = [np.empty((video.frames, h, w, 2), np.float32) for _ in range(model.num_layers)]
    shares = np.empty((video.frames, h, w, model.num_layers), np.float32)
    votes = np.zeros((video.frames, model.num_layers - 1, model.num_layers - 1), np.int8)
    for t in range(video.frames):
        uvs, frame_shares, presence = model.frame_maps(t)
        shares[t] = frame_shares.reshape(h, w, -1).cpu().numpy()
        votes[t] = front_votes(shares[t].reshape(h * w, -1), presence.cpu().numpy())
        for layer, uv in enumerate(uvs):
            g = model.geometries[layer]
            texel = normalised_to_pixel(uv, g.atlas_height, g.atlas_width)
            maps[layer][t] = texel.reshape(h, w, 2).cpu().numpy()
        if progress:
            progress(t + 1, video.frames)
    atlases = []
    for layer in range(model.num_layers):
        rgb = (model.atlas(layer).texture()[..., :3].clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).cpu().numpy()
        usage = atlas_usage(maps[layer], shares[..., layer], rgb.shape[:2])
        if layer == 0 and model.num_layers > 1:  # what a clean plate shows behind the foreground
            rgb = fill_unseen(rgb, unseen_texels(maps[0], shares[..., 0], rgb.shape[:2]))
        atlases.append(np.concatenate([rgb, usage[..., None]], -1))
    return Baked(maps, shares, atlases, depth_ranks(votes))


def atlas_usage(
    texel_map: np.ndarray,  # [T, H, W, 2]
    share: np.ndarray,  # [T, H, W]
    atlas_hw: tuple[int, int],
    threshold: float = 0.5,
) -> np.ndarray:
    """Which texels the video shows (``[S_h, S_w]`` uint8, 255 = used): texels that a pixel
    where the layer holds at least ``threshold`` of the colour lands next to."""
    used = touched_texels(texel_map, np.asarray(share) > threshold, atlas_hw)
    return cv2.dilate(used.astype(np.uint8) * 255, np.ones((3, 3), np.uint8))


def save_baked(baked: Baked, folder: Path, fingerprint: str) -> None:
    """Write ``maps_L.npy``, ``shares.npy``, ``atlas_L.npy``, ``depth.npy`` and ``baked.json``
    (last, so a folder without it, or with another fingerprint, is never trusted)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "baked.json").unlink(missing_ok=True)
    for layer in range(baked.num_layers):
        _save_npy(folder / f"maps_{layer}.npy", baked.maps[layer])
        _save_npy(folder / f"atlas_{layer}.npy", baked.atlases[layer])
    _save_npy(folder / "shares.npy", baked.shares)
    if baked.depth is not None:
        _save_npy(folder / "depth.npy", baked.depth)
    meta = {
        "version": BAKE_VERSION,
        "fingerprint": fingerprint,
        "layers": baked.num_layers,
        "depth": baked.depth is not None,
    }
    with atomic_write_path(folder / "baked.json") as tmp:
        tmp.write_text(json.dumps(meta))


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_write_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def load_baked(folder: Path, fingerprint: str | None = None) -> Baked | None:
    """The baked maps in ``folder``, or None when missing, stale or from another version."""
    try:
        meta = json.loads((folder / "baked.json").read_text())
    except (OSError, ValueError):
        return None
    if meta.get("version") != BAKE_VERSION or (
        fingerprint is not None and meta.get("fingerprint") != fingerprint
    ):
        return None
    try:
        layers = int(meta["layers"])
        maps = [np.load(folder / f"maps_{k}.npy", mmap_mode="r") for k in range(layers)]
        atlases = [np.load(folder / f"atlas_{k}.npy") for k in range(layers)]
        shares = np.load(folder / "shares.npy", mmap_mode="r")
        depth = np.load(folder / "depth.npy") if meta.get("depth") else None
    except (OSError, ValueError, KeyError):
        return None
    return Baked(maps, shares, atlases, depth)
