"""What the studio page receives of each frame: the frame, its layer shares and its maps, packed
as raw little-endian arrays that WebGL uploads as they come (no image decoding, no colour
management, nothing premultiplied).

A frame's block is, in order: the frame ``[H, W, 4]`` uint8 RGBA (alpha 255); the shares ``[H, W,
4]`` uint16 (``round(share * 65535)``, background first, unused channels 0); then for each layer
its map ``[H, W, 2]`` uint16, texel ``x = (v + offset) / scale`` (``MapEncoding``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neural_atlases.baking.bake import Baked
from neural_atlases.errors import UserError

MAX_LAYERS = 4
"""The page's shader reads the shares of at most four layers (one RGBA texture)."""

SHARE_SCALE = 65535.0


@dataclass(frozen=True)
class MapEncoding:
    """How a layer's map is stored in uint16: texel ``x = (v + offset) / scale``."""

    offset: int
    """In units of ``1 / scale`` texel."""
    scale: int
    """Steps per texel: 32 (``cv2.remap``'s own 1/32-texel steps) unless the map spans too many
    texels for 16 bits, then the largest power of two that fits."""


def map_encoding(texel_map: np.ndarray, margin: float = 2.0) -> MapEncoding:
    """The encoding of a map ``[T, H, W, 2]`` (all frames): its range, with ``margin`` texels."""
    low = float(np.min(texel_map)) - margin
    high = float(np.max(texel_map)) + margin
    scale = 32
    while scale > 1 and (high - low) * scale >= 65535:
        scale //= 2
    return MapEncoding(offset=int(np.floor(low * scale)), scale=scale)


def encode_map(texel_map: np.ndarray, encoding: MapEncoding) -> np.ndarray:
    """A map ``[..., 2]`` float32 to ``[..., 2]`` uint16 (``MapEncoding``)."""
    v = np.rint(np.asarray(texel_map, np.float64) * encoding.scale) - encoding.offset
    return np.clip(v, 0, 65535).astype("<u2")


def decode_map(encoded: np.ndarray, encoding: MapEncoding) -> np.ndarray:
    """Inverse of ``encode_map`` (to the encoding's steps): ``[..., 2]`` float32."""
    return ((encoded.astype(np.float64) + encoding.offset) / encoding.scale).astype(np.float32)


def check_layers(baked: Baked) -> None:
    if baked.num_layers > MAX_LAYERS:
        raise UserError(f"the studio shows at most {MAX_LAYERS} layers; the project has {baked.num_layers}")


def pack_frame(baked: Baked, frame: np.ndarray, t: int, encodings: list[MapEncoding]) -> bytes:
    """Frame ``t``'s block (see the module docstring); ``frame`` is ``[H, W, 3]`` uint8."""
    h, w = frame.shape[:2]
    rgba = np.empty((h, w, 4), np.uint8)
    rgba[..., :3] = frame
    rgba[..., 3] = 255
    shares = np.zeros((h, w, MAX_LAYERS), "<u2")
    shares[..., : baked.num_layers] = np.rint(np.asarray(baked.shares[t], np.float32) * SHARE_SCALE)
    parts = [rgba.tobytes(), shares.tobytes()]
    parts += [encode_map(baked.maps[k][t], e).tobytes() for k, e in enumerate(encodings)]
    return b"".join(parts)
