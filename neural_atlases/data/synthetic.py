"""Synthetic scenes with exact ground truth, for tests and benchmarks.

A scene is a textured background plane seen by a camera that pans, zooms and rotates slightly (one
homography per frame), and one or two textured, soft-edged sprites that travel across the plane,
rotate and bend. Every frame is rendered by inverse-warping textures (``cv2.remap``, bilinear), so
the ground truth is exact: the clean plate, each pixel's texture coordinates, each sprite's visible
alpha, the video with any one sprite removed, and the video with a texture-space edit carried
through the true motion, all from the same rendering code.

Geometry is laid out on a *canonical* landscape frame (the longer side along x): the camera pans and
the sprites travel along the longer side. The output frame maps onto the canonical one by a mirror
(pan direction drawn from the seed) and, for portrait sizes, a transpose; every map is evaluated on
the output pixel grid, so no rendered array is ever flipped.

Array layouts follow ``neural_atlases.conventions`` (frames ``[T, H, W, 3]`` uint8, alphas
``[T, H, W]`` float32, pixel centres at integers). Texture coordinates are ``(x, y)`` in texels of
the texture in question, texel centres at integers.

>>> scene = make_scene(SceneConfig(width=64, height=48, frames=6))
>>> scene.frames.shape, scene.sprite_alpha.shape
((6, 48, 64, 3), (1, 6, 48, 64))
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from neural_atlases.conventions import frame_file_name

EDIT_VISIBLE = 0.005
"""A pixel is in ``edit_region`` where the edit's visible alpha exceeds this. Outside the region
the edited video differs from the video by at most ``255 * EDIT_VISIBLE`` plus rounding (2 grey
levels)."""

SCRIBBLE_COLOURS = ((255, 0, 0), (0, 255, 0), (0, 0, 255))
"""Scribble colour of the background, sprite 0 and sprite 1."""

SCRIBBLE_FRAMES = 5
"""Number of scribbled frames of a two-sprite scene (fewer only if the clip is shorter)."""

SCRIBBLE_WIDTH = 3
"""Width of a scribble stroke in pixels."""

SCRIBBLE_INSET = 4.0
"""Every scribbled pixel lies at least this many pixels inside its region."""

_CAMERA_MARGIN = 8
"""Texels of background texture beyond anything any frame sees."""

_SPRITE_MARGIN = 3
"""Pixels kept between a sprite's support and the frame border."""

_BACKGROUND_PALETTE = (
    (70, 110, 80),
    (85, 130, 135),
    (60, 85, 120),
    (120, 135, 110),
    (150, 155, 145),
    (45, 65, 70),
    (100, 120, 95),
)
"""Muted greens, teals, slate blues and greys: far from the sprites' colours."""

_SPRITE_PALETTES = (
    ((235, 120, 40), (205, 40, 45), (245, 205, 50), (110, 20, 35)),
    ((200, 60, 190), (120, 50, 205), (250, 165, 215), (250, 235, 120)),
)
"""Per sprite: gradient start, gradient end, stripes, spots (orange-red; magenta-violet)."""

_BACKGROUND_EDIT_COLOURS = ((250, 215, 30), (70, 20, 110))
"""Background edit: a yellow rounded square with a dark purple cross."""

_SPRITE_EDIT_COLOURS = ((30, 200, 235), (25, 35, 130))
"""Sprite edit: a cyan ellipse with navy stripes."""

_SPRITE_PATHS = {
    1: ((0.29, 0.68, 0.50, 0.50),),
    2: ((0.31, 0.64, 0.37, 0.55), (0.22, 0.80, 0.67, 0.47)),
}
"""Per sprite count, each sprite's (x start, x end, y start, y end) on the canonical frame, as
fractions of its width and height. Both travel with the pan so that the world moves under them
by more than their length; in the two-sprite scene sprite 1 overtakes sprite 0 in front of it."""


