import cv2
import numpy as np
import pytest

from neural_atlases.evaluation.image_quality import checker_ratio, checker_response, fill_measures


def _photo(h: int = 64, w: int = 96, seed: int = 0) -> np.ndarray:
    """A photo-like image: smooth shading, an edge, and fine grain as a camera gives."""
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.uniform(0, 255, (h, w, 3)).astype(np.float32), (0, 0), 3)
    image += cv2.GaussianBlur(rng.normal(0, 40, (h, w, 3)).astype(np.float32), (0, 0), 0.8)
    image[:, w // 2 :] += 40
    return np.clip(image, 0, 255).astype(np.uint8)


def test_checker_response_on_exact_answers():
    ramp = np.tile(np.arange(8, dtype=np.uint8)[None, :, None] * 10, (8, 1, 3))  # linear along x
    assert checker_response(ramp, np.ones((8, 8), bool)) == 0.0
    weave = np.full((8, 8, 3), 100, np.uint8)
    weave[::2, ::2] += 20
    weave[1::2, 1::2] += 20
    assert checker_response(weave, np.ones((8, 8), bool)) == 10.0
    assert checker_response(weave, np.zeros((8, 8), bool)) == 0.0  # no window inside the mask


def test_checker_ratio_of_a_frame_is_one_and_of_an_upscale_far_below():
    frame = _photo()
    opaque = np.concatenate([frame, np.full(frame.shape[:2] + (1,), 255, np.uint8)], -1)
    assert checker_ratio(opaque, frame[None]) == pytest.approx(1.0)
    up = cv2.resize(frame, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_LINEAR)
    up = np.concatenate([up, np.full(up.shape[:2] + (1,), 255, np.uint8)], -1)
    assert checker_ratio(up, frame[None]) < 0.6
    woven = opaque.copy()
    woven[::2, ::2, :3] = np.clip(woven[::2, ::2, :3].astype(int) + 25, 0, 255)
    assert checker_ratio(woven, frame[None]) > 2.0
    woven[..., 3] = 0  # texels the video does not use do not count
    assert checker_ratio(woven, frame[None]) == 0.0


def test_fill_measures_tell_noise_from_an_inpainting():
    frames = np.stack([_photo(seed=s) for s in range(3)])
    hole = np.zeros(frames.shape[1:3], np.uint8)
    hole[20:44, 30:60] = 1
    rng = np.random.default_rng(1)
    noisy, inpainted = frames.copy(), frames.copy()
    for t in range(3):
        noisy[t][hole > 0] = rng.integers(0, 256, (int(hole.sum()), 3))
        inpainted[t] = cv2.inpaint(frames[t], hole, 3, cv2.INPAINT_TELEA)
    rough, saturated = fill_measures(noisy, frames)
    assert rough > 3.0 and saturated > 0.1
    rough, saturated = fill_measures(inpainted, frames)
    assert rough < 1.0 and saturated < 0.02
    assert np.isnan(fill_measures(frames, frames)[0])  # nothing removed: nothing to measure


def test_subject_kept_counts_what_the_removal_leaves_in_place():
    from neural_atlases.evaluation.image_quality import subject_kept

    frames = np.full((2, 20, 20, 3), 60, np.uint8)
    frames[:, 5:15, 5:15] = 200  # the subject
    masks = np.zeros((2, 20, 20))
    masks[:, 5:15, 5:15] = 1.0
    gone = np.full_like(frames, 60)  # the background shows where the subject was
    assert subject_kept(gone, frames, masks) == 0.0
    assert subject_kept(frames, frames, masks) == 1.0  # nothing removed
    half = gone.copy()
    half[0] = frames[0]  # removed on one frame only
    assert subject_kept(half, frames, masks) == 0.5
    assert np.isnan(subject_kept(gone, frames, np.zeros_like(masks)))
