"""The shipped config files hold exactly the presets' values."""

from __future__ import annotations

import json
from pathlib import Path

from neural_atlases.config import PRESETS, load_config, to_dict

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def test_every_preset_has_its_file_and_the_file_rebuilds_it():
    for name, preset in PRESETS.items():
        path = CONFIGS / f"{name}.json"
        assert path.is_file(), f"configs/{name}.json is missing"
        assert load_config(path) == preset
        assert json.loads(path.read_text()) == to_dict(preset)


def test_multi_layer_paper_config_is_the_paper_preset_with_two_layers_and_its_step_count():
    # It loads once several foreground layers are supported; until then its content is checked
    # against the paper preset (the multi-layer release trains for 300,000 steps).
    data = json.loads((CONFIGS / "multi_layer_paper.json").read_text())
    assert data["model"]["foreground_layers"] == 2 and data["train"]["steps"] == 300000
    data["model"]["foreground_layers"] = 1
    data["train"]["steps"] = PRESETS["paper"].train.steps
    assert data == to_dict(PRESETS["paper"])
