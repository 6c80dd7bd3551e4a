"""Configuration: frozen, nested dataclasses, one docstring per field.

A user's JSON maps onto ``Config`` section by section (``{"train": {"steps": 2000}}``); a key that
is not a field is an error that names the key and the nearest valid one. Presets are named
instances (``PRESETS``); ``configs/*.json`` hold the same values for users to copy. The config in
force is saved with every checkpoint (``to_dict``) and loading rebuilds the model from it
(``from_dict``).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from neural_atlases.errors import UserError


@dataclass(frozen=True)
class PreprocessConfig:
    flow: str = "dis"
    """Optical flow backend: ``dis`` (OpenCV DIS, offline) or ``raft`` (torchvision RAFT large;
    weights from ``flow_weights``, torchvision's cache, or a download)."""
    flow_weights: str | None = None
    """RAFT weights file (a state dict); ``null``: torchvision's cache, or a download."""
    flow_preset: str = "medium"
    """DIS preset: ``ultrafast``, ``fast`` or ``medium``."""
    flow_gaps: tuple[int, ...] = (1, 2, 4, 8)
    """Frame gaps for which forward and backward flow is computed; long gaps stop drift."""
    flow_consistency_px: float = 1.0
    """Forward and backward flow must agree within this many pixels to be used."""
    foreground_class: str = "auto"
    """How masks are made when the project has none (its own masks/ always win): ``auto`` (the best
    of the pretrained models that ``models fetch`` put in the model cache: Robust Video Matting
    where it finds a person that ISNet agrees with, else ISNet where it finds an object, else
    ``motion``), ``rvm`` (Robust Video Matting), ``isnet`` (ISNet general-object segmentation on
    ``isnet_keyframes`` frames, carried by flow between them), ``motion``
    (class-agnostic motion, no weights), ``anything`` or a COCO class name such as ``person`` or
    ``bird`` (Mask R-CNN), ``modnet`` (portrait matting from ``modnet_onnx``) or ``selfie``
    (MediaPipe person segmentation, an optional extra)."""
    mask_weights: str | None = None
    """Mask R-CNN weights file (a state dict); ``null``: torchvision's cache, or a download."""
    modnet_onnx: str | None = None
    """MODNet's ONNX export, for ``foreground_class: "modnet"``."""
    models_dir: str | None = None
    """The cache of pretrained mask models (``neural-atlases models fetch``); ``null``:
    ``$NEURAL_ATLASES_MODELS``, else ``~/.cache/neural_atlases/models``."""
    isnet_keyframes: int = 12
    """Frames ISNet runs on, spread evenly over the clip (about 5 s each on two CPU cores); the
    others take the keyframes' mattes carried along the flow. 0: every frame."""
    mask_score_threshold: float = 0.5
    """Mask R-CNN detections scoring below this are ignored."""
    refine_transforms: bool = True
    """Refine each frame's global transform by direct image alignment against frame 0."""
    align_foreground: bool = True
    """Align each frame's foreground to frame 0 pixel by pixel (DIS after the global transform)
    and start the foreground mappings' residuals from it: follows objects that bend."""


@dataclass(frozen=True)
class MLPConfig:
    """The paper's coordinate networks (``model: "paper"``): ReLU MLPs with tanh outputs."""

    width: int = 256
    """Units of every hidden layer."""
    mapping_layers_background: int = 4
    """Linear layers of the background mapping ``xyt -> uv`` (no positional encoding)."""
    mapping_layers_foreground: int = 6
    """Linear layers of each foreground mapping ``xyt -> uv`` (no positional encoding)."""
    atlas_layers: int = 8
    """Linear layers of the one atlas network shared by every layer, ``uv -> rgb``."""
    atlas_skips: tuple[int, ...] = (4, 7)
    """Layers of the atlas network that also take its encoded input."""
    atlas_frequencies: int = 10
    """Positional-encoding frequencies (``2^j * pi``) of the atlas network's input."""
    alpha_layers: int = 8
    """Linear layers of the alpha network ``xyt -> alpha``."""
    alpha_frequencies: int = 5
    """Positional-encoding frequencies of the alpha network's input."""
    uv_scale: float = 0.8
    """Mappings start (pre-fit, ``train.prefit_steps``) as ``uv = uv_scale * (x, y)``: the
    nominal scale of every layer's atlas."""


@dataclass(frozen=True)
class ModelConfig:
    model: str = "fast"
    """The model variant (``training.variants.VARIANTS``): ``fast``, dense grids and per-frame
    global transforms (minutes on a CPU); ``paper``, the paper's coordinate MLPs (``mlp``), for
    comparison and fidelity."""
    foreground_layers: int = 1
    """Number of foreground layers (each with its own mapping and atlas)."""
    atlas_scale: float = 2.0
    """Atlas texels per pixel of frame 0."""
    atlas_margin: int = 16
    """Texels of margin around what the video shows, in every atlas."""
    max_atlas_side: int = 4096
    """No atlas side grows beyond this many texels."""
    atlas_levels: int = 4
    """Levels of each multi-resolution atlas texture (finest first, each half the one before)."""
    background_motion: str = "homography"
    """Global transform per frame of the background mapping: ``homography`` or ``affine``."""
    foreground_motion: str = "affine"
    """Global transform per frame of each foreground mapping: ``homography``, ``affine``, ``similarity``."""
    atlas_alpha: bool = True
    """Each foreground atlas also holds an alpha (logit) channel, read through the mapping, so a
    layer's outline lives in its atlas and every frame agrees on it; a per-pixel table adds what
    it cannot hold (kept small by ``losses.alpha_residual``)."""
    residual_cells: tuple[int, ...] = (32, 8)
    """Cell sizes in pixels of the per-frame residual grids added to each foreground mapping
    (coarse first)."""
    background_residual_cells: tuple[int, ...] = (32,)
    """The same for the background mapping, coarser: where the foreground covers the background
    nothing but rigidity holds a fine residual in place, and a clean plate reads the atlas there
    (on the benchmark scene, 8-pixel cells here cost 8 dB of clean plate)."""
    mlp: MLPConfig = field(default_factory=MLPConfig)
    """The paper model's networks (used with ``model: "paper"``; its atlases are square, sized
    by ``atlas_scale`` and ``max_atlas_side``)."""


@dataclass(frozen=True)
class LossConfig:
    rgb: float = 5000.0
    """Mean squared colour error of the reconstruction."""
    gradient: float = 1000.0
    """x and y finite differences of reconstruction vs frame."""
    sparsity: float = 10.0
    """Foreground atlas colour where alpha is small."""
    rigidity: float = 1.0
    """Local rigidity of every mapping (1-pixel Jacobians)."""
    global_rigidity_background: float = 50.0
    """Global rigidity of the background mapping, early steps only."""
    global_rigidity_foreground: float = 5.0
    """Global rigidity of the foreground mappings, early steps only."""
    global_rigidity_px: int = 32
    """Pixel distance of the global rigidity differences."""
    global_rigidity_fraction: float = 0.1
    """Part of training (by steps or time) during which global rigidity applies."""
    global_rigidity_steps: int = 0
    """When above 0: global rigidity applies for this many steps instead (the paper's window)."""
    flow: float = 5.0
    """Flow-matched points land on the same atlas point (in pixels), weighted by the layer's share."""
    alpha_flow: float = 50.0
    """Flow-matched points have the same layer shares."""
    hidden_flow: float = 5.0
    """Where a foreground layer is there but hidden behind another (fast model, several layers),
    its mapping keeps its residual along the layer's own global motion: ``M(p, t)`` and
    ``M(p', t')`` agree (in pixels), ``p'`` where the layer's per-frame transforms carry ``p``;
    weighted by how much of the layer is hidden. The optical flow there is the front layer's, so
    this is what places the hidden part of a layer, between the frames that show it."""
    bootstrap: float = 2000.0
    """Binary cross-entropy of alpha against the masks, early part of training only."""
    bootstrap_fraction: float = 0.1
    """Part of training during which alpha bootstrapping applies."""
    bootstrap_steps: int = 0
    """When above 0: alpha bootstrapping applies for this many steps instead (the paper's window)."""
    alpha_residual: float = 1.0
    """Squared per-pixel alpha logits beyond the atlas alphas (with ``model.atlas_alpha``)."""
    scribble: float = 10000.0
    """Cross-entropy of layer shares against scribbles (several layers)."""
    release_units: bool = False
    """Weigh the terms as the paper's release measures them, so its weights mean what they mean
    there: rgb and gradient errors summed over the colour channels (here: averaged, so x3). Flow
    distances are in frame pixels at the layer's nominal scale in both. Paper model only."""


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 20000
    """Optimisation steps (``--max-minutes`` may stop earlier)."""
    batch_size: int = 4096
    """Random pixels per step."""
    flow_batch_fraction: float = 0.5
    """Share of the batch also used for the flow terms, per gap and direction drawn."""
    lr_atlas: float = 0.02
    """Adam learning rate of atlas textures (paper model: of the atlas network)."""
    lr_transform: float = 2e-5
    """Adam learning rate of the per-frame global transforms (paper model: of the mapping
    networks, and of their pre-fit)."""
    lr_residual: float = 5e-5
    """Adam learning rate of the mapping residual grids."""
    lr_alpha: float = 0.1
    """Adam learning rate of the alpha logits (paper model: of the alpha network)."""
    lr_final_ratio: float = 0.05
    """Learning rates decay (cosine) to this ratio at the end of training."""
    realign_at: tuple[float, ...] = (0.3, 0.5, 0.7, 0.85, 0.95)
    """Points of training (fractions) at which each frame's foreground is realigned to the
    reconstruction by optical flow (``training.realign``)."""
    realign_final: int = 5
    """Realignments of the foreground after the last step."""
    eval_every: int = 1000
    """Steps between evaluations (PSNR on a subset of frames)."""
    checkpoint_every: int = 500
    """Steps between checkpoints."""
    seed: int = 0
    """Random seed."""
    rigid_batch_fraction: float = 0.125
    """Share of the batch also used for global rigidity, while it applies."""
    adam_betas: tuple[float, ...] = (0.9, 0.99)
    """Adam's ``(beta1, beta2)``."""
    adam_eps: float = 1e-15
    """Adam's epsilon."""
    prefit_steps: int = 0
    """Steps of fitting each mapping network to ``uv = model.mlp.uv_scale * (x, y)`` before
    training, one batch of random pixels each (paper model)."""
    mixed_precision: bool = True
    """On CUDA, run the paper model's colour and alpha networks in bfloat16 (autocast); mappings
    and every grid stay float32. False: float32 throughout."""


@dataclass(frozen=True)
class Config:
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    """Flow, masks and initial transforms."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """The fields and their sizes."""
    losses: LossConfig = field(default_factory=LossConfig)
    """Loss weights and schedules."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Optimisation."""


MODNET_ONNX = "models/modnet_photographic_portrait_matting.onnx"
"""Where the MODNet preset expects MODNet's ONNX export (relative to the working directory)."""

PAPER = Config(
    preprocess=PreprocessConfig(flow_gaps=(1,), refine_transforms=False, align_foreground=False),
    model=ModelConfig(model="paper", atlas_scale=1.0, atlas_alpha=False),
    losses=LossConfig(
        sparsity=1000.0,
        global_rigidity_px=100,
        global_rigidity_steps=5000,
        alpha_flow=49.0,
        hidden_flow=0.0,
        bootstrap_steps=10000,
        release_units=True,
    ),
    train=TrainConfig(
        steps=400000,
        batch_size=10000,
        flow_batch_fraction=1.0,
        lr_atlas=1e-4,
        lr_transform=1e-4,
        lr_residual=1e-4,
        lr_alpha=1e-4,
        lr_final_ratio=1.0,
        realign_at=(),
        realign_final=0,
        eval_every=2000,
        checkpoint_every=1000,
        rigid_batch_fraction=1.0,
        adam_betas=(0.9, 0.999),
        adam_eps=1e-8,
        prefit_steps=300,
    ),
)
"""The paper's model and configuration (METHOD.md): coordinate MLPs, its loss weights and
schedules, Adam at 1e-4, 10,000 pixels a step, 400,000 steps."""

PRESETS: dict[str, Config] = {
    "single_layer": Config(),
    "single_layer_modnet": Config(
        preprocess=PreprocessConfig(foreground_class="modnet", modnet_onnx=MODNET_ONNX)
    ),
    "paper": PAPER,
    "multi_layer": Config(model=ModelConfig(foreground_layers=2)),
    "multi_layer_paper": replace(
        PAPER,
        model=replace(PAPER.model, foreground_layers=2),
        train=replace(PAPER.train, steps=300000),
    ),
}


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
        (config.model.foreground_layers >= 1, "model.foreground_layers", "an integer >= 1"),
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
