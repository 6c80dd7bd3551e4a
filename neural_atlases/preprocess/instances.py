"""Separate subjects in the masks: one foreground layer for each, found without scribbles.

Several walkers, a dog and its owner: each moves on its own, and one layer's mapping (a motion a
frame plus a smooth residual) cannot hold them together. ``instance_seeds`` finds the subjects as
the pieces of foreground that stay apart, follows each through the clip along the flow
(``carry_region``), and gives each its own layer's seeds, as scribbles would
(``preprocess.layer_split`` splits the masks from them).
"""

from __future__ import annotations

import cv2
import numpy as np

from neural_atlases.preprocess.layer_split import NONE

INSTANCE_MIN_SHARE = 0.003
"""The smallest piece of foreground that can start a layer: this share of the frame's pixels
(a walker 20 x 50 pixels in a 384 x 288 frame is 0.9%)."""

INSTANCE_SEEN = 0.25
"""A piece of foreground belongs to a layer already found when this share of it is in that
layer's carried region."""

INSTANCE_PARTS = 0.15
"""A piece is several subjects that met when, on another frame, its carried region falls on two
or more separate pieces, at least this share of it on each."""

_MIN_REGION = 16
"""A carried region smaller than this many pixels is lost."""


def carry_region(
    region: np.ndarray,  # [H, W] bool, on frame t
    t: int,
    masks: np.ndarray,  # [T, H, W]
    forward: np.ndarray,  # [T - 1, H, W, 2]
    backward: np.ndarray,  # [T - 1, H, W, 2]
) -> np.ndarray:
    """Where a piece of foreground ``region`` of frame ``t`` is on every frame, ``[T, H, W]`` bool:
    moved frame by frame along the flow (forward, then backward; holes of a pixel closed) and kept
    inside the foreground (``masks > 0.5``), until fewer than ``_MIN_REGION`` pixels remain.

    Unlike ``track_seeds`` it follows the whole piece whatever the flow's consistency, so a
    subject is followed through the frames where it meets another (what it moved into is the
    part of the merged piece that is its own)."""
    num_frames, height, width = masks.shape
    out = np.zeros(masks.shape, bool)
    out[t] = region
    kernel = np.ones((3, 3), np.uint8)
    for flows, step in ((forward, 1), (backward, -1)):
        now, s = region, t
        while 0 <= s + step < num_frames:
            flow = flows[s] if step > 0 else flows[s - 1]
            ys, xs = np.nonzero(now)
            nx = np.rint(xs + flow[ys, xs, 0]).astype(np.intp)
            ny = np.rint(ys + flow[ys, xs, 1]).astype(np.intp)
            inside = (nx >= 0) & (nx < width) & (ny >= 0) & (ny < height)
            moved = np.zeros((height, width), np.uint8)
            moved[ny[inside], nx[inside]] = 1
            s += step
            now = cv2.morphologyEx(moved, cv2.MORPH_CLOSE, kernel).astype(bool) & (masks[s] > 0.5)
            if now.sum() < _MIN_REGION:
                break
            out[s] = now
    return out


def instance_seeds(
    masks: np.ndarray,  # [T, H, W] in [0, 1]
    forward: np.ndarray,  # [T - 1, H, W, 2]
    backward: np.ndarray,  # [T - 1, H, W, 2]
    max_layers: int,
) -> np.ndarray:
    """Seeds ``[T, H, W]`` int16, one layer per separate subject, as scribbles would give them.

    The pieces of foreground (connected parts of ``masks > 0.5``, at least ``INSTANCE_MIN_SHARE``
    of the frame) are taken from the frames with the most of them first (where subjects are
    apart), largest first, and each is carried through every frame (``carry_region``). A piece
    starts a new layer unless a layer found so far holds it (on its own frame, or on most of the
    frames it is carried to, or it takes up where a layer's region ends: ``_held``), or its carried
    region falls on several separate pieces of another frame (subjects that met: each is found on
    a frame where it is alone). A layer's seeds are its carried region, on every frame, where no
    other layer's is. Two walkers side by side on every frame stay one piece, hence one layer.
    At most ``max_layers``.
    """
    num_frames, height, width = masks.shape
    seeds = np.full(masks.shape, NONE, np.int16)
    if num_frames < 2 or max_layers < 1:
        return seeds
    min_area = max(_MIN_REGION, int(INSTANCE_MIN_SHARE * height * width))
    labels, big, pieces = [], [], []  # pieces: (-pieces on the frame, -area, frame, label)
    for t in range(num_frames):
        count, lab, stats, _ = cv2.connectedComponentsWithStats(
            (masks[t] > 0.5).astype(np.uint8), connectivity=8
        )
        areas = stats[:, cv2.CC_STAT_AREA]
        labels.append(lab)
        big.append((areas >= min_area) & (np.arange(count) > 0))
        found = np.nonzero(big[-1])[0]
        pieces += [(-len(found), -int(areas[i]), t, i) for i in found]
    pieces.sort()  # frames where the most subjects are apart first, then the largest pieces
    owners = np.zeros(masks.shape, np.int16)  # how many layers' regions hold a pixel
    regions: list[np.ndarray] = []
    for _, _, t, index in pieces:
        if len(regions) == max_layers:
            break
        piece = labels[t] == index
        if (owners[t][piece] > 0).mean() >= INSTANCE_SEEN:
            continue
        region = carry_region(piece, t, masks, forward, backward)
        if _parts_reached(region, labels, big) > 1 or _held(region, regions):
            continue
        regions.append(region)
        owners += region
    for k, region in enumerate(regions):
        seeds[region & (owners == 1)] = k
    return seeds


