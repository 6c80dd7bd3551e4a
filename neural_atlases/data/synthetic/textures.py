"""Where things are and what they look like: the layout, the camera, the textures, the edits."""

from __future__ import annotations

import cv2
import numpy as np

from neural_atlases.data.synthetic.helpers import (
    _apply_homography,
    _centred_grid,
    _rng,
    _rotate_scale,
    _soft_mask,
    _to_uint8,
    _translate,
)
from neural_atlases.data.synthetic.scene import (
    _BACKGROUND_EDIT_COLOURS,
    _BACKGROUND_PALETTE,
    _CAMERA_MARGIN,
    _SPRITE_EDIT_COLOURS,
    _SPRITE_PALETTES,
    SceneConfig,
    _Layout,
    _Shape,
)


# -- layout and camera ----------------------------------------------------------------------------
def _layout(config: SceneConfig) -> _Layout:
    """The canonical landscape frame: mirrored when the seed pans the other way, transposed for
    portrait sizes."""
    portrait = config.height > config.width
    width, height = max(config.width, config.height), min(config.width, config.height)
    to_canonical = np.eye(3)
    if portrait:
        to_canonical = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    if _rng(config, 0).random() < 0.5:
        mirror = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        to_canonical = mirror @ to_canonical
    return _Layout(width=width, height=height, to_canonical=to_canonical)


def _camera(config: SceneConfig, layout: _Layout) -> tuple[np.ndarray, tuple[int, int]]:
    """Per-frame homographies ``[T, 3, 3]`` canonical pixel -> texel, and the texture's (h, w).

    The camera pans along x (with a little drift in y), zooms in and rolls, smoothly in time; a
    slight perspective term tilts the plane. The texture is sized to what the frames see.
    """
    rng = _rng(config, 1)
    cw, ch = layout.width, layout.height
    tau = np.linspace(0.0, 1.0, config.frames)  # [T]
    ease = tau + rng.uniform(-0.04, 0.04) * np.sin(2 * np.pi * tau)
    pan_x = config.pan * cw * rng.uniform(0.9, 1.1) * (ease - 0.5)
    pan_y = 0.04 * ch * np.sin(np.pi * rng.uniform(0.8, 1.4) * tau + rng.uniform(0, 2 * np.pi))
    zoom = 1.0 + config.zoom * rng.uniform(0.8, 1.2) * tau
    roll = np.deg2rad(config.camera_rotation_deg) * rng.uniform(0.8, 1.2) * rng.choice([-1, 1])
    tilt = rng.uniform(-1.0, 1.0, 2) * 0.03 / np.array([cw, ch])
    perspective = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [tilt[0], tilt[1], 1.0]])
    centre = _translate(-(cw - 1) / 2.0, -(ch - 1) / 2.0)
    homographies = np.stack(
        [
            _translate(pan_x[t], pan_y[t])
            @ _rotate_scale(roll * (tau[t] - 0.5), 1.0 / zoom[t])
            @ perspective
            @ centre
            for t in range(config.frames)
        ]
    )  # [T, 3, 3]
    corners_x = np.array([-0.5, cw - 0.5, cw - 0.5, -0.5])
    corners_y = np.array([-0.5, -0.5, ch - 0.5, ch - 0.5])
    seen = np.stack([np.stack(_apply_homography(h, corners_x, corners_y), -1) for h in homographies])
    low, high = seen.reshape(-1, 2).min(0), seen.reshape(-1, 2).max(0)  # [2]
    offset = _CAMERA_MARGIN - np.floor(low)
    homographies = np.stack([_translate(*offset) @ h for h in homographies])
    size = np.ceil(high - low).astype(int) + 2 * _CAMERA_MARGIN + 1  # (w, h)
    return homographies, (int(size[1]), int(size[0]))


