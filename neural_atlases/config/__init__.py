"""Configuration: frozen, nested dataclasses, one docstring per field (``schema``).

A user's JSON maps onto ``Config`` section by section (``{"train": {"steps": 2000}}``); a key that
is not a field is an error that names the key and the nearest valid one (``reading``). Presets
are named instances (``presets.PRESETS``); ``configs/*.json`` hold the same values for users to
copy. The config in force is saved with every checkpoint (``to_dict``) and loading rebuilds the
model from it (``from_dict``).
"""

from neural_atlases.config.presets import MODNET_ONNX, PAPER, PRESETS
from neural_atlases.config.reading import from_dict, load_config, to_dict, validate
from neural_atlases.config.schema import (
    Config,
    LossConfig,
    MLPConfig,
    ModelConfig,
    PreprocessConfig,
    TrainConfig,
)

__all__ = [
    "MODNET_ONNX",
    "PAPER",
    "PRESETS",
    "Config",
    "LossConfig",
    "MLPConfig",
    "ModelConfig",
    "PreprocessConfig",
    "TrainConfig",
    "from_dict",
    "load_config",
    "to_dict",
    "validate",
]
