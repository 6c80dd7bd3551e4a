"""Synthetic scenes: shapes, determinism, exact consistency of the ground truth, and files."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import pytest

from neural_atlases.conventions import frame_file_name
from neural_atlases.data.synthetic import (
    SCRIBBLE_COLOURS,
    SCRIBBLE_INSET,
    Scene,
    SceneConfig,
    load_ground_truth,
    make_scene,
    save_ground_truth,
    write_project,
)

ONE = SceneConfig(width=96, height=64, frames=10, seed=1)
TWO = SceneConfig(width=96, height=64, frames=10, sprites=2, seed=2)
PORTRAIT = SceneConfig(width=64, height=96, frames=8, sprites=2, seed=3)
CONFIGS = {"one": ONE, "two": TWO, "portrait": PORTRAIT}


@pytest.fixture(scope="module")
def scenes() -> dict[str, Scene]:
    return {name: make_scene(config) for name, config in CONFIGS.items()}


@pytest.fixture(scope="module")
def full() -> Scene:
    """The benchmark's size, to check the sizes of pan, sprite and edit."""
    return make_scene(SceneConfig())


@pytest.fixture(params=list(CONFIGS))
def scene(request: pytest.FixtureRequest, scenes: dict[str, Scene]) -> Scene:
    return scenes[request.param]


