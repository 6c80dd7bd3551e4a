"""Rendering: edits in atlas space composited over the ORIGINAL frames.

For each layer the edit is read at the pixel's atlas position and replaces that layer's own
colour in the pixel, in proportion to the layer's share:
``out = frame + sum_l share_l * (edit_l - edit_alpha_l * (C_l(M_l(p)) + frame - recon))``, with
``edit_l`` premultiplied and ``recon = sum_l share_l C_l(M_l(p))``. Unedited pixels stay exactly
as shot. Where a layer covers the whole pixel this is the paper's blend of the edit over the frame;
at soft layer edges it keeps the other layers' colour, where blending over the frame would mix the
edited layer's old colour back in.

Removing a layer unmixes each pixel: its share goes to the kept layers behind it (``redistribute``,
by the frames' depth order, ``baking.depth``); what stays is the kept layers' own colour (their
atlas colour plus the frame's residual ``frame - recon``), and the removed layers' share (grown by
a pixel, see ``removal_matte``) is filled by what the kept layers' atlases show there. Where the
removed layer is only partly opaque none of its colour stays behind, and a layer in front of it
keeps its soft edge. ``reconstruct`` renders from the atlases alone.

Edits are premultiplied RGBA, ``[S_h, S_w, 4]`` float32 in [0, 1] (premultiplied so bilinear reads
at an edit's border fade it out instead of darkening it). ``edit_from_atlas`` derives one from an
edited copy of an atlas or from an RGBA overlay.

``render_frame_reference`` is the plain per-pixel formula in float64, kept beside the fast path and
tested to agree with it. The fast path reads atlases with ``cv2.remap``, which interpolates at
1/32-texel steps (OpenCV's fixed-point tables): exact on that grid, within 1/32 texel off it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from neural_atlases.baking.bake import Baked
from neural_atlases.errors import UserError

EDIT_TOLERANCE = 3
"""Atlas texels whose colour differs from the original by more than this (of 255) are edited."""

EditSource = Callable[[int], np.ndarray | None]
"""A layer's edit for frame ``t``: premultiplied RGBA ``[S_h, S_w, 4]`` float32, or None."""

ColourSource = Callable[[int], np.ndarray]
"""A layer's atlas colour for frame ``t`` (an animated atlas): ``[S_h, S_w, 3]`` float32 in [0, 1]."""


def edit_from_atlas(original: np.ndarray, given: np.ndarray, name: str = "atlas") -> np.ndarray | None:
    """The edit a user made to an atlas: premultiplied RGBA float32, or None if nothing changed.

    ``original`` is the atlas as written (``[S_h, S_w, 4]`` uint8); ``given`` is an edited copy of
    it, or an RGBA overlay of the same size (transparent where nothing is painted). A texel is
    edited where the given colour differs from the original, with the given alpha as its opacity.
    """
    if given.shape[:2] != original.shape[:2]:
        raise UserError(
            f"{name} is {given.shape[1]}x{given.shape[0]} but the atlas it edits is "
            f"{original.shape[1]}x{original.shape[0]}: edit a copy of the atlas that `atlases` wrote"
        )
    rgb = given[..., :3].astype(np.float32)
    alpha = (
        given[..., 3].astype(np.float32) / 255.0
        if given.shape[2] == 4
        else np.ones(given.shape[:2], np.float32)
    )
    differs = np.abs(rgb - original[..., :3].astype(np.float32)).max(-1) > EDIT_TOLERANCE
    edit_alpha = alpha * differs
    if not edit_alpha.any():
        return None
    return np.concatenate([rgb / 255.0 * edit_alpha[..., None], edit_alpha[..., None]], -1).astype(np.float32)


def static_edit(edit: np.ndarray | None) -> EditSource:
    """The same edit on every frame."""
    return lambda t: edit


@dataclass(frozen=True)
class RenderOptions:
    """What to render besides the edits."""

    remove: frozenset[int] = field(default_factory=frozenset)
    """Layers to remove (0 = background)."""
    reconstruct: bool = False
    """Render from the atlases alone instead of compositing over the original frames."""


