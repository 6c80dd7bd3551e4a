"""Every preset trains: two steps of each on a tiny clip, through ``pipeline.train``; and, where
CUDA is present, a few steps on it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neural_atlases.config import PRESETS, from_dict, to_dict
from neural_atlases.data.synthetic import SceneConfig, make_scene, write_project
from neural_atlases.io.project import Project
from neural_atlases.model.atlas_model import VideoShape
from neural_atlases.pipeline.train import TrainRequest, train_project
from neural_atlases.pipeline.trained import checkpoint_path
from neural_atlases.training.checkpoint import load_checkpoint
from neural_atlases.training.sampler import PixelSampler
from neural_atlases.training.trainer import Trainer
from neural_atlases.training.variants import build_paper_model

T, H, W = 4, 32, 48
TINY = {"train": {"batch_size": 1024, "prefit_steps": 2, "eval_every": 1, "checkpoint_every": 1}}
"""What the tests change in a preset: a smaller batch and pre-fit, so two steps take a second."""


@pytest.fixture(scope="module")
def scene():
    return make_scene(SceneConfig(width=W, height=H, frames=T))


def _train(
    tmp_path, scene, name: str, steps: int, device: str, files: dict | None = None, **train
) -> tuple[Project, object]:
    """Train preset ``name`` for ``steps``; ``files`` replaces the model files a preset names
    (``{"modnet_onnx": path}``) with ones the tests built."""
    root = tmp_path / name
    write_project(scene, root)
    overrides = {"train": {**TINY["train"], **train}}
    if files and PRESETS[name].preprocess.modnet_onnx is not None:
        overrides["preprocess"] = {"modnet_onnx": str(files["modnet_onnx"])}
    config = from_dict(overrides, PRESETS[name])
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(to_dict(config)))
    project = Project(root)
    baked = train_project(project, TrainRequest(config_path=path, steps=steps, device=device))
    return project, baked


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_two_steps_of_every_preset_train_on_a_tiny_clip(tmp_path, scene, name, request):
    files = {"modnet_onnx": request.getfixturevalue("modnet_onnx")} if "modnet" in name else None
    project, baked = _train(tmp_path, scene, name, 2, "cpu", files)
    model, config, payload = load_checkpoint(checkpoint_path(project))
    assert config.model == PRESETS[name].model and config.losses == PRESETS[name].losses
    assert config.preprocess.foreground_class == PRESETS[name].preprocess.foreground_class
    assert payload["state"]["step"] == 2
    history = payload["state"]["history"]
    assert [e["step"] for e in history] == [1, 2]
    assert all(np.isfinite(e["total"]) and np.isfinite(e["psnr"]) for e in history)
    layers = config.model.foreground_layers + 1
    assert baked.shape == (T, H, W) and baked.num_layers == layers == model.num_layers
    np.testing.assert_allclose(np.asarray(baked.shares).sum(-1), 1.0, atol=1e-5)
    for layer in range(layers):
        g = model.geometries[layer]
        assert baked.atlases[layer].shape == (g.atlas_height, g.atlas_width, 4)
        assert np.isfinite(np.asarray(baked.maps[layer])).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_trains_on_cuda(tmp_path, scene, name, request):
    files = {"modnet_onnx": request.getfixturevalue("modnet_onnx")} if "modnet" in name else None
    project, baked = _train(tmp_path, scene, name, 5, "cuda", files, mixed_precision=True)
    _, _, payload = load_checkpoint(checkpoint_path(project))
    assert payload["state"]["step"] == 5
    assert all(np.isfinite(e["total"]) for e in payload["state"]["history"])
    assert baked.shape == (T, H, W)


def test_the_paper_presets_windows_are_counted_in_steps():
    config = PRESETS["paper"]
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    sampler = PixelSampler(frames, np.zeros((2, 8, 8), np.float32), [], torch.device("cpu"))
    trainer = Trainer(build_paper_model(config.model, VideoShape(2, 8, 8)), sampler, config)
    optimiser = trainer.optimiser.param_groups[0]
    assert optimiser["betas"] == (0.9, 0.999) and optimiser["eps"] == 1e-8
    assert {g["lr"] for g in trainer.optimiser.param_groups} == {1e-4}
    for step, bootstrap, rigid in (
        (0, True, True),
        (4999, True, True),
        (5000, True, False),
        (10000, False, False),
    ):
        trainer.state.step = step
        weights = trainer.weights(fraction=0.9)  # by time far on: the step windows still decide
        assert (weights["bootstrap"] == 2000.0) == bootstrap
        assert ("global_rigidity_background" in weights) == rigid
        # the release's colour terms sum over channels; ours average: three times the weight
        assert (weights["rgb"], weights["gradient"]) == (15000.0, 3000.0)
