"""Model variants (``training.variants``): a third variant, written here and registered in a test
alone, trains through ``train`` and is read back by every later command without touching any
other file."""

from __future__ import annotations

import json

import torch
from conftest import TINY_CONFIG
from torch import nn

from neural_atlases.cli.main import main
from neural_atlases.config import PRESETS
from neural_atlases.conventions import layer_shares
from neural_atlases.data.synthetic import SceneConfig, make_scene, write_project
from neural_atlases.io.project import Project
from neural_atlases.model.atlas_model import LayerFields, LayerGeometry, VideoShape
from neural_atlases.model.fields import AtlasField, ShareField
from neural_atlases.pipeline.trained import load_trained
from neural_atlases.training import variants
from neural_atlases.training.variants import ModelVariant, new_model, variant_of


class Still(nn.Module):
    """A mapping with no motion at all: ``uv = xy`` (a still camera, a still subject)."""

    def forward(self, xy: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return xy


class StillVariant(ModelVariant):
    """The toy: every layer maps each frame onto its atlas unmoved, atlases of the frame's size."""

    name = "still"
    uses_global_transforms = False

    def fields(self, config, video, geometries, transforms, share_logits) -> LayerFields:
        mappings = nn.ModuleList(Still() for _ in geometries)
        atlases = nn.ModuleList(AtlasField(g.atlas_height, g.atlas_width, 1) for g in geometries)
        return LayerFields(mappings, atlases, ShareField(share_logits), layer_shares)

    def build(self, config, frames, layer_weights, transforms, corrections):
        num_frames, height, width = frames.shape[:3]
        model = new_model(
            config, VideoShape(num_frames, height, width), [LayerGeometry(height, width, 1.0)] * 2
        )
        with torch.no_grad():  # start from the first frame, as a still scene would look
            for atlas in model.atlases:
                atlas.levels[0].copy_(torch.from_numpy(frames[0] / 255.0).float())
        return model


def test_the_known_variants_answer_for_their_own_capabilities():
    assert variant_of(PRESETS["single_layer"].model).realigns
    assert not variant_of(PRESETS["paper"].model).uses_global_transforms


def test_a_toy_variant_trains_through_train_and_is_read_back(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(variants.VARIANTS, "still", StillVariant())
    root = tmp_path / "clip"
    write_project(make_scene(SceneConfig(width=48, height=32, frames=4)), root, masks=True)
    config = tmp_path / "still.json"
    config.write_text(json.dumps({**TINY_CONFIG, "model": {"model": "still", "atlas_alpha": False}}))
    assert main(["train", "-p", str(root), "-s", "20", "-c", str(config)]) == 0
    baked = load_trained(Project(root))
    assert baked.num_layers == 2 and baked.atlases[0].shape[:2] == (32, 48)
    capsys.readouterr()
    assert main(["evaluate", "-p", str(root)]) == 0
    psnr = float(capsys.readouterr().out.split()[1])
    assert psnr > 15.0  # a still model of a moving scene: far from perfect, but a real fit
    out = tmp_path / "clean.mp4"
    assert main(["render", "-p", str(root), "-r", "foreground", "-o", str(out)]) == 0
    assert out.stat().st_size > 0
