"""Tests of neural_atlases.io.shots: scores on exact answers, and the cut rule on made-up scores."""

from __future__ import annotations

import numpy as np

from neural_atlases.io.shots import (
    THUMBNAIL_WIDTH,
    CutRule,
    change_score,
    cut_scores,
    describe_shots,
    find_cuts,
    frames_cuts,
    shot_ranges,
    thumbnail,
)


def test_change_score_exact_answers():
    a = np.zeros((4, 6, 3), np.float32)
    assert change_score(a, a) == 0.0
    b = a.copy()
    b[..., 2] = 30.0  # value only: mean over 3 channels
    assert change_score(a, b) == 10.0
    h1, h2 = a.copy(), a.copy()
    h1[..., 0], h2[..., 0] = 250.0, 4.0  # hue is a circle: 10 apart, not 246
    assert change_score(h1, h2) == np.float32(10.0 / 3.0)


def test_thumbnail_is_small_hsv():
    frame = np.zeros((300, 400, 3), np.uint8)
    frame[..., 0] = 255  # red: hue 0, full saturation and value
    thumb = thumbnail(frame)
    assert thumb.shape == (72, THUMBNAIL_WIDTH, 3) and thumb.dtype == np.float32
    assert np.allclose(thumb[0, 0], (0, 255, 255))
    assert thumbnail(frame[:20, :30]).shape == (20, 30, 3)  # never scaled up


def test_cut_rule():
    calm = np.full(20, 3.0)
    assert find_cuts(calm) == []
    cut = calm.copy()
    cut[9] = 40.0  # between frames 9 and 10
    assert find_cuts(cut) == [10]
    motion = calm.copy()
    motion[7:13] = 25.0  # fast motion raises every score near it: no cut
    assert find_cuts(motion) == []
    small = calm.copy()
    small[9] = 15.0  # stands out, but too small a change
    assert find_cuts(small) == []
    flash = calm.copy()
    flash[[9, 11]] = 60.0  # a two-frame flash: the second change would make a 2-frame shot
    assert find_cuts(flash) == [10]
    assert find_cuts(flash, CutRule(min_shot=2)) == [10, 12]
    assert find_cuts(cut[:12]) == []  # the last shot would be 2 frames
    assert find_cuts(np.array([50.0])) == []  # two frames are one shot


def test_shot_ranges_and_description():
    assert shot_ranges([], 7) == [(0, 7)]
    assert shot_ranges([3, 5], 9) == [(0, 3), (3, 5), (5, 9)]
    assert describe_shots([(0, 3), (3, 9)], offset=10) == "1: frames 10:13, 2: frames 13:19"


def test_frames_cuts_between_two_scenes():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8).repeat(16, 0).repeat(16, 1)
    b = 255 - a
    frames = np.stack([np.roll(a, i, axis=1) for i in range(10)] + [np.roll(b, i, axis=1) for i in range(8)])
    assert frames_cuts(frames) == [10]
    assert cut_scores([thumbnail(f) for f in frames]).shape == (17,)
    assert frames_cuts(frames[:10]) == []
