import os

import numpy as np
import pytest
from PIL import Image

from neural_atlases.errors import UserError
from neural_atlases.io.images import (
    list_frame_files,
    read_frames,
    read_image,
    read_mask,
    read_masks,
    read_rgba,
    write_frames,
    write_image,
)


def random_image(h=6, w=8, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


def test_png_round_trip_is_exact(tmp_path):
    rgb, rgba = random_image(), random_image(c=4)
    write_image(tmp_path / "sub" / "a.png", rgb)  # creates the folder
    write_image(tmp_path / "b.PNG", rgba)
    np.testing.assert_array_equal(read_image(tmp_path / "sub" / "a.png"), rgb)
    np.testing.assert_array_equal(read_rgba(tmp_path / "b.PNG"), rgba)
    np.testing.assert_array_equal(read_image(tmp_path / "b.PNG"), rgba[..., :3])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files


def test_jpeg_round_trip_is_close(tmp_path):
    smooth = np.zeros((16, 16, 3), np.uint8)
    smooth[..., 0] = np.arange(16)[None, :] * 8
    smooth[..., 1] = 120
    write_image(tmp_path / "a.jpg", smooth)
    back = read_image(tmp_path / "a.jpg")
    assert back.shape == (16, 16, 3) and back.dtype == np.uint8
    assert np.abs(back.astype(int) - smooth).max() < 8


def test_modes_become_rgb(tmp_path):
    grey = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    Image.fromarray(grey).save(tmp_path / "l.png")
    np.testing.assert_array_equal(read_image(tmp_path / "l.png"), np.repeat(grey[..., None], 3, 2))
    Image.fromarray(grey).convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").shape == (6, 8, 3)
    sixteen = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 1300).astype(np.uint16)
    write_image(tmp_path / "g16.png", sixteen)
    back = read_image(tmp_path / "g16.png")
    np.testing.assert_array_equal(back[..., 0], np.round(sixteen / 257).astype(np.uint8))
    rgba = read_rgba(tmp_path / "l.png")
    assert rgba.shape == (6, 8, 4) and (rgba[..., 3] == 255).all()


def test_masks(tmp_path):
    white = np.zeros((4, 5), np.uint8)
    white[1:3, 1:4] = 255
    write_image(tmp_path / "m.png", white)
    mask = read_mask(tmp_path / "m.png")
    assert mask.dtype == np.float32 and mask.shape == (4, 5)
    np.testing.assert_array_equal(mask, white / 255.0)
    write_image(tmp_path / "rgb.png", np.repeat(white[..., None], 3, 2))
    np.testing.assert_allclose(read_mask(tmp_path / "rgb.png"), mask, atol=1e-6)
    write_image(tmp_path / "m16.png", (white.astype(np.uint16) * 257))
    np.testing.assert_allclose(read_mask(tmp_path / "m16.png"), mask, atol=1e-6)
    strokes = np.zeros((4, 5, 4), np.uint8)  # white strokes on a transparent canvas
    strokes[..., :3] = 255
    strokes[..., 3] = white
    write_image(tmp_path / "strokes.png", strokes)
    np.testing.assert_allclose(read_mask(tmp_path / "strokes.png"), mask, atol=1e-6)


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n\x00\x00garbage"])
def test_bad_files_raise_user_error_naming_the_file(tmp_path, content):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    for reader in (read_image, read_rgba, read_mask):
        with pytest.raises(UserError, match="bad.png"):
            reader(path)


def test_truncated_png_raises_user_error(tmp_path):
    write_image(tmp_path / "ok.png", random_image(32, 32))
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="cut.png"):
        read_image(tmp_path / "cut.png")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(UserError, match="image not found: .*nope.png"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(UserError, match="not an image file"):
        read_image(tmp_path)
    with pytest.raises(UserError, match="folder not found"):
        list_frame_files(tmp_path / "none")


def test_write_errors(tmp_path):
    with pytest.raises(UserError, match=r"a\.bmp.*unsupported"):
        write_image(tmp_path / "a.bmp", random_image())
    with pytest.raises(UserError, match="JPEG cannot hold"):
        write_image(tmp_path / "a.jpg", random_image(c=4))
    with pytest.raises(ValueError):
        write_image(tmp_path / "a.png", np.zeros((4, 4, 3), np.float32))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cannot write .*file"):
        write_image(blocker / "a.png", random_image())


def test_list_frame_files_sorts_and_filters(tmp_path):
    for name in ["b.PNG", "a.jpg", "c.JPEG", "f10.png", "f9.png", ".hidden.png", "notes.txt"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "dir.png").mkdir()
    names = [p.name for p in list_frame_files(tmp_path)]
    assert names == ["a.jpg", "b.PNG", "c.JPEG", "f9.png", "f10.png"]


def test_frames_round_trip(tmp_path):
    frames = np.stack([random_image(5, 7, seed=i) for i in range(3)])
    calls = []
    paths = write_frames(tmp_path / "frames", frames, progress=lambda d, t: calls.append((d, t)))
    assert [p.name for p in paths] == ["00000.png", "00001.png", "00002.png"]
    assert calls[-1] == (3, 3)
    back = read_frames(tmp_path / "frames", progress=lambda d, t: calls.append((d, t)))
    np.testing.assert_array_equal(back, frames)
    assert calls[-1] == (3, 3)


def test_read_frames_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no frames in .*empty"):
        read_frames(tmp_path / "empty")
    write_image(tmp_path / "mixed" / "00000.png", random_image(5, 7))
    write_image(tmp_path / "mixed" / "00001.png", random_image(5, 7))
    write_image(tmp_path / "mixed" / "00002.png", random_image(6, 7))
    with pytest.raises(UserError, match=r"00002\.png: size 7x6 differs from 00000\.png \(7x5\)"):
        read_frames(tmp_path / "mixed")


def test_read_masks(tmp_path):
    masks = np.zeros((2, 5, 7), np.uint8)
    masks[1, 2:, 3:] = 255
    for i, m in enumerate(masks):
        write_image(tmp_path / "masks" / f"{i:05d}.png", m)
    np.testing.assert_array_equal(read_masks(tmp_path / "masks", 2, 5, 7), masks / 255.0)
    with pytest.raises(UserError, match=r"2 mask file\(s\) for 3 frames"):
        read_masks(tmp_path / "masks", 3, 5, 7)
    with pytest.raises(UserError, match=r"00000\.png: mask size 7x5 differs from the frame size 8x5"):
        read_masks(tmp_path / "masks", 2, 5, 8)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_unwritable_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(UserError, match="cannot write .*locked"):
            write_image(locked / "a.png", random_image())
    finally:
        locked.chmod(0o700)
