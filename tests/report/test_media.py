"""Tests of neural_atlases.report.media: WebM encoding, panels, and the media of a baked model."""

from __future__ import annotations

import io
import json

import av
import numpy as np
import pytest
from PIL import Image

from neural_atlases.baking.bake import Baked
from neural_atlases.report.media import (
    GAP,
    MANIFEST_NAME,
    encode_webm,
    layer_alpha,
    layer_colour,
    read_manifest,
    shrink,
    side_by_side,
    write_media,
)


def _decode(payload: bytes) -> tuple[np.ndarray, str]:
    with av.open(io.BytesIO(payload)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, stream.codec_context.name


@pytest.mark.parametrize("hw", [(32, 48), (31, 47)])
def test_encode_webm_decodes_to_the_frames(hw):
    h, w = hw
    t = 6
    frames = np.zeros((t, h, w, 3), np.uint8)
    for i in range(t):  # flat colours survive a lossy codec
        frames[i] = (40 * i, 200 - 30 * i, 128)
    decoded, codec = _decode(encode_webm(frames, 10.0))
    assert codec == "vp9"
    assert decoded.shape == (t, h + h % 2, w + w % 2, 3)
    assert np.abs(decoded[:, :h, :w].astype(int) - frames.astype(int)).mean() < 4


def test_encode_webm_rejects_bad_arrays():
    with pytest.raises(ValueError, match="uint8"):
        encode_webm(np.zeros((2, 8, 8, 3), np.float32), 10.0)


def test_shrink_keeps_small_videos_and_scales_large_ones():
    small = np.zeros((2, 40, 60, 3), np.uint8)
    assert shrink(small, 100) is small
    big = np.full((2, 300, 600, 3), 7, np.uint8)
    out = shrink(big, 150)
    assert out.shape == (2, 75, 150, 3) and (out == 7).all()
    rgba = shrink(np.zeros((300, 600, 4), np.uint8), 150)  # a single image works too
    assert rgba.shape == (75, 150, 4)


def test_side_by_side_puts_a_white_gap_between_panels():
    a = np.zeros((3, 4, 5, 3), np.uint8)
    b = np.full((3, 4, 6, 3), 9, np.uint8)
    out = side_by_side(a, b)
    assert out.shape == (3, 4, 5 + GAP + 6, 3)
    assert (out[:, :, 5 : 5 + GAP] == 255).all() and (out[:, :, 5 + GAP :] == 9).all()


def _baked(t: int = 3, h: int = 8, w: int = 10) -> Baked:
    """Two layers reading atlases of one flat colour each by identity maps; the foreground holds
    the left half."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    identity = np.broadcast_to(np.stack([xs, ys], -1), (t, h, w, 2)).copy()
    shares = np.zeros((t, h, w, 2), np.float32)
    shares[..., : w // 2, 1] = 1.0
    shares[..., 0] = 1.0 - shares[..., 1]
    atlases = [
        np.full((h, w, 4), (10, 20, 30, 255), np.uint8),
        np.full((h, w, 4), (200, 100, 50, 255), np.uint8),
    ]
    atlases[1][:, w // 2 :, 3] = 0  # the foreground atlas is unused where the layer is absent
    return Baked([identity, identity.copy()], shares, atlases)


def test_layer_colour_and_alpha():
    baked = _baked()
    fg = layer_colour(baked, 1, 0)
    assert (fg[:, :5] == (200, 100, 50)).all() and (fg[:, 5:] == 128).all()  # grey where absent
    alpha = layer_alpha(baked, 1)
    assert alpha.shape == (3, 8, 10, 3) and (alpha[:, :, :5] == 255).all() and (alpha[:, :, 5:] == 0).all()


def test_write_media_writes_every_video_and_atlas_then_the_manifest(tmp_path):
    baked = _baked()
    frames = np.zeros((3, 8, 10, 3), np.uint8)
    frames[..., :5, :] = (200, 100, 50)
    frames[..., 5:, :] = (10, 20, 30)  # exactly what the layers reconstruct
    calls = []
    manifest = write_media(
        tmp_path, baked, frames, 12.0, "abc:7", 7, progress=lambda d, t: calls.append((d, t))
    )
    assert calls == [(i, 7) for i in range(1, 8)]  # 5 videos, 2 atlases
    assert manifest.key == "abc:7" and manifest.step == 7 and len(manifest.per_frame_psnr) == 3
    assert manifest.psnr > 60  # a perfect reconstruction
    assert sorted(manifest.videos.values()) == [
        "checkerboard_background.webm",
        "checkerboard_foreground_0.webm",
        "input_reconstruction.webm",
        "layer_background.webm",
        "layer_foreground_0.webm",
    ]
    for name in [*manifest.videos.values(), *manifest.atlases.values()]:
        assert (tmp_path / name).stat().st_size > 0
    atlas = np.asarray(Image.open(tmp_path / manifest.atlases["foreground_0 atlas"]))
    assert atlas.shape == (8, 10, 4)  # alpha kept
    assert (atlas[:, :5, 3] == 255).all() and (atlas[:, 5:, 3] == 0).all()
    assert np.abs(atlas[:, :5, :3].astype(int) - (200, 100, 50)).max() < 8
    decoded, _ = _decode((tmp_path / "input_reconstruction.webm").read_bytes())
    assert decoded.shape == (3, 8, 2 * 10 + GAP, 3)
    assert read_manifest(tmp_path) == manifest
    assert json.loads((tmp_path / MANIFEST_NAME).read_text())["key"] == "abc:7"


def test_a_missing_or_garbage_manifest_reads_as_none(tmp_path):
    assert read_manifest(tmp_path) is None
    (tmp_path / MANIFEST_NAME).write_text("{not json")
    assert read_manifest(tmp_path) is None
