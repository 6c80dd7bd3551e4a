"""Tests of neural_atlases.preprocess.selfie: MediaPipe's selfie segmentation where its extra is
installed (``pip install 'neural-atlases[selfie]' && pip install --no-deps mediapipe==0.10.21``),
skipped with that reason otherwise; a clear error where it is not."""

from __future__ import annotations

import numpy as np
import pytest

from neural_atlases.errors import UserError
from neural_atlases.preprocess.backends import MaskOptions, mask_backend
from neural_atlases.preprocess.selfie import INSTALL_HINT, import_mediapipe


def mediapipe_or_skip():
    try:
        return import_mediapipe()
    except UserError as exc:
        pytest.skip(f"MediaPipe is not installed (optional extra): {exc}")


def test_without_mediapipe_the_error_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_mediapipe(name, *args, **kwargs):
        if name == "mediapipe" or name.startswith("mediapipe."):
            raise ImportError("No module named 'mediapipe'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mediapipe)
    with pytest.raises(UserError) as info:
        mask_backend(MaskOptions(foreground_class="selfie"))
    assert INSTALL_HINT in str(info.value) and "\n" not in str(info.value)


def test_selfie_masks_cover_the_person_in_carphone():
    mediapipe_or_skip()
    from neural_atlases.data.clips import packaged_clip
    from neural_atlases.io.video import read_video

    try:
        clip = packaged_clip("carphone_pristine.mp4")
    except UserError as exc:
        pytest.skip(str(exc))
    frames, _ = read_video(clip, end=3)  # [3, 144, 176, 3]: a man talking in a car
    backend = mask_backend(MaskOptions(foreground_class="selfie"))
    assert backend.name == "selfie"
    calls = []
    masks = backend.run(frames, lambda d, n: calls.append(d))
    assert masks.shape == frames.shape[:3] and masks.dtype == np.float32
    assert 0.0 <= masks.min() and masks.max() <= 1.0
    assert calls == [1, 2, 3]
    assert masks[:, 110:, 60:130].mean() > 0.9  # his jacket and tie
    assert masks[:, 40:70, 70:100].mean() > 0.9  # his face
    assert masks[:, :30, :30].mean() < 0.1  # the car's roof behind him
    assert masks[:, 30:80, 150:].mean() < 0.1  # the window on the right
