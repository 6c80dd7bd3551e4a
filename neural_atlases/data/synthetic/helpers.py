"""Small helpers of the generator: seeded streams, soft masks, texture sampling, 2D transforms."""

from __future__ import annotations

import cv2
import numpy as np

from neural_atlases.data.synthetic.scene import _SPRITE_PATHS, SceneConfig
from neural_atlases.preprocess.transforms import apply_transform


# -- small helpers --------------------------------------------------------------------------------
def _rng(config: SceneConfig, stream: int) -> np.random.Generator:
    """An independent random stream per component, so that one change does not shift the rest."""
    return np.random.default_rng([config.seed, stream])


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _soft_mask(f: np.ndarray, edge_px: float) -> np.ndarray:
    """Anti-aliased coverage ``[h, w]`` of the region ``f < 0`` of an implicit function ``[h, w]``.

    The first-order distance ``f / |grad f|`` ramps coverage from 1 to 0 over ``edge_px`` pixels.
    """
    gy, gx = np.gradient(f)
    distance = f / np.maximum(np.hypot(gx, gy), 1e-6)
    return np.clip(0.5 - distance / edge_px, 0.0, 1.0).astype(np.float32)


def _centred_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Texel coordinates ``[h, w]`` x and y relative to the centre texel."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    return x - (width - 1) / 2.0, y - (height - 1) / 2.0


def _apply_homography(h: np.ndarray, x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, ...]:
    """Homography ``[3, 3]`` applied to points ``x, y`` (any equal shapes), through
    ``preprocess.transforms.apply_transform``."""
    xy = apply_transform(
        h, np.stack(np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64)), -1)
    )
    return xy[..., 0], xy[..., 1]


def _split4(texture: np.ndarray) -> list[np.ndarray]:
    """A texture ``[h, w, C]`` as contiguous float32 pieces of at most four channels each.

    OpenCV 5 remaps images of up to four channels with exact float weights, but wider ones with
    coordinates rounded to 1/32 texel.
    """
    return [np.ascontiguousarray(texture[..., i : i + 4], np.float32) for i in range(0, texture.shape[-1], 4)]


def _sample(pieces: list[np.ndarray], u: np.ndarray, v: np.ndarray, border: int) -> np.ndarray:
    """Bilinear samples ``[H, W, C]`` of a texture split by ``_split4`` at texels ``u, v``
    ``[H, W]`` float32 (``cv2.remap``; outside it ``border``)."""
    parts = [cv2.remap(p, u, v, cv2.INTER_LINEAR, None, border) for p in pieces]
    return np.concatenate([p.reshape(*u.shape, -1) for p in parts], -1)


def _translate(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def _rotate_scale(angle: float, scale: float) -> np.ndarray:
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _check(config: SceneConfig) -> None:
    if config.width < 16 or config.height < 16:
        raise ValueError(f"scene must be at least 16x16 pixels, got {config.width}x{config.height}")
    if config.frames < 2:
        raise ValueError(f"scene needs at least 2 frames, got {config.frames}")
    if config.sprites not in _SPRITE_PATHS:
        raise ValueError(f"sprites must be 1 or 2, got {config.sprites}")
    if config.seed < 0:
        raise ValueError(f"seed must be non-negative, got {config.seed}")