# -- textures -------------------------------------------------------------------------------------
def _value_noise(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Smooth noise ``[h, w]`` (std about 0.7) with features about ``cell`` pixels across."""
    grid = rng.normal(size=(int(height / cell) + 2, int(width / cell) + 2)).astype(np.float32)
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)


def _shape_mask(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """One random sharp-edged shape ``[h, w]`` in [0, 1], anti-aliased: polygon, disc, box or
    line."""
    mask = np.zeros((height, width), np.uint8)
    centre = rng.uniform([0, 0], [width, height])
    radius = rng.uniform(4.0, 0.12 * min(height, width) + 6.0)
    kind = rng.integers(4)
    if kind == 0:
        angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(3, 7)))
        radii = radius * rng.uniform(0.5, 1.0, angles.size)
        points = centre + np.stack([np.cos(angles), np.sin(angles)], -1) * radii[:, None]
        cv2.fillPoly(mask, [np.round(points * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    elif kind == 1:
        c = tuple(int(v) for v in np.round(centre * 16))
        cv2.circle(mask, c, int(radius * 16 * 0.7), 255, -1, cv2.LINE_AA, 4)
    elif kind == 2:
        box = ((*centre,), (radius * rng.uniform(0.8, 2), radius), rng.uniform(0, 180))
        corners = cv2.boxPoints(box)
        cv2.fillPoly(mask, [np.round(corners * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    else:
        points = centre + rng.normal(0, radius, (rng.integers(2, 5), 2))
        thickness = int(rng.integers(1, 4))
        pts = [np.round(points * 16).astype(np.int32)]
        cv2.polylines(mask, pts, False, 255, thickness, cv2.LINE_AA, 4)
    return mask.astype(np.float32) / 255.0


def _background_texture(config: SceneConfig, height: int, width: int) -> np.ndarray:
    """The background plane ``[h, w, 3]`` uint8: colour gradients, multi-scale noise, soft blobs,
    sharp shapes and fine grain, in muted colours kept within [16, 239]."""
    rng = _rng(config, 2)
    palette = np.array(_BACKGROUND_PALETTE, np.float32)  # [P, 3]
    cell = max(0.35 * min(height, width), 8.0)
    grid_shape = (max(2, round(height / cell) + 1), max(2, round(width / cell) + 1))
    grid = palette[rng.integers(len(palette), size=grid_shape)] + rng.normal(0, 8, (*grid_shape, 3))
    tex = cv2.resize(grid.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    for cell_px, amplitude in ((24.0, 16.0), (9.0, 10.0), (4.0, 6.0)):
        tint = amplitude * (1.0 + 0.15 * rng.normal(size=3)).astype(np.float32)
        tex += _value_noise(rng, height, width, cell_px)[..., None] * tint
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    for _ in range(max(4, height * width // 2500)):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        sx, sy = rng.uniform(3.0, 12.0, 2)
        colour = rng.normal(0, 28, 3).astype(np.float32)
        window = (
            slice(max(0, int(cy - 4 * sy)), int(cy + 4 * sy) + 1),
            slice(max(0, int(cx - 4 * sx)), int(cx + 4 * sx) + 1),
        )  # the blob beyond 4 sigma is below 1/100 of a grey level
        blob = np.exp(-0.5 * (((x[window] - cx) / sx) ** 2 + ((y[window] - cy) / sy) ** 2))
        tex[window] += blob[..., None] * colour
    for _ in range(max(8, height * width // 1200)):
        cover: np.ndarray = _shape_mask(rng, height, width)[..., None] * rng.uniform(0.6, 0.95)
        shade = rng.uniform(0.45, 0.75) if rng.random() < 0.5 else rng.uniform(1.3, 1.7)
        colour = palette[rng.integers(len(palette))] * shade
        tex = tex * (1.0 - cover) + colour * cover
    grain = cv2.GaussianBlur(rng.normal(size=(height, width)).astype(np.float32), (0, 0), 0.8)
    tex = tex + 8.0 * grain[..., None]
    return _to_uint8(np.clip(tex, 16, 239))


def _sprite_shape(config: SceneConfig, layout: _Layout, index: int) -> _Shape:
    rng = _rng(config, 10 + index)
    b = 0.5 * config.sprite_size * layout.height * (0.9**index) * rng.uniform(0.95, 1.05)
    a = 1.5 * b * rng.uniform(0.95, 1.05)
    harmonics = np.stack([rng.uniform(0.0, 0.06, 3), rng.uniform(0, 2 * np.pi, 3)], -1)
    return _Shape(a=float(a), b=float(b), harmonics=harmonics)


def _canvas_size(shapes: list[_Shape], edge_px: float) -> tuple[int, int]:
    """(h, w) of the sprite textures: odd, so that the centre is a texel, and room for the edge."""
    half_w = max(int(np.ceil(1.2 * s.a + edge_px + 3)) for s in shapes)
    half_h = max(int(np.ceil(1.2 * s.b + edge_px + 3)) for s in shapes)
    return 2 * half_h + 1, 2 * half_w + 1


def _blob_implicit(shape: _Shape, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Negative inside the sprite's outline, ``[h, w]`` for centred coordinates ``[h, w]``."""
    rho = np.hypot(x / shape.a, y / shape.b)
    phi = np.arctan2(y / shape.b, x / shape.a)
    radius = 1.0 + sum(amp * np.cos((m + 2) * phi + ph) for m, (amp, ph) in enumerate(shape.harmonics))
    return rho / radius - 1.0


def _sprite_texture(config: SceneConfig, shape: _Shape, index: int, canvas: tuple[int, int]) -> np.ndarray:
    """A sprite's RGBA texture ``[Hs, Ws, 4]`` uint8: a saturated gradient with soft stripes,
    spots and grain, and the outline's anti-aliased alpha."""
    rng = _rng(config, 20 + index)
    x, y = _centred_grid(*canvas)
    start, end, stripe, spot = (
        np.array(c, np.float32) + rng.normal(0, 8, 3).astype(np.float32) for c in _SPRITE_PALETTES[index]
    )
    direction = rng.uniform(0, np.pi)
    ramp = np.clip((x * np.cos(direction) + y * np.sin(direction)) / (2 * shape.a) + 0.5, 0, 1)
    rgb = start + (end - start) * ramp[..., None].astype(np.float32)
    period, angle = rng.uniform(0.45, 0.7) * shape.b, rng.uniform(0, np.pi)
    phase = (x * np.cos(angle) + y * np.sin(angle)) * (2 * np.pi / period)
    phase += 0.8 * np.sin(2.0 * (x * np.sin(angle) - y * np.cos(angle)) / shape.b)
    stripes = _soft_mask(0.25 - np.sin(phase), config.edge_px)[..., None]
    rgb = rgb * (1 - stripes) + stripe * stripes
    spot_distance = np.full(canvas, np.inf)
    for _ in range(rng.integers(4, 8)):
        r, t = np.sqrt(rng.uniform(0, 0.6)), rng.uniform(0, 2 * np.pi)
        cx, cy = r * shape.a * np.cos(t), r * shape.b * np.sin(t)
        radius = rng.uniform(0.12, 0.22) * shape.b
        spot_distance = np.minimum(spot_distance, np.hypot(x - cx, y - cy) - radius)
    spots = _soft_mask(spot_distance, config.edge_px)[..., None]
    rgb = rgb * (1 - spots) + spot * spots
    grain = cv2.GaussianBlur(rng.normal(size=canvas).astype(np.float32), (0, 0), 0.7)
    rgb = np.clip(rgb + 6.0 * grain[..., None], 10, 245)
    alpha = _soft_mask(_blob_implicit(shape, x, y), config.edge_px)
    return np.concatenate([_to_uint8(rgb), _to_uint8(255.0 * alpha)[..., None]], -1)


# -- edits ----------------------------------------------------------------------------------------
def _background_edit(
    config: SceneConfig, layout: _Layout, homography: np.ndarray, size: tuple[int, int]
) -> np.ndarray:
    """RGBA paint ``[Hb, Wb, 4]`` float32 (RGB 0-255, alpha 0-1) on the background texture.

    A rounded square with a cross, about 3 % of the frame, placed where frame 0 sees the plane
    and no sprite is (the far side of the canonical frame from where the sprites start).
    """
    rng = _rng(config, 3)
    cw, ch = layout.width, layout.height
    centre = _apply_homography(homography, rng.uniform(0.70, 0.76) * cw, rng.uniform(0.35, 0.65) * ch)
    side = np.sqrt(0.03 * cw * ch) * rng.uniform(0.9, 1.1)
    angle = np.arctan2(homography[1, 0], homography[0, 0]) + rng.uniform(-0.15, 0.15)
    y, x = np.mgrid[0 : size[0], 0 : size[1]].astype(np.float64)
    dx, dy = x - centre[0], y - centre[1]
    u, v = np.cos(angle) * dx + np.sin(angle) * dy, -np.sin(angle) * dx + np.cos(angle) * dy
    corner = side / 5.0
    qx, qy = np.abs(u) - (side / 2 - corner), np.abs(v) - (side / 2 - corner)
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0)
    alpha = np.clip(0.5 - (outside - corner) / config.edge_px, 0, 1)
    cross_distance = np.minimum(np.abs(u - v), np.abs(u + v)) / np.sqrt(2) - side / 14.0
    cross = np.clip(0.5 - cross_distance / config.edge_px, 0, 1)[..., None]
    fill, ink = (np.array(c, np.float64) for c in _BACKGROUND_EDIT_COLOURS)
    rgb = fill * (1 - cross) + ink * cross
    return np.concatenate([rgb, alpha[..., None]], -1).astype(np.float32)


def _sprite_edit(config: SceneConfig, shape: _Shape, canvas: tuple[int, int]) -> np.ndarray:
    """RGBA paint ``[Hs, Ws, 4]`` float32 on a sprite texture: a striped ellipse over the central
    part of the sprite (0.55 of its outline's size)."""
    x, y = _centred_grid(*canvas)
    alpha = _soft_mask(np.hypot(x / (0.55 * shape.a), y / (0.55 * shape.b)) - 1.0, config.edge_px)
    stripes = _soft_mask(np.sin(x * (2 * np.pi / (0.35 * shape.a))) - 0.3, config.edge_px)
    fill, ink = (np.array(c, np.float32) for c in _SPRITE_EDIT_COLOURS)
    rgb = fill * stripes[..., None] + ink * (1 - stripes[..., None])
    return np.concatenate([rgb, alpha[..., None]], -1).astype(np.float32)