# -- configuration and result ---------------------------------------------------------------------
@dataclass(frozen=True)
class SceneConfig:
    """What to generate; everything random is drawn from ``seed``."""

    width: int = 256
    """Frame width in pixels."""
    height: int = 144
    """Frame height in pixels."""
    frames: int = 30
    """Number of frames (at least 2)."""
    sprites: int = 1
    """Foreground sprites: 1, or 2 (sprite 1 passes in front of sprite 0)."""
    seed: int = 0
    """Seed of every random choice: textures, shapes, paths, pan direction (non-negative)."""
    fps: float = 24.0
    """Frame rate, for writing videos."""
    pan: float = 0.32
    """Total camera pan over the clip, as a fraction of the frame's longer side (+-10 %)."""
    zoom: float = 0.06
    """Relative zoom-in of the camera over the clip (+-20 %)."""
    camera_rotation_deg: float = 3.0
    """Total camera roll over the clip in degrees (+-20 %, sign drawn)."""
    sprite_size: float = 0.3
    """Sprite 0's extent across its short axis, as a fraction of the frame's shorter side; its long
    axis is 1.5 times that. Sprite 1 is 0.9 times sprite 0."""
    sprite_rotation_deg: float = 30.0
    """Total rotation of each sprite over the clip in degrees (+-15 %, sign drawn)."""
    bend_px: float = 3.0
    """Amplitude in pixels of each sprite's smooth, time-varying bend."""
    edge_px: float = 1.5
    """Width in pixels of the anti-aliased edges of sprites and edits."""


@dataclass
class Scene:
    """A rendered scene and its ground truth (``S`` sprites, ``T`` frames of ``H x W``)."""

    config: SceneConfig
    """What it was generated from."""
    frames: np.ndarray
    """``[T, H, W, 3]`` uint8: the video."""
    alpha: np.ndarray
    """``[T, H, W]`` float32: total foreground coverage in [0, 1]."""
    sprite_alpha: np.ndarray
    """``[S, T, H, W]`` float32: each sprite's visible share of each pixel (occlusion applied);
    the shares sum to ``alpha``."""
    background: np.ndarray
    """``[T, H, W, 3]`` uint8: the clean plate (all sprites removed)."""
    without_sprite: np.ndarray
    """``[S, T, H, W, 3]`` uint8: the video with sprite ``k`` removed and the others kept."""
    edited: np.ndarray
    """``[T, H, W, 3]`` uint8: the video rendered from the edited textures."""
    edit_region: np.ndarray
    """``[T, H, W]`` bool: where the edit's visible alpha exceeds ``EDIT_VISIBLE``."""
    bg_coords: np.ndarray
    """``[T, H, W, 2]`` float32: each pixel's (x, y) in ``bg_texture`` texels."""
    sprite_coords: np.ndarray
    """``[S, T, H, W, 2]`` float32: each pixel's (x, y) in ``sprite_textures[k]`` texels
    (meaningful where sprite ``k`` covers the pixel)."""
    scribbles: np.ndarray | None
    """``[T, H, W, 3]`` uint8 for two sprites, else None: red on the background, green on
    sprite 0, blue on sprite 1, on ``scribble_frames`` only (black elsewhere)."""
    scribble_frames: list[int]
    """The scribbled frames (empty for one sprite)."""
    homographies: np.ndarray
    """``[T, 3, 3]`` float64: frame pixel (x, y, 1) -> ``bg_texture`` texel, up to scale."""
    bg_texture: np.ndarray
    """``[Hb, Wb, 3]`` uint8: the background plane; sampled at ``bg_coords`` it gives
    ``background``."""
    sprite_textures: np.ndarray
    """``[S, Hs, Ws, 4]`` uint8: each sprite's RGBA texture (alpha 255 = opaque)."""


@dataclass(frozen=True)
class _Layout:
    """How the output frame sits on the canonical landscape frame."""

    width: int
    """Canonical width: the output's longer side."""
    height: int
    """Canonical height: the output's shorter side."""
    to_canonical: np.ndarray
    """``[3, 3]`` affine map from output pixel (x, y, 1) to canonical pixel."""