def bilinear(image: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Reference bilinear sampling of ``image`` ``[h, w, C]`` at (x, y) ``[..., 2]`` -> ``[..., C]``
    (border texels replicated)."""
    h, w = image.shape[:2]
    x = np.clip(coords[..., 0].astype(np.float64), 0, w - 1)
    y = np.clip(coords[..., 1].astype(np.float64), 0, h - 1)
    x0, y0 = np.minimum(np.floor(x).astype(int), w - 2), np.minimum(np.floor(y).astype(int), h - 2)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    img = image.astype(np.float64)
    top = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    bottom = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


# -- shapes and determinism -----------------------------------------------------------------------
def test_shapes_and_dtypes(scene: Scene) -> None:
    c = scene.config
    t, h, w, s = c.frames, c.height, c.width, c.sprites
    expected = {
        "frames": ((t, h, w, 3), np.uint8),
        "alpha": ((t, h, w), np.float32),
        "sprite_alpha": ((s, t, h, w), np.float32),
        "background": ((t, h, w, 3), np.uint8),
        "without_sprite": ((s, t, h, w, 3), np.uint8),
        "edited": ((t, h, w, 3), np.uint8),
        "edit_region": ((t, h, w), np.bool_),
        "bg_coords": ((t, h, w, 2), np.float32),
        "sprite_coords": ((s, t, h, w, 2), np.float32),
        "homographies": ((t, 3, 3), np.float64),
    }
    for name, (shape, dtype) in expected.items():
        value = getattr(scene, name)
        assert value.shape == shape, name
        assert value.dtype == dtype, name
    assert scene.bg_texture.dtype == np.uint8 and scene.bg_texture.shape[2] == 3
    assert scene.sprite_textures.dtype == np.uint8 and scene.sprite_textures.shape[::3] == (s, 4)


def test_same_seed_same_scene_other_seed_other_scene() -> None:
    a, b = make_scene(ONE), make_scene(ONE)
    for f in dataclasses.fields(Scene):
        x, y = getattr(a, f.name), getattr(b, f.name)
        assert np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y, f.name
    c = make_scene(dataclasses.replace(ONE, seed=ONE.seed + 1))
    assert np.abs(a.frames.astype(int) - c.frames).mean() > 10


@pytest.mark.parametrize("bad", [{"sprites": 3}, {"sprites": 0}, {"frames": 1}, {"width": 8}, {"seed": -1}])
def test_bad_config_is_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        make_scene(dataclasses.replace(ONE, **bad))


# -- exact consistency ----------------------------------------------------------------------------
def test_frames_equal_background_where_nothing_covers(scene: Scene) -> None:
    clear = scene.alpha == 0
    assert clear.mean() > 0.5
    assert np.array_equal(scene.frames[clear], scene.background[clear])


def test_alpha_is_the_sum_of_visible_shares(scene: Scene) -> None:
    assert np.allclose(scene.sprite_alpha.sum(0), scene.alpha, atol=1e-6)
    assert scene.alpha.min() >= 0 and scene.alpha.max() <= 1
    assert (scene.alpha > 0.999).any()
    for share in scene.sprite_alpha:
        assert (share > 0.999).any()  # every sprite shows somewhere in full


def test_without_sprite_keeps_the_rest(scene: Scene) -> None:
    for k in range(scene.config.sprites):
        absent = scene.sprite_alpha[k] == 0
        assert np.array_equal(scene.without_sprite[k][absent], scene.frames[absent])
    if scene.config.sprites == 1:
        assert np.array_equal(scene.without_sprite[0], scene.background)
        return
    # without the back sprite: background wherever the front one is absent
    bare = scene.sprite_alpha[1] == 0
    assert np.array_equal(scene.without_sprite[0][bare], scene.background[bare])
    # without the front sprite: background wherever the back one is absent (hidden or not)
    bare = (scene.sprite_alpha[0] == 0) & (scene.sprite_alpha[1] < 1)
    assert np.array_equal(scene.without_sprite[1][bare], scene.background[bare])


def test_edit_changes_only_the_edit_region(scene: Scene) -> None:
    diff = np.abs(scene.edited.astype(int) - scene.frames)
    assert diff[~scene.edit_region].max() <= 2
    for t in (0, scene.config.frames // 2, scene.config.frames - 1):
        assert scene.edit_region[t].sum() > 50
    assert diff[0][scene.edit_region[0]].mean() > 40  # bold colours, unlike what is under them


def test_bg_coords_follow_the_homographies(scene: Scene) -> None:
    h, w = scene.config.height, scene.config.width
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    pixels = np.stack([x, y], -1).reshape(-1, 1, 2)
    for t in range(scene.config.frames):
        mapped = cv2.perspectiveTransform(pixels, scene.homographies[t]).reshape(h, w, 2)
        assert np.allclose(mapped, scene.bg_coords[t], atol=1e-3)


def test_bg_texture_at_bg_coords_is_the_clean_plate(scene: Scene) -> None:
    tex = scene.bg_texture.astype(np.float32)
    for t in range(scene.config.frames):
        u, v = scene.bg_coords[t, ..., 0], scene.bg_coords[t, ..., 1]
        same = cv2.remap(tex, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        assert np.array_equal(np.clip(np.rint(same), 0, 255).astype(np.uint8), scene.background[t])
    # an independent bilinear sampler agrees up to OpenCV's 1/32-pixel coordinate rounding
    diff = np.abs(bilinear(scene.bg_texture, scene.bg_coords) - scene.background)
    assert diff.max() <= 4 and diff.mean() < 0.3  # (OpenCV 5: max 0.5, mean 0.25)
    hb, wb = scene.bg_texture.shape[:2]
    assert scene.bg_coords.min() >= 0 and scene.bg_coords[..., 0].max() <= wb - 1
    assert scene.bg_coords[..., 1].max() <= hb - 1


def test_sprite_texture_at_sprite_coords_gives_its_alpha(scenes: dict[str, Scene]) -> None:
    scene = scenes["one"]  # one sprite: its alpha is unoccluded
    texture_alpha = scene.sprite_textures[0][..., 3:] / 255.0
    alpha = bilinear(texture_alpha, scene.sprite_coords[0])[..., 0]
    assert np.abs(alpha - scene.sprite_alpha[0]).max() < 0.05
    colour = bilinear(scene.sprite_textures[0][..., :3], scene.sprite_coords[0])
    solid = scene.alpha > 0.999
    assert np.abs(colour[solid] - scene.frames[solid]).max() <= 4


# -- geometry -------------------------------------------------------------------------------------
def test_sprites_stay_inside_the_frame(scene: Scene) -> None:
    a = scene.alpha
    assert a[:, :2].max() == 0 and a[:, -2:].max() == 0
    assert a[:, :, :2].max() == 0 and a[:, :, -2:].max() == 0


def test_sprites_move_rotate_and_bend(scenes: dict[str, Scene]) -> None:
    scene = scenes["one"]
    mass = scene.sprite_alpha[0]
    y, x = np.mgrid[0 : scene.config.height, 0 : scene.config.width]
    cx = (mass * x).sum((1, 2)) / mass.sum((1, 2))
    cy = (mass * y).sum((1, 2)) / mass.sum((1, 2))
    assert np.hypot(cx[-1] - cx[0], cy[-1] - cy[0]) > 0.25 * scene.config.width
    # the sprite's texture axis turns by 20-40 degrees between the first and the last frame
    angles = []
    for t in (0, scene.config.frames - 1):
        solid = scene.alpha[t] > 0.999
        px = np.stack([x[solid], y[solid], np.ones(solid.sum())], -1)
        fit, *_ = np.linalg.lstsq(px, scene.sprite_coords[0, t][solid], rcond=None)  # [3, 2]
        angles.append(np.degrees(np.arctan2(fit[1, 0], fit[0, 0])))
    assert 20 <= abs(angles[1] - angles[0]) <= 40


def test_every_covered_background_texel_is_seen_in_another_frame(scene: Scene) -> None:
    frames = scene.config.frames
    clean = np.zeros((frames, *scene.bg_texture.shape[:2]), np.uint8)
    for t in range(frames):
        uv = np.rint(scene.bg_coords[t][scene.alpha[t] == 0]).astype(int)
        clean[t, uv[:, 1], uv[:, 0]] = 1
        clean[t] = cv2.dilate(clean[t], np.ones((3, 3), np.uint8))  # close resampling holes
    seen = clean.sum(0)
    for t in range(frames):
        uv = np.rint(scene.bg_coords[t][scene.alpha[t] > 0]).astype(int)
        assert (seen[uv[:, 1], uv[:, 0]] - clean[t, uv[:, 1], uv[:, 0]]).min() >= 1
    # the sprites travel over the plane by more than their length: first and last footprints
    footprints = []
    for t in (0, frames - 1):
        footprint = np.zeros(scene.bg_texture.shape[:2], bool)
        uv = np.rint(scene.bg_coords[t][scene.alpha[t] > 0]).astype(int)
        footprint[uv[:, 1], uv[:, 0]] = True
        footprints.append(footprint)
    assert not (footprints[0] & footprints[1]).any()


def test_benchmark_sizes(full: Scene) -> None:
    c = full.config
    centre = np.array([[[(c.width - 1) / 2, (c.height - 1) / 2]]])
    start, end = (cv2.perspectiveTransform(centre, full.homographies[t])[0, 0] for t in (0, -1))
    assert 0.25 * c.width <= abs(end[0] - start[0]) <= 0.40 * c.width
    rows = np.nonzero((full.sprite_alpha[0] > 0.5).any(2))[1]
    assert 0.25 * c.height <= rows.max() - rows.min() <= 0.5 * c.height  # over the whole clip
    for t in range(c.frames):
        solid_rows = np.nonzero((full.sprite_alpha[0, t] > 0.5).any(1))[0]
        assert 0.25 * c.height <= np.ptp(solid_rows) + 1 <= 0.45 * c.height
    assert 0.03 <= full.edit_region[0].mean() <= 0.08
    assert np.array_equal(full.frames[full.alpha == 0], full.background[full.alpha == 0])
    assert full.bg_texture.min() > 0 and full.bg_texture.max() < 255
    assert full.bg_texture.astype(float).std() > 20


def test_portrait_scene_moves_along_its_height(scenes: dict[str, Scene]) -> None:
    scene = scenes["portrait"]
    centre = np.array([[[31.5, 47.5]]])
    start, end = (cv2.perspectiveTransform(centre, scene.homographies[t])[0, 0] for t in (0, -1))
    moved = np.linalg.norm(end - start)
    assert 0.25 * scene.config.height <= moved <= 0.4 * scene.config.height


# -- two sprites ----------------------------------------------------------------------------------
def test_sprite_one_occludes_sprite_zero(scenes: dict[str, Scene]) -> None:
    scene = scenes["two"]
    raw = [
        bilinear(scene.sprite_textures[k][..., 3:] / 255.0, scene.sprite_coords[k])[..., 0] for k in range(2)
    ]
    both = (raw[0] > 0.99) & (raw[1] > 0.99)
    assert both.sum() > 100  # they cross
    assert scene.sprite_alpha[0][both].max() < 0.02
    assert scene.sprite_alpha[1][both].min() > 0.98


def test_scribbles_on_five_frames_inside_their_layers(scene: Scene) -> None:
    if scene.config.sprites == 1:
        assert scene.scribbles is None and scene.scribble_frames == []
        return
    scribbled = np.nonzero(scene.scribbles.reshape(scene.config.frames, -1).any(1))[0]
    assert list(scribbled) == scene.scribble_frames and len(scribbled) == 5
    colours = np.array(SCRIBBLE_COLOURS, np.uint8)
    painted = scene.scribbles.any(-1)
    matches = (scene.scribbles[..., None, :] == colours).all(-1)  # [T, H, W, 3]
    assert np.array_equal(matches.any(-1), painted)  # only the three pure colours
    regions = [scene.alpha == 0, scene.sprite_alpha[0] > 0.99, scene.sprite_alpha[1] > 0.99]
    inset = int(SCRIBBLE_INSET) - 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * inset + 1, 2 * inset + 1))
    for t in scene.scribble_frames:
        for layer, region in enumerate(regions):
            stroke = matches[t, ..., layer]
            assert stroke.sum() >= 10, (t, layer)
            deep = cv2.erode(region[t].astype(np.uint8), kernel, borderValue=0) > 0
            assert deep[stroke].all(), (t, layer)


# -- files ----------------------------------------------------------------------------------------
def read_rgb(path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    return image[..., ::-1] if image.ndim == 3 else image


def test_write_project(tmp_path, scenes: dict[str, Scene]) -> None:
    scene = scenes["two"]
    write_project(scene, tmp_path, masks=True)
    frames = sorted((tmp_path / "frames").iterdir())
    assert [p.name for p in frames] == [frame_file_name(t) for t in range(scene.config.frames)]
    assert np.array_equal(np.stack([read_rgb(p) for p in frames]), scene.frames)
    masks = np.stack([read_rgb(tmp_path / "masks" / frame_file_name(t)) for t in range(10)])
    assert np.array_equal(masks, np.where(scene.alpha > 0.5, 255, 0))
    written = sorted(p.name for p in (tmp_path / "scribbles").iterdir() if p.suffix == ".png")
    assert written == [frame_file_name(t) for t in scene.scribble_frames]
    layers = json.loads((tmp_path / "scribbles" / "layers.json").read_text())
    assert layers == {"#ff0000": "background", "#00ff00": 0, "#0000ff": 1}
    for t in scene.scribble_frames:
        image = read_rgb(tmp_path / "scribbles" / frame_file_name(t))
        assert np.array_equal(image, scene.scribbles[t])


def test_write_project_one_sprite_without_masks(tmp_path, scenes: dict[str, Scene]) -> None:
    write_project(scenes["one"], tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]


@pytest.mark.parametrize("name", ["one", "two"])
def test_ground_truth_round_trip(tmp_path, scenes: dict[str, Scene], name: str) -> None:
    scene = scenes[name]
    save_ground_truth(scene, tmp_path / "truth.npz")
    loaded = load_ground_truth(tmp_path / "truth.npz")
    assert loaded.config == scene.config
    assert loaded.scribble_frames == scene.scribble_frames
    for f in dataclasses.fields(Scene):
        a, b = getattr(scene, f.name), getattr(loaded, f.name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b), f.name
        else:
            assert a == b, f.name
