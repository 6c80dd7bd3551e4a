"""Tests of neural_atlases.baking.bake: baking a model and the baked folder."""

from __future__ import annotations

import json

import numpy as np
import torch

from neural_atlases.baking.bake import BAKE_VERSION, bake, load_baked, save_baked
from neural_atlases.config import ModelConfig
from neural_atlases.model.atlas_model import AtlasModel, LayerGeometry, VideoShape
from neural_atlases.training.variants import new_model

T, H, W = 3, 12, 16


def _two_layer_model() -> AtlasModel:
    """Identity mappings; foreground 1 in front of foreground 0 on a block of every frame."""
    config = ModelConfig(foreground_layers=2, atlas_levels=1, residual_cells=(8,))
    model = new_model(config, VideoShape(T, H, W), [LayerGeometry(H, W, 1.0)] * 3)
    with torch.no_grad():
        for k, atlas in enumerate(model.atlases):
            atlas.levels[0][..., :3] = 0.3 * k
        for layer in (1, 2):
            alpha = model.atlases[layer].levels[0][..., 3]
            alpha.fill_(-8.0)
            alpha[2:10, 3:13] = 6.0  # both there on the block
        model.shares.logits[..., 1] = 4.0  # the table makes foreground 1 win the softmax there
    return model


def test_bake_orders_the_layers_and_the_folder_round_trips(tmp_path):
    baked = bake(_two_layer_model())
    assert baked.depth.shape == (T, 3)
    np.testing.assert_array_equal(baked.depth, [[0, 1, 2]] * T)  # foreground 1 shows: in front
    save_baked(baked, tmp_path, "abc")
    loaded = load_baked(tmp_path, "abc")
    got = [*loaded.maps, loaded.shares, loaded.depth]
    for a, b in zip(got, [*baked.maps, baked.shares, baked.depth], strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(loaded.atlases, baked.atlases, strict=True):
        np.testing.assert_array_equal(a, b)
    assert load_baked(tmp_path, "other") is None
    meta = json.loads((tmp_path / "baked.json").read_text())
    (tmp_path / "baked.json").write_text(json.dumps({**meta, "version": BAKE_VERSION - 1}))
    assert load_baked(tmp_path, "abc") is None  # an older bake is made again


def test_the_order_follows_which_layer_shows():
    model = _two_layer_model()
    with torch.no_grad():
        model.shares.logits[..., 1] = 0.0
        model.shares.logits[..., 0] = 4.0  # now foreground 0 shows where both are there
    np.testing.assert_array_equal(bake(model).depth, [[0, 2, 1]] * T)
