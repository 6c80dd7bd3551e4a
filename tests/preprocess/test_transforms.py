"""Tests of neural_atlases.preprocess.transforms: fitting, chaining and refining transforms."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from textures import texture

from neural_atlases.preprocess.flow import (
    FlowOptions,
    compute_flows,
    consistency_mask,
    pixel_grid,
)
from neural_atlases.preprocess.refine import refine_to_reference
from neural_atlases.preprocess.transforms import (
    TransformFitOptions,
    apply_transform,
    chain_to_first,
    fit_pair_transform,
    layer_transforms,
)

H, W, T = 96, 160, 10


def translation(tx: float, ty: float) -> np.ndarray:
    return np.array([[1.0, 0, tx], [0, 1.0, ty], [0, 0, 1.0]])


def render(source: np.ndarray, to_source: np.ndarray) -> np.ndarray:
    """Frame ``float32 [H, W, 3]`` whose pixel p shows ``source`` at ``to_source @ p``."""
    flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    return cv2.warpPerspective(source, to_source, (W, H), flags=flags)


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(image, 0, 255).round().astype(np.uint8)


def plane_scene() -> tuple[np.ndarray, list[np.ndarray]]:
    """A textured plane under pan + zoom + rotation + a little perspective.

    Returns frames ``uint8 [T, H, W, 3]`` and the true frame-t -> frame-0 transforms.
    """
    tex = texture(300, 400)
    centre = translation((W - 1) / 2, (H - 1) / 2)
    to_tex = []
    for t in range(T):
        angle, scale = np.deg2rad(0.6 * t), 1.0 + 0.012 * t
        c, s = np.cos(angle) * scale, np.sin(angle) * scale
        similarity = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
        perspective = np.array([[1, 0, 0], [0, 1, 0], [2e-4 * t, 1e-4 * t, 1.0]])
        g = translation(200 + 1.7 * t, 150 + 0.6 * t) @ similarity
        to_tex.append(g @ perspective @ np.linalg.inv(centre))  # perspective about the centre
    frames = np.stack([to_uint8(render(tex, g)) for g in to_tex])
    truth = [np.linalg.inv(to_tex[0]) @ g for g in to_tex]
    return frames, truth


def disc_scene() -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """A textured disc moving affinely (shift, rotation, shrinking) over a static background.

    Returns frames ``uint8 [T, H, W, 3]``, disc masks ``float32 [T, H, W]`` and the disc's true
    frame-t -> frame-0 transforms.
    """
    background, disc_tex = texture(H, W, seed=1), texture(200, 200, seed=2)
    yy, xx = np.mgrid[0:200, 0:200]
    disc = (((xx - 100) ** 2 + (yy - 100) ** 2) <= 30**2).astype(np.float32)
    to_tex = []
    for t in range(T):
        angle, scale = np.deg2rad(2.0 * t), 1.0 - 0.01 * t
        c, s = np.cos(angle) / scale, np.sin(angle) / scale
        inverse_rotation = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1.0]])
        to_tex.append(translation(100, 100) @ inverse_rotation @ translation(-50 - 3.1 * t, -45 - 1.2 * t))
    frames, masks = [], []
    for g in to_tex:
        alpha = render(disc[..., None].repeat(3, -1), g)[..., :1]
        frames.append(to_uint8(background * (1 - alpha) + render(disc_tex, g) * alpha))
        masks.append(alpha[..., 0])
    truth = [np.linalg.inv(to_tex[0]) @ g for g in to_tex]
    return np.stack(frames), (np.stack(masks) > 0.5).astype(np.float32), truth


def errors(transforms: np.ndarray, truth: list[np.ndarray], masks: np.ndarray | None = None) -> np.ndarray:
    """Mean distance ``[T]`` between points mapped by ``transforms`` and by ``truth``."""
    grid = pixel_grid(H, W)
    out = []
    for t in range(len(truth)):
        pts = grid[masks[t] > 0.5] if masks is not None else grid.reshape(-1, 2)[::5]
        diff = apply_transform(transforms[t], pts) - apply_transform(truth[t], pts)
        out.append(np.linalg.norm(diff, axis=-1).mean())
    return np.array(out)


def flows_and_consistency(frames: np.ndarray, options: FlowOptions | None = None):
    """Consecutive flows and their consistency masks: the first four inputs of layer_transforms."""
    forward, backward = compute_flows(frames, 1, options or FlowOptions())
    return forward, backward, consistency_mask(forward, backward), consistency_mask(backward, forward)


@pytest.fixture(scope="module")
def plane() -> tuple[np.ndarray, list[np.ndarray]]:
    return plane_scene()


def test_plane_chained_and_refined_transforms(plane) -> None:
    frames, truth = plane
    ones = np.ones((T, H, W), np.float32)
    chained = layer_transforms(frames, *flows_and_consistency(frames), ones, "homography")
    assert chained.shape == (T, 3, 3) and chained.dtype == np.float64
    np.testing.assert_allclose(chained[0], np.eye(3))
    chained_err = errors(chained, truth)
    assert chained_err.mean() < 0.5
    assert chained_err.max() < 0.5
    refined_err = errors(refine_to_reference(frames, chained, ones, "homography"), truth)
    assert refined_err[-1] < chained_err[-1]  # the last frame is where the chain drifts most
    assert refined_err.max() < 0.1
    print(f"\nplane, last frame: chained {chained_err[-1]:.3f} px, refined {refined_err[-1]:.3f} px")


def test_refine_removes_the_drift_of_a_coarse_chain(plane) -> None:
    frames, truth = plane
    ones = np.ones((T, H, W), np.float32)
    coarse_flow = FlowOptions(finest_scale=1)  # DIS at half resolution: drifts
    fit = TransformFitOptions(border_px=2)
    chained = layer_transforms(frames, *flows_and_consistency(frames, coarse_flow), ones, options=fit)
    refined = refine_to_reference(frames, chained, ones, "homography")
    chained_err, refined_err = errors(chained, truth), errors(refined, truth)
    print(f"\ncoarse chain, last frame: chained {chained_err[-1]:.3f} px, refined {refined_err[-1]:.3f} px")
    assert refined_err[-1] < 0.5 * chained_err[-1]
    assert refined_err.max() < 0.1


@pytest.mark.parametrize("model", ["affine", "similarity"])
def test_disc_motion_from_its_mask(model: str) -> None:
    frames, masks, truth = disc_scene()
    chained = layer_transforms(frames, *flows_and_consistency(frames), masks, model)
    chained_err = errors(chained, truth, masks)
    assert chained_err.mean() < 0.5
    assert chained_err.max() < 0.5
    refined = refine_to_reference(frames, chained, masks, model)
    refined_err = errors(refined, truth, masks)
    print(f"\ndisc {model}, last frame: chained {chained_err[-1]:.3f} px, refined {refined_err[-1]:.3f} px")
    assert refined_err[-1] < chained_err[-1]
    if model == "similarity":
        np.testing.assert_allclose(refined[:, 0, 0], refined[:, 1, 1], atol=1e-9)
        np.testing.assert_allclose(refined[:, 0, 1], -refined[:, 1, 0], atol=1e-9)


def test_chain_to_first_translations_add() -> None:
    pairs = [translation(1, 0), translation(2, -1), None, translation(0.5, 4)]
    out = chain_to_first(pairs)
    assert out.shape == (5, 3, 3)
    expected = [(0, 0), (-1, 0), (-3, 1), (-3, 1), (-3.5, -3)]
    for t, (tx, ty) in enumerate(expected):
        np.testing.assert_allclose(out[t], translation(tx, ty), atol=1e-12)


def test_chain_to_first_order_of_composition() -> None:
    rotate = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])  # does not commute with translation
    pairs = [translation(5, 0), rotate, np.array([[1.0, 0, 0], [0, 1, 0], [1e-3, 0, 1]])]
    out = chain_to_first(pairs)
    p0 = np.array([3.0, 7.0])
    p = p0
    for t, pair in enumerate(pairs):
        p = apply_transform(pair, p)  # where p0 is in frame t + 1
        np.testing.assert_allclose(apply_transform(out[t + 1], p), p0, atol=1e-9)


@pytest.mark.parametrize("model", ["homography", "affine", "similarity"])
def test_fit_pair_transform_is_exact_on_a_synthetic_flow(model: str) -> None:
    true = np.array([[1.01, -0.02, 2.0], [0.02, 1.01, -1.5], [0.0, 0.0, 1.0]])
    if model == "homography":
        true[2] = [1e-4, -2e-4, 1.0]
    grid = pixel_grid(H, W)
    flow = (apply_transform(true, grid) - grid).astype(np.float32)
    flow[30:50, 30:60] += 7.0  # outliers
    weight = np.ones((H, W), np.float32)
    fitted = fit_pair_transform(flow, weight, model)
    assert fitted is not None and fitted.shape == (3, 3)
    np.testing.assert_allclose(apply_transform(fitted, grid), apply_transform(true, grid), atol=1e-2)
    assert fit_pair_transform(flow, np.zeros((H, W)), model) is None


def test_apply_transform_divides_by_w() -> None:
    m = np.array([[2.0, 0, 1], [0, 2.0, 0], [0, 0, 2.0]])
    np.testing.assert_allclose(apply_transform(m, np.array([[1.0, 3.0]])), [[1.5, 3.0]])
    assert apply_transform(np.eye(3), np.zeros((4, 5, 2))).shape == (4, 5, 2)
