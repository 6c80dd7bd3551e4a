"""The scene's configuration, its ground truth (``Scene``) and the constants of its look."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
