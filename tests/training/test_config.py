"""Tests of neural_atlases.config: JSON onto frozen dataclasses, errors that name the key."""

from __future__ import annotations

import dataclasses
import json

import pytest

from neural_atlases.config import (
    PRESETS,
    Config,
    ModelConfig,
    TrainConfig,
    from_dict,
    load_config,
    to_dict,
    validate,
)
from neural_atlases.errors import UserError


def test_empty_dict_is_the_default_config():
    assert from_dict({}) == Config()
    assert load_config(None) == Config()


def test_partial_dict_changes_only_its_keys():
    c = from_dict({"train": {"steps": 7, "lr_atlas": 1}, "model": {"residual_cells": [16, 4]}})
    assert c.train.steps == 7
    assert c.train.lr_atlas == 1.0 and isinstance(c.train.lr_atlas, float)
    assert c.model.residual_cells == (16, 4)
    assert c.train == dataclasses.replace(Config().train, steps=7, lr_atlas=1.0)
    assert c.losses == Config().losses and c.preprocess == Config().preprocess


def test_from_dict_builds_onto_a_base():
    base = from_dict({"train": {"steps": 5, "seed": 3}})
    c = from_dict({"train": {"steps": 9}}, base)
    assert c.train.steps == 9 and c.train.seed == 3


def test_to_dict_from_dict_round_trip():
    c = from_dict({"preprocess": {"flow_gaps": [1, 3]}, "train": {"batch_size": 64}})
    d = to_dict(c)
    assert d["preprocess"]["flow_gaps"] == [1, 3]  # tuples become lists: JSON-ready
    assert json.loads(json.dumps(d)) == d
    assert from_dict(d) == c
    assert from_dict(to_dict(Config())) == Config()


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().train.steps = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "key", "nearest"),
    [
        ({"trian": {}}, "trian", "train"),
        ({"modle": {"foreground_layers": 1}}, "modle", "model"),
        ({"train": {"stpes": 10}}, "train.stpes", "steps"),
        ({"model": {"atlas_levls": 2}}, "model.atlas_levls", "atlas_levels"),
        ({"losses": {"rigidty": 1.0}}, "losses.rigidty", "rigidity"),
        ({"preprocess": {"flow_gap": [1]}}, "preprocess.flow_gap", "flow_gaps"),
    ],
)
def test_unknown_key_names_the_key_and_the_nearest_valid_one(data, key, nearest):
    with pytest.raises(UserError) as info:
        from_dict(data)
    message = str(info.value)
    assert f"'{key}'" in message
    assert f"'{nearest}'" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"train": {"steps": "10"}}, "train.steps"),
        ({"train": {"steps": 1.5}}, "train.steps"),
        ({"train": {"steps": True}}, "train.steps"),
        ({"train": {"lr_atlas": "fast"}}, "train.lr_atlas"),
        ({"train": {"lr_atlas": None}}, "train.lr_atlas"),
        ({"preprocess": {"refine_transforms": 1}}, "preprocess.refine_transforms"),
        ({"preprocess": {"flow_gaps": 2}}, "preprocess.flow_gaps"),
        ({"preprocess": {"flow_gaps": [1, "a"]}}, "preprocess.flow_gaps"),
        ({"preprocess": {"flow": 3}}, "preprocess.flow"),
        ({"train": 5}, "train"),
        ({"train": {"steps": {"a": 1}}}, "train.steps"),
    ],
)
def test_wrong_type_names_the_key(data, key):
    with pytest.raises(UserError, match=f"'{key}'"):
        from_dict(data)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"model": {"foreground_layers": -1}}, "model.foreground_layers"),
        ({"model": {"max_foreground_layers": 0}}, "model.max_foreground_layers"),
        ({"model": {"background_motion": "similarity"}}, "model.background_motion"),
        ({"model": {"atlas_levels": 0}}, "model.atlas_levels"),
        ({"model": {"atlas_scale": 0}}, "model.atlas_scale"),
        ({"model": {"residual_cells": [1]}}, "model.residual_cells"),
        ({"preprocess": {"flow_gaps": []}}, "preprocess.flow_gaps"),
        ({"preprocess": {"flow_gaps": [0]}}, "preprocess.flow_gaps"),
        ({"preprocess": {"flow_preset": "slow"}}, "preprocess.flow_preset"),
        ({"train": {"steps": 0}}, "train.steps"),
        ({"train": {"batch_size": 8}}, "train.batch_size"),
        ({"train": {"flow_batch_fraction": 0}}, "train.flow_batch_fraction"),
    ],
)
def test_bad_value_names_the_key(data, key):
    with pytest.raises(UserError, match=f"'{key}'"):
        from_dict(data)


