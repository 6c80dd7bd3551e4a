"""Dense alignment: corrections beyond the global transforms, and the guard against matching a
similar texture elsewhere."""

from __future__ import annotations

import numpy as np

from neural_atlases.preprocess.align import dense_corrections


def _clip(shift: int, t: int = 2, h: int = 48, w: int = 64) -> np.ndarray:
    """Frames ``[T, H, W, 3]`` of a smooth random texture, frame 1 shifted right by ``shift``."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (h // 4, (w + 32) // 4, 3)).astype(np.uint8)
    big = np.repeat(np.repeat(texture, 4, 0), 4, 1)
    frames = np.stack([big[:, 16 : 16 + w], big[:, 16 - shift : 16 - shift + w]])
    return np.ascontiguousarray(frames[:t])


def test_corrections_are_measured_and_a_frame_too_far_off_keeps_none():
    weight = np.ones((2, 48, 64), np.float32)
    identity = np.tile(np.eye(3), (2, 1, 1))
    offsets, valid = dense_corrections(_clip(6), identity, weight)  # within the default guard
    assert valid[1].sum() > 1000
    assert np.allclose(np.median(offsets[1][valid[1]], axis=0), [-6.0, 0.0], atol=0.1)
    offsets, valid = dense_corrections(_clip(6), identity, weight, max_median_px=5.0)
    assert not valid[1].any() and not offsets[1].any() and valid[0].all()