@dataclass(frozen=True)
class _Motion:
    """A sprite's path on the canonical frame."""

    centres: np.ndarray
    """``[T, 2]`` canonical position of the texture centre."""
    angles: np.ndarray
    """``[T]`` rotation in radians."""
    bends: np.ndarray
    """``[T, 2]`` amplitudes in pixels of the arch and of the S-wave along the long axis."""
    kappa: float
    """Radians per pixel along the sprite's long axis of the bend's cosine."""


@dataclass(frozen=True)
class _Shape:
    """A sprite's outline: an ellipse with a wobbly radius."""

    a: float
    """Semi-axis along x (the long one), in texels."""
    b: float
    """Semi-axis along y, in texels."""
    harmonics: np.ndarray
    """``[3, 2]`` amplitude and phase of radius harmonics 2, 3, 4."""


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
    """Homography ``[3, 3]`` applied to points ``x, y`` (any equal shapes)."""
    w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    return (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / w, (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / w


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


def make_scene(config: SceneConfig = SceneConfig()) -> Scene:
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


# -- files ----------------------------------------------------------------------------------------
def _write_image(path: Path, image: np.ndarray) -> None:
    """Write an RGB ``[H, W, 3]`` or grey ``[H, W]`` uint8 image losslessly (PNG)."""
    pixels = image[..., ::-1] if image.ndim == 3 else image
    if not cv2.imwrite(str(path), np.ascontiguousarray(pixels)):
        raise OSError(f"cannot write image {path}")


def write_project(scene: Scene, project_dir: Path, masks: bool = False) -> None:
    """Write a project folder: ``frames/00000.png``..., with ``masks`` also ``masks/`` (white =
    ``alpha > 0.5``), and for two sprites ``scribbles/`` for the scribbled frames only, with a
    ``scribbles/layers.json`` that maps red to the background and green, blue to layers 0, 1."""
    project_dir = Path(project_dir)
    folders = {"frames": [(t, f) for t, f in enumerate(scene.frames)]}
    if masks:
        folders["masks"] = [
            (t, np.where(a > 0.5, 255, 0).astype(np.uint8)) for t, a in enumerate(scene.alpha)
        ]
    if scene.scribbles is not None:
        folders["scribbles"] = [(t, scene.scribbles[t]) for t in scene.scribble_frames]
    for name, images in folders.items():
        (project_dir / name).mkdir(parents=True, exist_ok=True)
        for t, image in images:
            _write_image(project_dir / name / frame_file_name(t), image)
    if scene.scribbles is not None:  # red marks the background, not a first foreground layer
        names = ["background", *range(len(SCRIBBLE_COLOURS) - 1)]
        layers = {"#{:02x}{:02x}{:02x}".format(*c): n for c, n in zip(SCRIBBLE_COLOURS, names, strict=True)}
        (project_dir / "scribbles" / "layers.json").write_text(json.dumps(layers, indent=2) + "\n")


def save_ground_truth(scene: Scene, path: Path) -> None:
    """Save every array of ``scene`` and its config (as JSON) in one ``.npz`` file."""
    arrays = {
        f.name: np.asarray(getattr(scene, f.name))
        for f in dataclasses.fields(Scene)
        if f.name != "config" and getattr(scene, f.name) is not None
    }
    arrays["scribble_frames"] = np.asarray(scene.scribble_frames, np.int64)
    config = json.dumps(dataclasses.asdict(scene.config))
    # numpy's stub types every keyword as its allow_pickle: bool
    np.savez_compressed(Path(path), config=np.asarray(config), **arrays)  # type: ignore[arg-type]


def load_ground_truth(path: Path) -> Scene:
    """Load a scene saved by ``save_ground_truth``."""
    with np.load(Path(path), allow_pickle=False) as data:
        values = {name: data[name] for name in data.files}
    config = SceneConfig(**json.loads(str(values.pop("config"))))
    values["scribble_frames"] = [int(t) for t in values["scribble_frames"]]
    values.setdefault("scribbles", None)
    return Scene(config=config, **values)
