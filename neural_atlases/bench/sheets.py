"""Contact sheets of ``make bench-real``: a picture of what a user gets from a real clip."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from neural_atlases.baking.bake import Baked
from neural_atlases.io.images import write_image

ZOOM = 4
"""Each texel of an atlas detail is a ``ZOOM`` x ``ZOOM`` square on the sheet."""


def zoomed_detail(atlas: np.ndarray, side: int) -> np.ndarray:
    """A ``side`` x ``side`` texel crop of an RGBA atlas ``[S_h, S_w, 4]`` around the texel deepest
    inside its used part (alpha > 0), unused texels grey, each texel a ``ZOOM`` x ``ZOOM`` square: ``[side *
    ZOOM, side * ZOOM, 3]`` uint8."""
    used = (atlas[..., 3] > 0).astype(np.uint8)
    inside = cv2.distanceTransform(np.pad(used, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]  # deepest in the used part
    cy, cx = np.unravel_index(int(np.argmax(inside)), inside.shape)
    side = max(2, min(side, *atlas.shape[:2]))
    y0 = int(np.clip(cy - side // 2, 0, atlas.shape[0] - side))
    x0 = int(np.clip(cx - side // 2, 0, atlas.shape[1] - side))
    crop = atlas[y0 : y0 + side, x0 : x0 + side]
    a = crop[..., 3:4] > 0
    rgb = np.where(a, crop[..., :3], 128).astype(np.uint8)
    return cv2.resize(rgb, None, fx=ZOOM, fy=ZOOM, interpolation=cv2.INTER_NEAREST)


def _row(cells: list[np.ndarray], gap: int) -> np.ndarray:
    """Cells side by side, each with a white gap after it, padded to the tallest."""
    height = max(c.shape[0] for c in cells)
    pads = [((0, height - c.shape[0] + gap), (0, gap), (0, 0)) for c in cells]
    return np.concatenate(
        [np.pad(c, pad, constant_values=255) for c, pad in zip(cells, pads, strict=True)], 1
    )


def contact_sheet(
    path: Path, frames: np.ndarray, baked: Baked, sticker: np.ndarray, removed: np.ndarray, rows: int = 3
) -> None:
    """What a user sees: frames (rows), each with its foreground share and the sticker render, the
    atlases beside them; below, a clean-plate frame (``render -r foreground``) and a detail of each
    atlas at 4x zoom (texels as squares), where the weave of free texels shows if there is one."""
    t_all = np.linspace(0, frames.shape[0] - 1, rows).round().astype(int)
    gap = 4
    lines = []
    for t in t_all:
        fg = ((1.0 - np.asarray(baked.shares[t, ..., 0])) * 255).astype(np.uint8)
        cells = [frames[t], np.repeat(fg[..., None], 3, -1), sticker[t]]
        lines.append(
            np.concatenate([np.pad(c, ((0, gap), (0, gap), (0, 0)), constant_values=255) for c in cells], 1)
        )
    middle = frames.shape[0] // 2
    details = [zoomed_detail(a, min(frames.shape[1:3]) // 4) for a in baked.atlases]
    lines.append(_row([removed[middle], *details], gap))
    width = max(line.shape[1] for line in lines)
    grid = np.concatenate(
        [np.pad(x, ((0, 0), (0, width - x.shape[1]), (0, 0)), constant_values=255) for x in lines], 0
    )

    def on_grey(atlas: np.ndarray, height: int) -> np.ndarray:
        a = atlas[..., 3:4].astype(np.float32) / 255.0
        rgb = (atlas[..., :3] * a + 128 * (1 - a)).astype(np.uint8)
        width = max(1, round(rgb.shape[1] * height / rgb.shape[0]))
        return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)

    atlas_h = (grid.shape[0] - lines[-1].shape[0]) // max(1, len(baked.atlases))
    tiles = [on_grey(a, atlas_h) for a in baked.atlases]
    width = max(t.shape[1] for t in tiles)
    column = np.concatenate(
        [np.pad(t, ((0, 0), (0, width - t.shape[1]), (0, 0)), constant_values=255) for t in tiles], 0
    )
    column = np.pad(column, ((0, grid.shape[0] - column.shape[0]), (0, 0), (0, 0)), constant_values=255)
    sheet = np.concatenate([grid, column], 1)
    if sheet.shape[1] > SHEET_WIDTH:  # a picture for a README, not a record of every pixel
        height = round(sheet.shape[0] * SHEET_WIDTH / sheet.shape[1])
        sheet = cv2.resize(sheet, (SHEET_WIDTH, height), interpolation=cv2.INTER_AREA)
    write_image(path, sheet)


SHEET_WIDTH = 1200
"""Widest contact sheet, in pixels."""


SHEET_WIDTH = 1200
"""Widest contact sheet, in pixels."""
