"""How the sprites move and how each frame, its alphas and its scribbles are rendered."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

from neural_atlases.data.synthetic.helpers import _apply_homography, _check, _rng, _sample, _split4, _to_uint8
from neural_atlases.data.synthetic.scene import (
    _SPRITE_MARGIN,
    _SPRITE_PATHS,
    EDIT_VISIBLE,
    SCRIBBLE_COLOURS,
    SCRIBBLE_FRAMES,
    SCRIBBLE_INSET,
    SCRIBBLE_WIDTH,
    Scene,
    SceneConfig,
    _Layout,
    _Motion,
    _Shape,
)
from neural_atlases.data.synthetic.textures import (
    _background_edit,
    _background_texture,
    _camera,
    _canvas_size,
    _layout,
    _sprite_edit,
    _sprite_shape,
    _sprite_texture,
)


# -- sprite motion --------------------------------------------------------------------------------
def _bend(motion: _Motion, t: int, lx: np.ndarray) -> np.ndarray:
    """Offset along the sprite's local y ``[...]`` at local x ``[...]``: an arch and an S-wave."""
    arch, wave = motion.bends[t]
    return arch * np.cos(motion.kappa * lx) + wave * np.sin(2 * motion.kappa * lx)


def _sprite_to_texture(
    motion: _Motion, t: int, centre: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Canonical pixel -> sprite texel at frame ``t``; ``centre`` is the texture's centre texel."""
    c, s = np.cos(motion.angles[t]), np.sin(motion.angles[t])
    dx, dy = x - motion.centres[t, 0], y - motion.centres[t, 1]
    lx, ly = c * dx + s * dy, -s * dx + c * dy
    return centre[0] + lx, centre[1] + ly + _bend(motion, t, lx)


def _texture_to_sprite(
    motion: _Motion, t: int, centre: np.ndarray, u: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sprite texel -> canonical pixel at frame ``t``, the exact inverse of
    ``_sprite_to_texture``."""
    c, s = np.cos(motion.angles[t]), np.sin(motion.angles[t])
    lx = u - centre[0]
    ly = v - centre[1] - _bend(motion, t, lx)
    return motion.centres[t, 0] + c * lx - s * ly, motion.centres[t, 1] + s * lx + c * ly


def _sprite_motion(config: SceneConfig, layout: _Layout, shape: _Shape, index: int) -> _Motion:
    """A sprite's smooth path, rotation and bend (before keeping it inside the frame)."""
    rng = _rng(config, 30 + index)
    cw, ch = layout.width, layout.height
    tau = np.linspace(0.0, 1.0, config.frames)  # [T]
    x0, x1, y0, y1 = np.array(_SPRITE_PATHS[config.sprites][index]) + rng.uniform(-0.015, 0.015, 4)
    ease = tau + rng.uniform(-0.03, 0.03) * np.sin(2 * np.pi * tau)
    wobble = 0.03 * np.sin(2 * np.pi * rng.uniform(0.5, 1.0) * tau + rng.uniform(0, 2 * np.pi))
    centres = np.stack([(x0 + (x1 - x0) * ease) * cw, (y0 + (y1 - y0) * tau + wobble) * ch], -1)
    turn = np.deg2rad(config.sprite_rotation_deg) * rng.uniform(0.85, 1.15) * rng.choice([-1, 1])
    angles = np.deg2rad(rng.uniform(-5, 5)) + turn * (tau - 0.5)
    arch = config.bend_px * np.sin(2 * np.pi * rng.uniform(0.5, 0.9) * tau + rng.uniform(0, 6.3))
    wave = 0.5 * config.bend_px * np.sin(2 * np.pi * rng.uniform(0.8, 1.3) * tau + rng.uniform(0, 6.3))
    return _Motion(centres, angles, np.stack([arch, wave], -1), kappa=float(np.pi / (2 * shape.a)))


def _keep_inside(motion: _Motion, texture: np.ndarray, layout: _Layout) -> _Motion:
    """Shift the sprite, frame by frame, so that its support stays ``_SPRITE_MARGIN`` pixels
    inside the canonical frame (with the default settings no shift is ever needed)."""
    support = cv2.dilate((texture[..., 3] > 0).astype(np.uint8), np.ones((3, 3), np.uint8))
    v, u = np.nonzero(support)
    centre = (np.array(texture.shape[1::-1]) - 1) / 2.0
    centres = motion.centres.copy()
    limit = np.array([layout.width - 1.0, layout.height - 1.0]) - _SPRITE_MARGIN
    for t in range(len(centres)):
        points = np.stack(_texture_to_sprite(motion, t, centre, u, v), -1)  # [N, 2]
        low, high = points.min(0), points.max(0)
        centres[t] += np.maximum(0, _SPRITE_MARGIN - low) - np.maximum(0, high - limit)
    return dataclasses.replace(motion, centres=centres)


# -- rendering ------------------------------------------------------------------------------------
def _composite(
    background: np.ndarray, colours: list[np.ndarray], alphas: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Sprites ``[H, W, 3]`` with alphas ``[H, W]`` over a background ``[H, W, 3]``, the last in
    front. Returns the colour ``[H, W, 3]`` and each sprite's visible share ``[S, H, W]``."""
    visible = [np.zeros_like(a) for a in alphas]
    uncovered = np.ones_like(alphas[0])
    for k in reversed(range(len(alphas))):
        visible[k] = alphas[k] * uncovered
        uncovered = uncovered * (1.0 - alphas[k])
    total = sum(visible, np.zeros_like(uncovered))
    colour = background * (1.0 - total)[..., None] + sum(
        v[..., None] * c for v, c in zip(visible, colours, strict=True)
    )
    return colour, np.stack(visible)


def _layer_regions(alpha: np.ndarray, sprite_alpha: np.ndarray, t: int) -> list[np.ndarray]:
    """Where each layer alone shows at frame ``t``: ``[H, W]`` bool each, background first."""
    return [alpha[t] == 0] + [share[t] > 0.99 for share in sprite_alpha]


def _depth(region: np.ndarray) -> np.ndarray:
    """Distance ``[H, W]`` of each pixel of ``region`` to the nearest pixel outside it (the frame
    border counts as outside)."""
    padded = np.pad(region.astype(np.uint8), 1)
    return cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]


def _scribble_stroke(region: np.ndarray, cross: bool) -> np.ndarray:
    """Stroke pixels ``[H, W]`` bool well inside ``region`` ``[H, W]`` bool: a line through its
    deepest point along its principal axis (and across it when ``cross``)."""
    depth = _depth(region)
    inside = depth >= SCRIBBLE_INSET
    if not inside.any():
        return inside
    deepest = np.array(np.unravel_index(np.argmax(depth), depth.shape)[::-1], np.float64)  # x, y
    points = np.stack(np.nonzero(inside)[::-1], -1).astype(np.float64)  # [N, 2] x, y
    spread = np.cov(points.T) if len(points) > 1 else np.zeros((2, 2))
    _, vectors = np.linalg.eigh(spread + np.diag([1e-6, 2e-6]))  # ties: along x
    reach = float(sum(region.shape))
    line = np.zeros(region.shape, np.uint8)
    for direction in [vectors[:, 1], vectors[:, 0]][: 2 if cross else 1]:
        ends = [np.round(deepest + sign * reach * direction).astype(int) for sign in (-1, 1)]
        cv2.line(line, tuple(map(int, ends[0])), tuple(map(int, ends[1])), 1, SCRIBBLE_WIDTH)
    return (line > 0) & inside


def _scribble_frames(alpha: np.ndarray, sprite_alpha: np.ndarray) -> list[int]:
    """``SCRIBBLE_FRAMES`` frames spread over the clip: for each of the evenly spaced targets the
    nearest frame not yet taken where every layer has room for a stroke (else the target)."""
    num_frames = len(alpha)
    targets = np.linspace(0, num_frames - 1, min(SCRIBBLE_FRAMES, num_frames))
    roomy = [
        all(_depth(r).max() >= SCRIBBLE_INSET + 1 for r in _layer_regions(alpha, sprite_alpha, t))
        for t in range(num_frames)
    ]
    chosen: list[int] = []
    for target in targets:
        free = sorted((abs(t - target), t) for t in range(num_frames) if t not in chosen)
        chosen.append(next((t for _, t in free if roomy[t]), free[0][1]))
    return sorted(chosen)


def _scribbles(alpha: np.ndarray, sprite_alpha: np.ndarray, frames: list[int]) -> np.ndarray:
    """Scribble images ``[T, H, W, 3]`` for ``frames``: one colour per layer (see ``Scene``)."""
    out = np.zeros((*alpha.shape, 3), np.uint8)
    for t in frames:
        regions = _layer_regions(alpha, sprite_alpha, t)
        for layer, (region, colour) in enumerate(zip(regions, SCRIBBLE_COLOURS, strict=True)):
            out[t][_scribble_stroke(region, cross=layer == 0)] = colour
    return out


@dataclass(frozen=True)
class _Rig:
    """Everything the renderer needs, built once per scene."""

    camera: np.ndarray
    """``[T, 3, 3]`` canonical pixel -> background texel."""
    background: list[np.ndarray]
    """The background's ``[Hb, Wb, 7]`` colour, edited colour and edit alpha, by ``_split4``."""
    sprites: list[list[np.ndarray]]
    """Each sprite's ``[Hs, Ws, 8]`` colour, alpha, edited colour and edit alpha, by ``_split4``."""
    motions: list[_Motion]
    """Each sprite's motion."""
    sprite_centre: np.ndarray
    """``[2]`` the centre texel of the sprite textures."""


def _rig(config: SceneConfig, layout: _Layout) -> tuple[_Rig, np.ndarray, np.ndarray]:
    """The renderer's rig, the background texture ``[Hb, Wb, 3]`` and the sprite textures
    ``[S, Hs, Ws, 4]``."""
    camera, bg_size = _camera(config, layout)  # [T, 3, 3]
    bg_texture = _background_texture(config, *bg_size)
    bg_rgb = bg_texture.astype(np.float32)
    edit = _background_edit(config, layout, camera[0], bg_size)
    edited = bg_rgb * (1 - edit[..., 3:]) + edit[..., :3] * edit[..., 3:]
    background = _split4(np.concatenate([bg_rgb, edited, edit[..., 3:]], -1))

    shapes = [_sprite_shape(config, layout, k) for k in range(config.sprites)]
    canvas = _canvas_size(shapes, config.edge_px)
    textures = np.stack([_sprite_texture(config, s, k, canvas) for k, s in enumerate(shapes)])
    sprites = []
    for k, texture in enumerate(textures):
        rgb, alpha = texture[..., :3].astype(np.float32), texture[..., 3:] / np.float32(255.0)
        edit = _sprite_edit(config, shapes[k], canvas) if k == 0 else np.zeros((*canvas, 4))
        edited = rgb * (1 - edit[..., 3:]) + edit[..., :3] * edit[..., 3:]
        sprites.append(_split4(np.concatenate([rgb, alpha, edited, edit[..., 3:]], -1)))
    motions = [
        _keep_inside(_sprite_motion(config, layout, s, k), textures[k], layout) for k, s in enumerate(shapes)
    ]
    centre = (np.array(canvas[::-1], np.float64) - 1) / 2.0
    return _Rig(camera, background, sprites, motions, centre), bg_texture, textures


def _render_frame(rig: _Rig, t: int, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Frame ``t`` seen at canonical pixels ``x, y`` ``[H, W]``: every per-frame array of
    ``Scene`` by name (those of the sprites with the sprite first, ``[S, H, W, ...]``)."""
    bu, bv = (c.astype(np.float32) for c in _apply_homography(rig.camera[t], x, y))
    bg = _sample(rig.background, bu, bv, cv2.BORDER_REPLICATE)  # [H, W, 7]
    coords, sprites = [], []
    for pieces, motion in zip(rig.sprites, rig.motions, strict=True):
        su, sv = (c.astype(np.float32) for c in _sprite_to_texture(motion, t, rig.sprite_centre, x, y))
        coords.append(np.stack([su, sv], -1))
        sprites.append(_sample(pieces, su, sv, cv2.BORDER_CONSTANT))  # [H, W, 8]
    alphas = [np.clip(sp[..., 3], 0.0, 1.0) for sp in sprites]
    colours, edited_colours = [sp[..., :3] for sp in sprites], [sp[..., 4:7] for sp in sprites]
    colour, visible = _composite(bg[..., :3], colours, alphas)  # [H, W, 3], [S, H, W]
    edited, _ = _composite(bg[..., 3:6], edited_colours, alphas)
    total = visible.sum(0)
    edit_alpha = (1 - total) * bg[..., 6] + sum(
        v * sp[..., 7] for v, sp in zip(visible, sprites, strict=True)
    )
    without = [
        _composite(bg[..., :3], colours, [np.zeros_like(a) if j == k else a for j, a in enumerate(alphas)])[0]
        for k in range(len(alphas))
    ]
    return {
        "frames": _to_uint8(colour),
        "alpha": total,
        "sprite_alpha": visible,
        "background": _to_uint8(bg[..., :3]),
        "without_sprite": _to_uint8(np.stack(without)),
        "edited": _to_uint8(edited),
        "edit_region": edit_alpha > EDIT_VISIBLE,
        "bg_coords": np.stack([bu, bv], -1),
        "sprite_coords": np.stack(coords),
    }


def make_scene(config: SceneConfig = SceneConfig()) -> Scene:  # noqa: B008 (frozen: a safe default)
    """Generate and render a scene with its ground truth (deterministic for a given config)."""
    _check(config)
    layout = _layout(config)
    rig, bg_texture, sprite_textures = _rig(config, layout)
    y, x = np.mgrid[0 : config.height, 0 : config.width].astype(np.float64)
    cx, cy = _apply_homography(layout.to_canonical, x, y)  # [H, W] canonical pixel
    rendered = [_render_frame(rig, t, cx, cy) for t in range(config.frames)]
    by_sprite = ("sprite_alpha", "without_sprite", "sprite_coords")
    arrays = {
        name: np.stack([r[name] for r in rendered], 1 if name in by_sprite else 0) for name in rendered[0]
    }
    scribble_frames: list[int] = []
    scribbles = None
    if config.sprites == 2:
        scribble_frames = _scribble_frames(arrays["alpha"], arrays["sprite_alpha"])
        scribbles = _scribbles(arrays["alpha"], arrays["sprite_alpha"], scribble_frames)
    return Scene(
        config=config,
        **arrays,
        scribbles=scribbles,
        scribble_frames=scribble_frames,
        homographies=np.stack([h @ layout.to_canonical for h in rig.camera]),
        bg_texture=bg_texture,
        sprite_textures=sprite_textures,
    )
