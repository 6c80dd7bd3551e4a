"""Tests of neural_atlases.pipeline.prepare with the mask and flow backends: the configured backend
makes the masks, they are cached per backend and settings, the project's own masks win, and
missing weights fail before any work."""

from __future__ import annotations

import numpy as np
import pytest

from neural_atlases.config import from_dict
from neural_atlases.data.synthetic import SceneConfig, make_scene, write_project
from neural_atlases.errors import UserError
from neural_atlases.io.images import read_image
from neural_atlases.io.project import Project
from neural_atlases.pipeline.prepare import prepare

FAST = {"flow_gaps": [1], "refine_transforms": False, "align_foreground": False}


@pytest.fixture()
def offline(tmp_path, monkeypatch):
    """An empty torch cache, and no network."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("NEURAL_ATLASES_OFFLINE", "1")


@pytest.fixture(scope="module")
def scene():
    return make_scene(SceneConfig(width=48, height=32, frames=4))


def config(**preprocess):
    return from_dict({"preprocess": {**FAST, **preprocess}})


def test_masks_follow_the_backend_and_are_cached_per_backend(tmp_path, scene, modnet_onnx):
    write_project(scene, tmp_path)
    project = Project(tmp_path)
    modnet = config(foreground_class="modnet", modnet_onnx=str(modnet_onnx))
    first = prepare(project, modnet)
    red = scene.frames[..., 0].astype(np.float32) / 255.0  # the test model's matte
    inner = (slice(None), slice(2, -2), slice(2, -2))
    np.testing.assert_allclose(first.masks[inner], red[inner], atol=0.03)
    written = read_image(tmp_path / "results" / "masks" / "00000.png")
    np.testing.assert_allclose(written[..., 0] / 255.0, first.masks[0], atol=1 / 255)
    cache = tmp_path / "results" / "cache" / "masks.npz"
    stamp = cache.stat().st_mtime_ns
    again = prepare(project, modnet)
    assert cache.stat().st_mtime_ns == stamp  # read from the cache
    np.testing.assert_array_equal(again.masks, first.masks)
    assert again.fingerprint == first.fingerprint
    motion = prepare(project, config(foreground_class="motion"))
    assert cache.stat().st_mtime_ns != stamp  # another backend: recomputed
    assert set(np.unique(motion.masks)) <= {0.0, 1.0}
    assert motion.fingerprint != first.fingerprint


def test_the_projects_own_masks_win_over_any_backend(tmp_path, scene, offline):
    write_project(scene, tmp_path, masks=True)
    prepared = prepare(Project(tmp_path), config(foreground_class="bird"))  # no weights needed
    np.testing.assert_array_equal(prepared.masks, (scene.alpha > 0.5).astype(np.float32))


@pytest.mark.parametrize(
    ("preprocess", "match"),
    [
        ({"foreground_class": "bird"}, "Mask R-CNN weights not found"),
        ({"flow": "raft"}, "RAFT weights not found"),
        ({"foreground_class": "modnet"}, "modnet_onnx"),
    ],
)
def test_missing_weights_fail_before_any_work(tmp_path, scene, offline, preprocess, match):
    write_project(scene, tmp_path)
    with pytest.raises(UserError, match=match):
        prepare(Project(tmp_path), config(**preprocess))
    assert not (tmp_path / "results" / "cache").exists()


def test_masks_json_says_which_model_auto_used_and_survives_the_cache(tmp_path, scene, tiny_isnet):
    import json

    models = tmp_path / "models"
    models.mkdir()
    (models / "isnet_medium.onnx").write_bytes(tiny_isnet.read_bytes())
    write_project(scene, tmp_path / "p")
    project = Project(tmp_path / "p")
    auto = config(foreground_class="auto", models_dir=str(models), isnet_keyframes=2)
    prepare(project, auto)
    about = json.loads(project.masks_about_path.read_text())
    assert about == {"backend": "auto", "used": "isnet", "keyframes": [0, 3]}
    project.masks_about_path.unlink()
    prepare(project, auto)  # masks from the cache: the record comes back with them
    assert json.loads(project.masks_about_path.read_text())["used"] == "isnet"


def test_foreground_layers_0_gives_each_separate_subject_a_layer(tmp_path, offline, capsys):
    scene = make_scene(SceneConfig(width=192, height=128, frames=24, sprites=2, sprite_size=0.15))
    write_project(scene, tmp_path, masks=True)
    (tmp_path / "scribbles" / "layers.json").unlink()
    for path in (tmp_path / "scribbles").iterdir():
        path.unlink()
    auto = from_dict({"preprocess": FAST, "model": {"foreground_layers": 0}})
    prepared = prepare(Project(tmp_path), auto)
    assert prepared.foreground_layers == 2
    assert prepared.layer_weights is not None and prepared.layer_weights.shape[0] == 3
    assert prepared.transforms.shape[0] == 3
    assert "2 separate subject(s)" in capsys.readouterr().err
    np.testing.assert_allclose(prepared.layer_weights[1:].sum(0), prepared.masks)
    for k in range(2):  # each layer is mostly one sprite
        weight = prepared.layer_weights[1 + k] > 0.5
        on = [(scene.sprite_alpha[j][weight] > 0.5).mean() for j in range(2)]
        assert max(on) > 0.8
    capped = prepare(
        Project(tmp_path),
        from_dict({"preprocess": FAST, "model": {"foreground_layers": 0, "max_foreground_layers": 1}}),
    )
    assert capped.foreground_layers == 1 and capped.layer_weights.shape[0] == 2
