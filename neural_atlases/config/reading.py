"""A user's JSON onto ``Config``, checked: unknown keys name the nearest valid one, values a type
alone does not pin are validated; and a config back to JSON (``to_dict``)."""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from pathlib import Path
from typing import Any

from neural_atlases.config.schema import Config
from neural_atlases.errors import UserError


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _nearest(key: str, valid: list[str]) -> str:
    match = difflib.get_close_matches(key, valid, n=1, cutoff=0.0)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise UserError(f"config: '{where or 'top level'}' must be an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else key
        if key not in names:
            raise UserError(f"config: unknown key '{path}'{_nearest(key, names)}")
        kwargs[key] = _coerce(hints[key], value, path)
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, path: str) -> Any:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, path)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint):
        if value is None:
            return None
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(inner, value, path)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise UserError(f"config: '{path}' must be a list, got {value!r}")
        (inner, _) = typing.get_args(hint)
        return tuple(_coerce(inner, v, path) for v in value)
    if hint is bool:
        if not isinstance(value, bool):
            raise UserError(f"config: '{path}' must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"config: '{path}' must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UserError(f"config: '{path}' must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise UserError(f"config: '{path}' must be a string, got {value!r}")
        return value
    return value


def from_dict(data: dict[str, Any], base: Config | None = None) -> Config:
    """Build a config from a (possibly partial) dict; missing keys keep ``base``'s values."""
    merged = _merge(to_dict(base or Config()), data, "")
    config = _build(Config, merged, "")
    validate(config)
    return config


def _merge(base: dict[str, Any], over: Any, where: str) -> dict[str, Any]:
    if not isinstance(over, dict):
        raise UserError(f"config: '{where or 'top level'}' must be an object, got {type(over).__name__}")
    out = dict(base)
    for key, value in over.items():
        path = f"{where}.{key}" if where else key
        if key not in base:
            raise UserError(f"config: unknown key '{path}'{_nearest(key, list(base))}")
        out[key] = _merge(base[key], value, path) if isinstance(base[key], dict) else value
    return out


def validate(config: Config) -> None:
    """Check values that a type alone does not; raise ``UserError`` naming the key. What a model
    variant needs (``model.model`` and its own keys) is the variant's to check
    (``training.variants.check_model_config``), and ``preprocess.foreground_class`` the mask
    backends' (``preprocess.mask_names.check_foreground_class``): both below this module's layer."""
    checks = [
        (
            config.model.foreground_layers >= 0,
            "model.foreground_layers",
            "an integer >= 1, or 0 for one per separate subject",
        ),
        (config.model.max_foreground_layers >= 1, "model.max_foreground_layers", "an integer >= 1"),
        (
            config.model.background_motion in ("homography", "affine"),
            "model.background_motion",
            "homography or affine",
        ),
        (
            config.model.foreground_motion in ("homography", "affine", "similarity"),
            "model.foreground_motion",
            "homography, affine or similarity",
        ),
        (config.model.atlas_levels >= 1, "model.atlas_levels", "an integer >= 1"),
        (config.model.atlas_scale > 0, "model.atlas_scale", "a number > 0"),
        (all(c >= 2 for c in config.model.residual_cells), "model.residual_cells", "cell sizes >= 2"),
        (
            all(c >= 2 for c in config.model.background_residual_cells),
            "model.background_residual_cells",
            "cell sizes >= 2",
        ),
        (config.preprocess.flow in ("dis", "raft"), "preprocess.flow", "dis or raft"),
        (
            config.preprocess.flow_preset in ("ultrafast", "fast", "medium"),
            "preprocess.flow_preset",
            "ultrafast, fast or medium",
        ),
        (
            len(config.preprocess.flow_gaps) >= 1 and all(g >= 1 for g in config.preprocess.flow_gaps),
            "preprocess.flow_gaps",
            "a non-empty list of integers >= 1",
        ),
        (
            0 <= config.preprocess.mask_score_threshold <= 1,
            "preprocess.mask_score_threshold",
            "in [0, 1]",
        ),
        (config.train.steps >= 1, "train.steps", "an integer >= 1"),
        (16 <= config.train.batch_size <= 1 << 22, "train.batch_size", "an integer from 16 to 4194304"),
        (all(0 < f < 1 for f in config.train.realign_at), "train.realign_at", "fractions in (0, 1)"),
        (config.train.realign_final >= 0, "train.realign_final", "an integer >= 0"),
        (config.train.eval_every >= 1, "train.eval_every", "an integer >= 1"),
        (config.train.checkpoint_every >= 1, "train.checkpoint_every", "an integer >= 1"),
        (0 < config.train.flow_batch_fraction <= 1, "train.flow_batch_fraction", "in (0, 1]"),
        (0 < config.train.rigid_batch_fraction <= 1, "train.rigid_batch_fraction", "in (0, 1]"),
        (
            len(config.train.adam_betas) == 2 and all(0 <= b < 1 for b in config.train.adam_betas),
            "train.adam_betas",
            "two numbers in [0, 1)",
        ),
        (config.train.adam_eps > 0, "train.adam_eps", "a number > 0"),
        (config.train.prefit_steps >= 0, "train.prefit_steps", "an integer >= 0"),
        (config.losses.bootstrap_steps >= 0, "losses.bootstrap_steps", "an integer >= 0"),
        (config.losses.global_rigidity_steps >= 0, "losses.global_rigidity_steps", "an integer >= 0"),
    ]
    for ok, key, expected in checks:
        if not ok:
            raise UserError(f"config: '{key}' must be {expected}")


def load_config(path: Path | None, base: Config | None = None) -> Config:
    """Read a user's JSON config file onto ``base`` (the default preset when None)."""
    if path is None:
        return base or Config()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read config {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UserError(f"config {path} is not valid JSON: it is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"config {path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise UserError(f"config {path} is not a config: its JSON nests too deep") from None
    if not isinstance(data, dict):
        raise UserError(f"config {path} must hold a JSON object")
    return from_dict(data, base)
