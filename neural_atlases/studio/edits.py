"""The studio's edit: one edited atlas per layer, changed stroke by stroke, with undo and redo.

A stroke arrives as an RGBA overlay (what the brush laid down, transparent elsewhere), painted on
a frame or on an atlas. A frame stroke is painted over the ORIGINAL frame and carried into the
atlases exactly as ``atlases -cf`` carries an edited frame (``editing.frame_edit``), then
composited into the atlases as they are now; on unedited atlases that is what ``atlases -cf``
writes. An eraser stroke brings the original atlas back where it lands.

Atlases are ``[S_h, S_w, 4]`` uint8 RGBA (alpha: the part of the atlas the video uses, or edited),
as ``atlases`` writes them; frames ``[H, W, 3]`` uint8; overlays ``[..., 4]`` uint8.
"""

from __future__ import annotations

import numpy as np

from neural_atlases.baking.bake import Baked
from neural_atlases.editing.frame_edit import edited_atlas, splat_frame_edit

HISTORY_LIMIT = 64
"""Edits kept for undo (the oldest go first)."""


def paint_over(image: np.ndarray, overlay: np.ndarray) -> np.ndarray:
    """``overlay`` ``[H, W, 4]`` uint8 composited over ``image`` ``[H, W, 3+]`` uint8: ``[H, W, 3]``
    uint8, ``image * (1 - a) + overlay * a`` rounded."""
    a = overlay[..., 3:4].astype(np.float32) / 255.0
    out = image[..., :3].astype(np.float32) * (1.0 - a) + overlay[..., :3].astype(np.float32) * a
    return (out + 0.5).astype(np.uint8)


def eraser_marker(frame: np.ndarray, overlay: np.ndarray) -> np.ndarray:
    """A copy of ``frame`` ``[H, W, 3]`` far from its own colour (by at least 127 of 255 in every
    channel) wherever ``overlay`` ``[H, W, 4]`` is not transparent: an edited frame whose carried
    edit says where, in each atlas, an eraser stroke on that frame lands."""
    far = np.where(frame < 128, 255, 0).astype(np.uint8)
    return np.where(overlay[..., 3:4] > 0, far, frame)


def carry_frame_stroke(
    baked: Baked,
    current: list[np.ndarray],
    frame: np.ndarray,  # [H, W, 3] uint8, the original frame t
    overlay: np.ndarray,  # [H, W, 4] uint8
    t: int,
    erase: bool = False,
) -> list[np.ndarray]:
    """The atlases after a stroke on frame ``t``: painted over the frame and carried into every
    layer's atlas as ``atlases -cf`` does, or (``erase``) the original atlas brought back where the
    stroke lands, by the stroke's alpha."""
    if not erase:
        edits = splat_frame_edit(frame, paint_over(frame, overlay), t, baked)
        return [
            atlas if edit is None else edited_atlas(atlas, edit)
            for atlas, edit in zip(current, edits, strict=True)
        ]
    edits = splat_frame_edit(frame, eraser_marker(frame, overlay), t, baked)
    out = []
    for layer, (atlas, edit) in enumerate(zip(current, edits, strict=True)):
        if edit is None:
            out.append(atlas)  # unchanged: the same array (``EditHistory.changed_layers``)
            continue
        weight = edit[..., 3:4] * (overlay[..., 3].max() / 255.0)  # the eraser's opacity
        out.append(_mix(atlas, baked.atlases[layer], weight))
    return out


def paint_atlas(atlas: np.ndarray, overlay: np.ndarray) -> np.ndarray:
    """An atlas with a stroke painted on it (alpha: used, or painted)."""
    usage = np.maximum(atlas[..., 3], np.where(overlay[..., 3] > 0, 255, 0)).astype(np.uint8)
    return np.concatenate([paint_over(atlas, overlay), usage[..., None]], -1)


def erase_atlas(atlas: np.ndarray, original: np.ndarray, overlay: np.ndarray) -> np.ndarray:
    """An atlas with the original brought back by an eraser stroke's alpha."""
    return _mix(atlas, original, overlay[..., 3:4].astype(np.float32) / 255.0)


def _mix(atlas: np.ndarray, original: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``atlas`` moved towards ``original`` by ``weight`` ``[S_h, S_w, 1]`` in [0, 1] (RGB; the
    alpha of the original where it is fully back)."""
    rgb = atlas[..., :3].astype(np.float32) * (1.0 - weight) + original[..., :3].astype(np.float32) * weight
    alpha = np.where(weight[..., 0] >= 1.0, original[..., 3], atlas[..., 3])
    return np.concatenate([(rgb + 0.5).astype(np.uint8), alpha[..., None]], -1)


class EditHistory:
    """The edited atlases after each stroke; ``undo`` and ``redo`` move along them."""

    def __init__(self, atlases: list[np.ndarray]):
        self._states = [[a.copy() for a in atlases]]
        self._index = 0

    @property
    def current(self) -> list[np.ndarray]:
        return self._states[self._index]

    @property
    def can_undo(self) -> bool:
        return self._index > 0

    @property
    def can_redo(self) -> bool:
        return self._index < len(self._states) - 1

    def push(self, atlases: list[np.ndarray]) -> None:
        """A new edit: what was undone beyond the current one is dropped."""
        self._states = self._states[: self._index + 1] + [atlases]
        if len(self._states) > HISTORY_LIMIT:
            self._states = self._states[-HISTORY_LIMIT:]
        self._index = len(self._states) - 1

    def undo(self) -> bool:
        if not self.can_undo:
            return False
        self._index -= 1
        return True

    def redo(self) -> bool:
        if not self.can_redo:
            return False
        self._index += 1
        return True

    def changed_layers(self, before: list[np.ndarray]) -> list[int]:
        """The layers whose atlas differs from ``before``."""
        return [k for k, (a, b) in enumerate(zip(self.current, before, strict=True)) if a is not b]