def _held(region: np.ndarray, regions: list[np.ndarray]) -> bool:
    """Whether a carried region ``[T, H, W]`` is a layer's already (a subject the masks lost a
    while, or that hid behind another, found again): on at least half the frames where both are,
    at least ``INSTANCE_SEEN`` of the smaller of it and that layer's region is in both; or it
    takes up where that layer's region ends (``_continues``)."""
    sizes = region.sum((1, 2))
    for other in regions:
        other_sizes = other.sum((1, 2))
        both = (sizes >= _MIN_REGION) & (other_sizes >= _MIN_REGION)
        if not both.any():
            if _continues(region, other) or _continues(other, region):
                return True
            continue
        shared = (region & other).sum((1, 2)) / np.maximum(np.minimum(sizes, other_sizes), 1)
        if (shared[both] >= INSTANCE_SEEN).mean() >= 0.5:
            return True
    return False


def _continues(before: np.ndarray, after: np.ndarray) -> bool:
    """Whether region ``after`` ``[T, H, W]``, which starts once ``before`` has ended, starts where
    ``before``'s motion (its centre's, the median step over its last frames) would have taken it,
    or ``before`` ends where ``after``'s traced back would put it, within the subject's size.
    Frames where a region is under half its usual size (going out of sight) are not used."""
    tracks = [_centres(before), _centres(after)]
    if any(not len(frames) for frames, _ in tracks):
        return False
    (frames_b, centres_b), (frames_a, centres_a) = tracks
    if frames_b[-1] >= frames_a[0]:
        return False
    gap = frames_a[0] - frames_b[-1]
    ahead = centres_b[-1] + gap * _median_step(frames_b[-4:], centres_b[-4:])
    behind = centres_a[0] - gap * _median_step(frames_a[:4], centres_a[:4])
    size = np.sqrt(np.median(before.sum((1, 2))[frames_b]))
    return min(np.hypot(*(ahead - centres_a[0])), np.hypot(*(behind - centres_b[-1]))) <= size


def _centres(region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The frames ``[K]`` where a region ``[T, H, W]`` is at least half its median size, and its
    centre ``[K, 2]`` (x, y) on each."""
    sizes = region.sum((1, 2))
    present = sizes >= _MIN_REGION
    if not present.any():
        return np.zeros(0, np.intp), np.zeros((0, 2))
    frames = np.nonzero(present & (sizes >= 0.5 * np.median(sizes[present])))[0]
    points = (np.nonzero(region[t]) for t in frames)
    return frames, np.array([[xs.mean(), ys.mean()] for ys, xs in points])


def _median_step(frames: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """A centre's motion a frame ``[2]``: the median over consecutive pairs (0 with one frame)."""
    if len(frames) < 2:
        return np.zeros(2)
    return np.median(np.diff(centres, axis=0) / np.diff(frames)[:, None], axis=0)


def _parts_reached(region: np.ndarray, labels: list[np.ndarray], big: list[np.ndarray]) -> int:
    """The most separate pieces (``big[t]``: labels of the pieces large enough) that ``region``
    ``[T, H, W]`` bool falls on in one frame, each with ``INSTANCE_PARTS`` of it."""
    most = 0
    for t in range(region.shape[0]):
        hits = labels[t][region[t]]
        if len(hits) < _MIN_REGION:
            continue
        share = np.bincount(hits, minlength=len(big[t])) / len(hits)
        most = max(most, int(((share >= INSTANCE_PARTS) & big[t]).sum()))
    return most
