"""Tests of neural_atlases.baking.depth: which layer is in front, per frame."""

from __future__ import annotations

import numpy as np

from neural_atlases.baking.depth import depth_ranks, front_votes


def _frame(front: int, overlap: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Two foreground layers both there on ``overlap`` pixels (of 100), ``front`` (0 or 1) showing
    there: shares ``[100, 3]`` and presences ``[100, 2]``."""
    presence = np.zeros((100, 2))
    presence[:overlap] = 0.9
    shares = np.zeros((100, 3))
    shares[:, 0] = 1.0
    shares[:overlap, 0] = 0.1
    shares[:overlap, 1 + front] = 0.85
    shares[:overlap, 2 - front] = 0.05
    return shares, presence


def test_the_layer_that_shows_where_both_are_there_is_in_front():
    np.testing.assert_array_equal(front_votes(*_frame(front=1)), [[0, -1], [1, 0]])
    np.testing.assert_array_equal(front_votes(*_frame(front=0)), [[0, 1], [-1, 0]])


def test_layers_that_do_not_meet_have_no_vote():
    np.testing.assert_array_equal(front_votes(*_frame(front=1, overlap=5)), np.zeros((2, 2)))
    one = front_votes(np.ones((10, 2)) * 0.5, np.ones((10, 1)))
    assert one.shape == (1, 1) and one[0, 0] == 0


def test_ranks_follow_the_votes_and_fill_frames_that_cannot_tell_from_the_nearest():
    frames = [(0, 0), (0, 40), (0, 0), (1, 40), (1, 0)]  # (front, overlap): 0, 2 and 4 cannot tell
    votes = np.stack([front_votes(*_frame(front=f, overlap=n)) for f, n in frames])
    ranks = depth_ranks(votes)
    assert ranks.shape == (5, 3) and (ranks[:, 0] == 0).all()
    np.testing.assert_array_equal(ranks[:, 1:], [[2, 1], [2, 1], [2, 1], [1, 2], [1, 2]])


def test_without_any_vote_the_later_layer_is_in_front():
    ranks = depth_ranks(np.zeros((2, 3, 3), np.int8))
    np.testing.assert_array_equal(ranks, [[0, 1, 2, 3], [0, 1, 2, 3]])


def test_three_layers_are_ranked_by_how_many_are_behind_each():
    votes = np.zeros((1, 3, 3), np.int8)
    for front, back in [(0, 1), (0, 2), (2, 1)]:  # 0 in front of both, 2 in front of 1
        votes[0, front, back], votes[0, back, front] = 1, -1
    np.testing.assert_array_equal(depth_ranks(votes), [[0, 3, 1, 2]])