def read_atlas(image: np.ndarray, texel_map: np.ndarray) -> np.ndarray:
    """``image`` ``[S_h, S_w, C]`` read at ``texel_map`` ``[H, W, 2]`` (bilinear, border clamped)."""
    return cv2.remap(image, texel_map, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def atlas_colours(baked: Baked) -> list[np.ndarray]:
    """Each layer's static atlas colour, ``[S_h, S_w, 3]`` float32 in [0, 1]."""
    return [a[..., :3].astype(np.float32) / 255.0 for a in baked.atlases]


def removal_matte(shares: np.ndarray, kept: list[int], grow_px: int = 1) -> np.ndarray:
    """How much of each pixel a removal replaces: ``[H, W]`` from shares ``[H, W, L + 1]``.

    The removed layers' total share, grown by ``grow_px`` (a grey-level dilation): a learned
    alpha is a little soft at an object's outline, and what it misses there would stay behind as
    a fringe of the removed object; the kept layers' atlases fill the rim instead.
    """
    removed = np.clip(1.0 - shares[..., kept].sum(-1), 0.0, 1.0).astype(np.float32)
    if grow_px <= 0:
        return removed
    return cv2.dilate(removed, np.ones((2 * grow_px + 1, 2 * grow_px + 1), np.uint8))


KEPT_TINY = 1e-30
"""Shares summing to no more than this have underflowed (float32 softmax)."""


def redistribute(shares: np.ndarray, depth: np.ndarray, kept: list[int]) -> np.ndarray:
    """The shares ``[H, W, L + 1]`` with the layers not ``kept`` removed: ``[H, W, L + 1]``, zero
    for the removed layers, summing to 1.

    What a removed layer covered shows the kept layers *behind* it (``depth`` ``[L + 1]``, larger
    is nearer; ``baking.depth``), in proportion to their shares: where one layer covers a pixel
    the others' shares are tiny but their ratio is still right (a softmax keeps it down to
    ``exp(-87)``). Kept layers in front of it keep their shares. With no kept layer behind it, all
    kept layers share it; where the shares it goes to all underflowed, the backmost of them takes
    it.
    """
    out = shares.copy()
    removed = [k for k in range(shares.shape[-1]) if k not in kept]
    out[..., removed] = 0.0
    for k in removed:
        behind = sorted((j for j in kept if depth[j] < depth[k]), key=lambda j: depth[j]) or kept
        part = shares[..., behind]  # [H, W, B], a copy (indexed by a list)
        total = part.sum(-1, keepdims=True)
        empty = total[..., 0] <= KEPT_TINY
        if empty.any():
            part[empty] = 0.0
            part[empty, 0] = 1.0
            total = np.where(empty[..., None], np.float32(1.0), total)
        out[..., behind] += shares[..., k : k + 1] * (part / total)
    return out


class Renderer:
    """Renders frames of one baked project with a fixed set of edits and options."""

    def __init__(
        self,
        baked: Baked,
        edits: list[EditSource | None],
        options: RenderOptions = RenderOptions(),
        bases: list[ColourSource | None] | None = None,
    ):
        """``bases``: per layer, the atlas colours of each frame where they are not the static
        atlas (animated atlases); they matter only where colours come from the atlases alone
        (``reconstruct`` and what a removal fills in). Over the original frames a layer's colour
        is the frame's own, whatever its atlas."""
        if len(edits) != baked.num_layers:
            raise ValueError(f"{len(edits)} edits for {baked.num_layers} layers")
        bases = bases if bases is not None else [None] * baked.num_layers
        if len(bases) != baked.num_layers:
            raise ValueError(f"{len(bases)} atlas sources for {baked.num_layers} layers")
        bad = [k for k in options.remove if not 0 <= k < baked.num_layers]
        if bad:
            raise UserError(f"cannot remove layer {bad[0]}: the project has {baked.num_layers} layers")
        if len(options.remove) == baked.num_layers:
            raise UserError("cannot remove every layer")
        self.baked = baked
        self.edits = edits
        self.options = options
        self.colours = atlas_colours(baked)
        self.bases = bases
        self.kept = [k for k in range(baked.num_layers) if k not in options.remove]
        self._boxes: dict[int, tuple[float, float, float, float]] = {}
        self._box_refs: list[np.ndarray] = []

    def frame(self, t: int, frame: np.ndarray) -> np.ndarray:
        """Frame ``t`` rendered: ``frame`` is the original ``[H, W, 3]`` uint8; returns the same."""
        opts = self.options
        reads = [(k, e(t)) for k, e in enumerate(self.edits) if e is not None and k in self.kept]
        edits = [(k, e) for k, e in reads if e is not None]
        if not opts.reconstruct and not opts.remove:
            return self._edits_only(t, frame, edits)
        b = self.baked
        original = np.asarray(b.shares[t], dtype=np.float32)  # [H, W, L + 1]
        shares = redistribute(original, b.depth_at(t), self.kept)
        maps = [np.asarray(b.maps[k][t]) for k in range(b.num_layers)]
        colours = [self.colours[k] if base is None else base(t) for k, base in enumerate(self.bases)]
        read = [read_atlas(c, m) for c, m in zip(colours, maps, strict=True)]  # [H, W, 3] each
        below = sum(shares[..., k : k + 1] * read[k] for k in self.kept)
        if opts.reconstruct:
            out = below
        else:  # the kept layers' own colour in the frame, then the removed part filled from atlases
            static = [
                read[k] if base is None else read_atlas(self.colours[k], maps[k])
                for k, base in enumerate(self.bases)
            ]
            residual = frame.astype(np.float32) / 255.0 - sum(
                original[..., k : k + 1] * static[k] for k in range(b.num_layers)
            )
            kept = sum(shares[..., k : k + 1] * static[k] for k in self.kept) + residual
            removed = removal_matte(original, self.kept)[..., None]
            out = kept + (below - kept) * removed
        for k, edit in edits:
            e = read_atlas(edit, maps[k])  # [H, W, 4] premultiplied
            out += shares[..., k : k + 1] * (e[..., :3] - e[..., 3:4] * read[k])
        return (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

    def _edits_only(self, t: int, frame: np.ndarray, edits: list[tuple[int, np.ndarray]]) -> np.ndarray:
        """The common case, fast: edits over the original frame, computed only over the pixels
        whose atlas position falls in each edit's bounding box, summed before rounding."""
        b = self.baked
        boxes = []
        for k, edit in edits:
            x0, y0, x1, y1 = self._edit_box(edit)
            m = b.maps[k][t]  # [H, W, 2]
            hit = (m[..., 0] >= x0) & (m[..., 0] <= x1) & (m[..., 1] >= y0) & (m[..., 1] <= y1)
            rows = np.flatnonzero(hit.any(1))
            if rows.size:
                cols = np.flatnonzero(hit[rows[0] : rows[-1] + 1].any(0))
                boxes.append((k, edit, slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)))
        if not boxes:
            return frame.copy()
        ys = slice(min(bx[2].start for bx in boxes), max(bx[2].stop for bx in boxes))
        xs = slice(min(bx[3].start for bx in boxes), max(bx[3].stop for bx in boxes))
        crop = frame[ys, xs].astype(np.float32) * (1.0 / 255.0)  # the union of the boxes
        shares = np.asarray(b.shares[t, ys, xs], np.float32)  # [h, w, L + 1]
        colours = [
            read_atlas(self.colours[k], np.ascontiguousarray(b.maps[k][t][ys, xs]))
            for k in range(b.num_layers)
        ]
        residual = crop - sum(shares[..., k : k + 1] * colours[k] for k in range(b.num_layers))
        delta = np.zeros_like(crop)
        for k, edit, row_span, col_span in boxes:
            sub = (
                slice(row_span.start - ys.start, row_span.stop - ys.start),
                slice(col_span.start - xs.start, col_span.stop - xs.start),
            )
            texels = np.ascontiguousarray(b.maps[k][t][row_span, col_span])
            e = read_atlas(edit, texels)  # [h, w, 4] premultiplied
            s = shares[sub][..., k : k + 1]
            delta[sub] += s * (e[..., :3] - e[..., 3:4] * (colours[k][sub] + residual[sub]))
        crop += delta
        out = frame.copy()
        out[ys, xs] = (np.clip(crop, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        return out

    def _edit_box(self, edit: np.ndarray) -> tuple[float, float, float, float]:
        """Bounding box ``(x0, y0, x1, y1)`` in texels of where an edit is not transparent (cached)."""
        key = id(edit)
        if key not in self._boxes:
            if len(self._box_refs) >= 64:  # per-frame edits (animated atlases): keep the cache small
                self._boxes.clear()
                self._box_refs.clear()
            ys, xs = np.nonzero(edit[..., 3] > 0)
            if ys.size == 0:
                self._boxes[key] = (np.inf, np.inf, -np.inf, -np.inf)
            else:  # a bilinear read reaches one texel further; reads past the border clamp to it
                ah, aw = edit.shape[:2]
                x0 = -np.inf if xs.min() == 0 else xs.min() - 1.0
                y0 = -np.inf if ys.min() == 0 else ys.min() - 1.0
                x1 = np.inf if xs.max() == aw - 1 else xs.max() + 1.0
                y1 = np.inf if ys.max() == ah - 1 else ys.max() + 1.0
                self._boxes[key] = (x0, y0, x1, y1)
            self._box_refs.append(edit)  # keep the array alive so its id stays unique
        return self._boxes[key]

    def frames(self, frames: np.ndarray) -> Iterator[np.ndarray]:
        """Every frame rendered, in order."""
        for t in range(frames.shape[0]):
            yield self.frame(t, frames[t])


def render_frame_reference(
    t: int, frame: np.ndarray, baked: Baked, edits: list[np.ndarray | None], options: RenderOptions
) -> np.ndarray:
    """Plain reference: the paper's compositing, pixel by pixel in float64 (slow; tests only)."""
    h, w = frame.shape[:2]
    colours = atlas_colours(baked)
    kept = [k for k in range(baked.num_layers) if k not in options.remove]
    out = np.empty((h, w, 3))

    def bilinear(image: np.ndarray, p: np.ndarray) -> np.ndarray:
        sh, sw = image.shape[:2]
        x = min(max(p[0], 0.0), sw - 1.0)
        y = min(max(p[1], 0.0), sh - 1.0)
        x0, y0 = min(int(np.floor(x)), max(sw - 2, 0)), min(int(np.floor(y)), max(sh - 2, 0))
        fx, fy = x - x0, y - y0
        x1, y1 = min(x0 + 1, sw - 1), min(y0 + 1, sh - 1)
        top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
        bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
        return (top * (1 - fy) + bottom * fy).astype(np.float64)

    matte = removal_matte(np.asarray(baked.shares[t], np.float32), kept)
    depth = baked.depth_at(t)
    removed = [k for k in range(baked.num_layers) if k not in kept]
    for y in range(h):
        for x in range(w):
            s_all = np.asarray(baked.shares[t, y, x], np.float64)
            s = s_all.copy()
            s[removed] = 0.0
            for k in removed:  # to the kept layers behind it, in proportion to their shares
                behind = sorted((j for j in kept if depth[j] < depth[k]), key=lambda j: depth[j]) or kept
                total = sum(s_all[j] for j in behind)
                for j in behind:
                    if total <= KEPT_TINY:  # they all underflowed: the backmost takes it
                        s[j] += s_all[k] if j == behind[0] else 0.0
                    else:
                        s[j] += s_all[k] * s_all[j] / total
            c = frame[y, x].astype(np.float64) / 255.0
            own = [bilinear(colours[k], baked.maps[k][t, y, x]) for k in range(baked.num_layers)]
            if options.reconstruct or options.remove:
                below = sum(s[k] * own[k] for k in kept)
                if options.reconstruct:
                    c = below
                else:
                    r = c - sum(s_all[k] * own[k] for k in range(baked.num_layers))
                    mine = sum(s[k] * own[k] for k in kept) + r
                    c = mine + (below - mine) * matte[y, x]
            residual = 0.0
            if not (options.reconstruct or options.remove):
                residual = c - sum(s[k] * own[k] for k in range(baked.num_layers))
            delta = 0.0
            for k in kept:
                edit = edits[k]
                if edit is None:
                    continue
                e = bilinear(edit, baked.maps[k][t, y, x])
                delta = delta + s[k] * (e[:3] - e[3] * (own[k] + residual))
            c = c + delta
            out[y, x] = c
    return (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
