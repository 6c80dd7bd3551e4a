"""Tests of neural_atlases.preprocess.matting: MODNet's ONNX convention, run by onnxruntime on a
tiny model that the tests export with that convention (``conftest.write_red_channel_modnet``)."""

from __future__ import annotations

import numpy as np
import pytest

from neural_atlases.errors import UserError
from neural_atlases.preprocess.backends import MaskOptions, mask_backend
from neural_atlases.preprocess.matting import (
    matte_to_frame,
    modnet_input,
    modnet_input_size,
    modnet_masks,
    open_modnet,
)

pytest.importorskip("onnxruntime", reason="the dev extra installs onnxruntime", exc_type=ImportError)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((144, 176), (512, 608)),  # both sides below 512: the shorter one becomes 512
        ((432, 768), (416, 768)),  # 512 between the sides: kept, rounded down to 32
        ((1080, 1920), (512, 896)),  # both above: the shorter one becomes 512
        ((768, 432), (768, 416)),  # portrait
        ((1200, 600), (1024, 512)),  # portrait, both sides above 512
        ((512, 512), (512, 512)),
    ],
)
def test_modnet_input_size_follows_modnets_script(size, expected):
    h, w = modnet_input_size(*size)
    assert (h, w) == expected
    assert h % 32 == 0 and w % 32 == 0


def test_modnet_input_is_rgb_in_minus_one_to_one():
    frame = np.zeros((40, 60, 3), np.uint8)
    frame[..., 0], frame[..., 2] = 255, 0  # pure red
    x = modnet_input(frame)
    assert x.dtype == np.float32 and x.shape == (1, 3) + modnet_input_size(40, 60)
    np.testing.assert_allclose(x[0, 0], 1.0)
    np.testing.assert_allclose(x[0, 2], -1.0)


def test_matte_to_frame_resizes_and_clips():
    matte = np.full((1, 1, 64, 96), 1.5, np.float32)
    out = matte_to_frame(matte, 30, 50)
    assert out.shape == (30, 50) and out.dtype == np.float32
    assert out.max() == 1.0


def test_modnet_masks_run_the_onnx_model(modnet_onnx):
    rng = np.random.default_rng(0)
    red = np.kron(rng.integers(0, 256, (3, 4, 6)), np.ones((1, 8, 8))).astype(np.uint8)  # [3, 32, 48]
    frames = np.zeros((3, 32, 48, 3), np.uint8)
    frames[..., 0] = red
    calls = []
    masks = modnet_masks(frames, open_modnet(modnet_onnx), lambda d, n: calls.append((d, n)))
    assert masks.shape == (3, 32, 48) and masks.dtype == np.float32
    # the test model's matte is the red channel: RGB order and [-1, 1] scaling round-trip
    inner = (slice(None), slice(2, -2), slice(2, -2))
    np.testing.assert_allclose(masks[inner], red[inner] / 255.0, atol=0.02)
    assert calls[-1] == (3, 3)


def test_modnet_backend_through_the_registry(modnet_onnx):
    backend = mask_backend(MaskOptions(foreground_class="modnet", modnet_onnx=str(modnet_onnx)))
    assert backend.name == "modnet" and backend.settings["onnx"]["size"] > 0
    frames = np.full((2, 32, 48, 3), 255, np.uint8)
    np.testing.assert_allclose(backend.run(frames, None), 1.0, atol=1e-5)


def test_modnet_needs_its_file(tmp_path):
    with pytest.raises(UserError, match="modnet_onnx"):
        mask_backend(MaskOptions(foreground_class="modnet"))
    with pytest.raises(UserError, match="not found"):
        mask_backend(MaskOptions(foreground_class="modnet", modnet_onnx=str(tmp_path / "none.onnx")))
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(UserError, match="not a usable ONNX model") as info:
        mask_backend(MaskOptions(foreground_class="modnet", modnet_onnx=str(garbage)))
    assert "\n" not in str(info.value)
