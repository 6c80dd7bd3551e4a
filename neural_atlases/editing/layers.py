"""Each layer as the frame shows it, and animated (per-frame) atlases made from it.

A frame is split into its layers' own colours: layer ``l`` at pixel ``p`` has colour
``C_l(M_l(p)) + r(p)``, its atlas colour plus the frame's residual ``r = frame - recon`` (what the
atlases do not explain: lighting, noise, small motion). With ``recon = sum_l s_l C_l(M_l(p))`` and
the shares summing to 1, the layers weighted by their shares give back the frame exactly.

An animated atlas of layer ``l`` at frame ``t`` is the static atlas with every texel that frame
``t`` reaches replaced by the layer's own colour there: the frame's map is inverted (Newton, as
for frame edits) and the layer's own colour read at the pixel each texel comes from. Its alpha is the part of
the atlas that frame ``t`` shows. Reading it back through the frame's map reproduces the frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from neural_atlases.baking.bake import Baked, atlas_usage
from neural_atlases.editing.frame_edit import invert_map, read_points
from neural_atlases.editing.render import atlas_colours, read_atlas


def layer_colours(baked: Baked, t: int, frame: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The atlas colour of every layer at every pixel of frame ``t`` (``[H, W, 3]`` float32 each) and
    the frame's residual ``frame - recon`` (``[H, W, 3]`` float32); ``frame`` is ``[H, W, 3]``
    uint8. A layer's own colour in the frame is its atlas colour plus the residual."""
    shares = np.asarray(baked.shares[t], np.float32)  # [H, W, L + 1]
    colours = [
        read_atlas(c, np.asarray(baked.maps[k][t], np.float32)) for k, c in enumerate(atlas_colours(baked))
    ]
    recon = sum(shares[..., k : k + 1] * colours[k] for k in range(baked.num_layers))
    return colours, frame.astype(np.float32) / 255.0 - recon


EDGE_RINGS = 2
"""Texels just past the frame's edge take the nearest edge colour, this many rings deep, so that
bilinear reads at the frame's border pixels never mix in the static atlas."""


def grow_into(values: np.ndarray, known: np.ndarray, rings: int) -> tuple[np.ndarray, np.ndarray]:
    """Extend ``values`` ``[h, w, C]``, known where ``known`` ``[h, w]`` is True, by ``rings``
    rings of texels, each the mean of its known 8-neighbours. Returns the values and the new
    known mask."""
    values = np.where(known[..., None], values, 0.0).astype(np.float32)
    known = known.copy()
    kernel = np.ones((3, 3), np.float32)
    for _ in range(rings):
        weight = cv2.filter2D(known.astype(np.float32), -1, kernel, borderType=cv2.BORDER_CONSTANT)
        total = cv2.filter2D(values, -1, kernel, borderType=cv2.BORDER_CONSTANT).reshape(values.shape)
        grow = ~known & (weight > 0)
        values[grow] = total[grow] / weight[grow][:, None]
        known = known | grow
    return values, known


def animated_atlas(baked: Baked, layer: int, t: int, frame: np.ndarray) -> np.ndarray:
    """Layer ``layer``'s atlas as frame ``t`` shows it: ``[S_h, S_w, 4]`` uint8 RGBA.

    Texels that frame ``t`` reaches hold the layer's own colour at the pixel they come from
    (atlas colour plus the frame's residual), and ``EDGE_RINGS`` rings past the frame's edge the
    nearest such colour; the others keep the static atlas. Alpha: the
    texels frame ``t`` shows (where the layer holds at least half of the pixel).
    """
    static = baked.atlases[layer]
    ah, aw = static.shape[:2]
    texel_map = np.asarray(baked.maps[layer][t], np.float32)  # [H, W, 2]
    colours, residual = layer_colours(baked, t, frame)
    own = colours[layer] + residual  # [H, W, 3]
    out = static[..., :3].astype(np.float32) / 255.0
    lo = np.clip(np.floor(texel_map.reshape(-1, 2).min(0)).astype(int) - 1, 0, [aw - 1, ah - 1])
    hi = np.clip(np.ceil(texel_map.reshape(-1, 2).max(0)).astype(int) + 1, 0, [aw - 1, ah - 1])
    ty, tx = np.mgrid[lo[1] : hi[1] + 1, lo[0] : hi[0] + 1]
    targets = np.stack([tx.ravel(), ty.ravel()], -1).astype(np.float32)
    pos, found = invert_map(texel_map, targets)
    bh, bw = hi[1] - lo[1] + 1, hi[0] - lo[0] + 1
    values = np.zeros((bh * bw, 3), np.float32)
    values[found] = read_points(own, pos[found])
    values, filled = grow_into(values.reshape(bh, bw, 3), found.reshape(bh, bw), rings=EDGE_RINGS)
    box = out[lo[1] : hi[1] + 1, lo[0] : hi[0] + 1]
    box[filled] = values[filled]
    shown = atlas_usage(texel_map[None], np.asarray(baked.shares[t, ..., layer])[None], (ah, aw))
    rgb = (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.concatenate([rgb, shown[..., None]], -1)
