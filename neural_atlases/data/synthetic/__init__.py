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

The package, section by section: ``scene`` (the configuration, the ground truth and the look's
constants), ``helpers``, ``textures`` (layout, camera, textures, edits), ``render`` (motion and
rendering: ``make_scene``) and ``files`` (a project folder, the ground truth on disk).
"""

from neural_atlases.data.synthetic.files import load_ground_truth, save_ground_truth, write_project
from neural_atlases.data.synthetic.render import make_scene
from neural_atlases.data.synthetic.scene import (
    EDIT_VISIBLE,
    SCRIBBLE_COLOURS,
    SCRIBBLE_FRAMES,
    SCRIBBLE_INSET,
    SCRIBBLE_WIDTH,
    Scene,
    SceneConfig,
)

__all__ = [
    "EDIT_VISIBLE",
    "SCRIBBLE_COLOURS",
    "SCRIBBLE_FRAMES",
    "SCRIBBLE_INSET",
    "SCRIBBLE_WIDTH",
    "Scene",
    "SceneConfig",
    "load_ground_truth",
    "make_scene",
    "save_ground_truth",
    "write_project",
]