@pytest.mark.parametrize("key", ["eval_every", "checkpoint_every"])
def test_non_positive_intervals_are_rejected(key):
    with pytest.raises(UserError, match=f"'train.{key}'"):
        from_dict({"train": {key: 0}})


def test_validate_accepts_the_defaults_and_every_preset():
    validate(Config())
    assert "single_layer" in PRESETS
    for preset in PRESETS.values():
        validate(preset)
        assert from_dict(to_dict(preset)) == preset
    assert PRESETS["single_layer"] == Config()


def test_load_config_reads_a_file(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"train": {"steps": 12}, "preprocess": {"flow_gaps": [1, 2]}}))
    c = load_config(path)
    assert c.train.steps == 12 and c.preprocess.flow_gaps == (1, 2)
    base = Config(train=TrainConfig(seed=4), model=ModelConfig(atlas_margin=3))
    c = load_config(path, base)
    assert c.train.seed == 4 and c.model.atlas_margin == 3 and c.train.steps == 12


def test_load_config_missing_file(tmp_path):
    path = tmp_path / "missing.json"
    with pytest.raises(UserError, match="missing.json"):
        load_config(path)


def test_load_config_folder(tmp_path):
    with pytest.raises(UserError, match="cannot read config"):
        load_config(tmp_path)


@pytest.mark.parametrize("text", ["{", "{'train': {}}", "", '{"train": {"steps": 1,}}'])
def test_load_config_invalid_json(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(UserError, match=r"bad.json is not valid JSON"):
        load_config(path)


@pytest.mark.parametrize("text", ["[1, 2]", "3", '"train"', "null"])
def test_load_config_not_an_object(tmp_path, text):
    path = tmp_path / "list.json"
    path.write_text(text)
    with pytest.raises(UserError, match="must hold a JSON object"):
        load_config(path)


def test_load_config_unknown_key_in_a_file(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"train": {"stpes": 3}}))
    with pytest.raises(UserError, match=r"unknown key 'train.stpes' \(did you mean 'steps'\?\)"):
        load_config(path)


@pytest.mark.parametrize(
    "preset, data, key",
    [
        ("single_layer", {"losses": {"release_units": True}}, "losses.release_units"),
        ("paper", {"model": {"atlas_alpha": True}}, "model.atlas_alpha"),
        ("paper", {"train": {"realign_at": [0.5]}}, "train.realign_at"),
        ("paper", {"model": {"mlp": {"atlas_skips": [8]}}}, "model.mlp.atlas_skips"),
        ("paper", {"model": {"mlp": {"uv_scale": 1.5}}}, "model.mlp.uv_scale"),
        ("paper", {"model": {"mlp": {"alpha_layers": 1}}}, "model.mlp.alpha_layers"),
    ],
)
def test_what_the_paper_model_cannot_take_names_the_key(preset, data, key):
    """The model variant checks its own keys (``training.variants``), before any heavy work."""
    from neural_atlases.training.variants import check_model_config

    with pytest.raises(UserError, match=f"'{key}'"):
        check_model_config(from_dict(data, PRESETS[preset]))


def test_an_unknown_model_variant_names_the_known_ones():
    from neural_atlases.training.variants import check_model_config

    with pytest.raises(UserError, match="'model.model' must be one of fast, paper, got 'slow'"):
        check_model_config(from_dict({"model": {"model": "slow"}}))


def test_unknown_paper_network_key_names_the_nearest():
    with pytest.raises(UserError, match="did you mean 'atlas_layers'"):
        from_dict({"model": {"mlp": {"atlas_layer": 4}}}, PRESETS["paper"])


def test_any_number_of_foreground_layers():
    assert from_dict({"model": {"foreground_layers": 3}}).model.foreground_layers == 3
    assert PRESETS["multi_layer"].model.foreground_layers == 2
