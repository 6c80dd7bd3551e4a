"""Which layer is in front: a depth order of the layers in every frame.

The layer shares are a softmax, which has no depth: where one foreground layer covers another,
both orders give the same shares. Removing a layer needs the order, though: what a removed
layer covered shows the layers *behind* it, while a layer in front of it keeps its share (at a
soft edge of a front layer over a removed one, the removed part shows the background, not more of
the front layer). Each foreground layer's own alpha (``AtlasModel.presences``: its atlas alpha,
whatever is in front) tells: where two layers are both there, the one with the larger share is in
front.

Depths are ranks per frame, ``[T, L + 1]`` int, background first at 0: a larger rank is nearer.
"""

from __future__ import annotations

import numpy as np

MIN_OVERLAP = 16
"""Pixels where two layers must both be there for a frame to tell their order."""


def front_votes(shares: np.ndarray, presence: np.ndarray, min_overlap: int = MIN_OVERLAP) -> np.ndarray:
    """One frame's pairwise order of the foreground layers ``[L, L]``: ``+1`` where layer ``j`` is
    in front of layer ``k``, ``-1`` behind, ``0`` where they overlap on fewer than
    ``min_overlap`` pixels.

    ``shares`` ``[N, L + 1]`` (background first) and ``presence`` ``[N, L]`` (each foreground
    layer's own alpha) at the frame's pixels.
    """
    there = presence > 0.5  # [N, L]
    num_layers = presence.shape[1]
    votes = np.zeros((num_layers, num_layers), np.int8)
    for j in range(num_layers):
        for k in range(j + 1, num_layers):
            both = there[:, j] & there[:, k]
            if both.sum() < min_overlap:
                continue
            ahead = np.sign(shares[both, j + 1].mean() - shares[both, k + 1].mean())
            votes[j, k], votes[k, j] = ahead, -ahead
    return votes


def depth_ranks(votes: np.ndarray) -> np.ndarray:
    """Depth ranks ``[T, L + 1]`` (background 0, larger is nearer) from per-frame pairwise votes
    ``[T, L, L]`` (``front_votes``).

    A pair a frame cannot tell takes its order from the nearest frame that can (layers that do
    not meet in a frame keep their order of when they last met), or, where none can, the later
    layer is in front. Each layer's rank follows its number of layers behind it, ties broken by
    index.
    """
    num_frames, num_layers = votes.shape[:2]
    filled = votes.astype(np.int8).copy()
    frames = np.arange(num_frames)
    for j in range(num_layers):
        for k in range(num_layers):
            if j == k:
                continue
            known = np.flatnonzero(votes[:, j, k])
            if known.size == 0:
                filled[:, j, k] = 1 if j > k else -1
                continue
            nearest = known[np.abs(frames[:, None] - known[None, :]).argmin(1)]
            filled[:, j, k] = votes[nearest, j, k]
    wins = (filled > 0).sum(2)  # [T, L]
    ranks = np.zeros((num_frames, num_layers + 1), np.int64)
    for t in range(num_frames):
        order = sorted(range(num_layers), key=lambda j: (wins[t, j], j))  # back to front
        for rank, j in enumerate(order):
            ranks[t, j + 1] = rank + 1
    return ranks
