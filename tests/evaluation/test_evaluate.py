"""Tests of neural_atlases.evaluation.evaluate's measures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neural_atlases.evaluation.evaluate import psnr, video_psnr


def test_psnr_of_a_known_error():
    a = np.zeros((4, 5, 3), np.uint8)
    assert psnr(a, a + 16) == pytest.approx(10 * math.log10(255**2 / 256))


def test_video_psnr_is_psnr_over_the_video_and_over_each_frame():
    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, (5, 6, 7, 3), dtype=np.uint8)
    reference = np.clip(video.astype(int) + rng.integers(-9, 10, video.shape), 0, 255).astype(np.uint8)
    reference[2] = video[2]  # one exact frame: capped, not infinite
    whole, per_frame = video_psnr(video, reference)
    assert whole == pytest.approx(psnr(video, reference), rel=1e-12)
    assert per_frame == pytest.approx([psnr(v, r) for v, r in zip(video, reference, strict=True)], rel=1e-12)
    assert per_frame[2] == pytest.approx(100.0 + 10 * math.log10(255**2))
