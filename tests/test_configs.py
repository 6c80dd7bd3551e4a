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
