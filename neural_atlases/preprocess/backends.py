"""Mask and flow backends behind one small interface each, chosen by name from a registry.

A mask backend turns frames ``uint8 [T, H, W, 3]`` into masks ``float32 [T, H, W]`` in [0, 1]
(1 = foreground): ``mask_backend(options).run(frames, progress)``. The config's
``foreground_class`` picks it from the registry (``preprocess.mask_names.MASK_BACKENDS``, where
each factory below is registered once):

- ``motion``: class-agnostic motion segmentation (``preprocess.masks``), no weights;
- ``anything`` or a COCO class name: Mask R-CNN (``preprocess.detection``);
- ``modnet``: MODNet portrait matting from an ONNX file (``preprocess.matting``);
- ``selfie``: MediaPipe's person segmentation (``preprocess.selfie``), an optional extra;
- ``rvm``: Robust Video Matting from the model cache (``preprocess.rvm``, ``preprocess.models``);
- ``isnet``: ISNet general-object segmentation from the model cache (``preprocess.isnet``), on
  keyframes, carried along the flow between them;
- ``auto``: the best that can be had (``auto_choice``): RVM where it finds a person that ISNet
  agrees with, else ISNet where it finds an object, else motion; it says which it used.

A flow backend turns pairs of frames ``uint8 [N, H, W, 3]`` x 2 into flows ``float32 [N, H, W, 2]``
(``preprocess.flow``'s convention): ``flow_backend(...).pair_flow(a, b)``; ``dis`` (OpenCV) or
``raft`` (torchvision RAFT).

Building a backend checks at once what it needs (a weights file, a package), so a missing one
fails before any work with one line; the model itself is loaded when the backend first runs.
Each backend carries ``settings``: what its output depends on, for cache keys.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neural_atlases.errors import UserError
from neural_atlases.evaluation.overlap import mask_iou
from neural_atlases.preprocess.flow import FlowOptions, compute_flows, dis_flow
from neural_atlases.preprocess.mask_names import MASK_BACKENDS, mask_backend_name
from neural_atlases.preprocess.masks import MotionMaskOptions, motion_masks
from neural_atlases.preprocess.weights import file_identity, locate_weights
from neural_atlases.progress import ProgressFn

MaskFn = Callable[[np.ndarray, ProgressFn | None], np.ndarray]
"""``run(frames uint8 [T, H, W, 3], progress) -> masks float32 [T, H, W]`` in [0, 1]."""

PairFlowFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``pair_flow(a uint8 [N, H, W, 3], b uint8 [N, H, W, 3]) -> float32 [N, H, W, 2]``: a[i] -> b[i]."""

MotionFlow = Callable[[], tuple[np.ndarray, np.ndarray]]
"""Gives forward and backward flow ``[T - gap, H, W, 2]`` already computed for the frames."""


@dataclass(frozen=True)
class MaskOptions:
    """Which mask backend runs, with what."""

    foreground_class: str = "auto"
    """``auto``, ``motion``, ``anything``, a COCO class name, ``modnet``, ``selfie``, ``rvm`` or
    ``isnet``."""
    mask_weights: str | None = None
    """Mask R-CNN weights file (a state dict); ``None``: torchvision's cache, or a download."""
    modnet_onnx: str | None = None
    """MODNet ONNX file (needed by ``modnet``)."""
    models_dir: str | None = None
    """The model cache (``preprocess.models.models_dir``); None: the user's default."""
    isnet_keyframes: int = 12
    """Frames ISNet runs on (spread evenly; 0: every frame); the others are carried by flow."""
    score_threshold: float = 0.5
    """Mask R-CNN detections below this score are ignored."""
    detection_side: int = 800
    """Mask R-CNN scales frames so that their shorter side has this many pixels."""
    detection_proposals: int = 1000
    """Region proposals per frame that Mask R-CNN's box head examines (fewer is faster)."""
    motion: MotionMaskOptions = field(default_factory=MotionMaskOptions)
    """Settings of the motion segmentation."""


@dataclass(frozen=True, eq=False)
class MaskBackend:
    name: str
    """Registry name: ``motion``, ``maskrcnn``, ``modnet`` or ``selfie``."""
    settings: dict[str, Any]
    """What the masks depend on besides the frames (JSON-ready), for cache keys."""
    run: MaskFn
    """Frames -> masks (see ``MaskFn``)."""
    about: dict[str, Any] = field(default_factory=dict)
    """What the last ``run`` did, where it chose (``auto``: ``{"used": "isnet", "keyframes":
    [...]}``); JSON-ready, for ``results/masks.json``."""


@dataclass(frozen=True, eq=False)
class FlowBackend:
    name: str
    """Registry name: ``dis`` or ``raft``."""
    settings: dict[str, Any]
    """What the flow depends on besides the frames (JSON-ready), for cache keys."""
    pair_flow: PairFlowFn | None
    """Flow of pairs (see ``PairFlowFn``); ``None`` for DIS, which ``compute_flows`` runs itself."""


def torch_device() -> Any:
    """Where the preprocessing networks run: CUDA when there is one, else the CPU."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# -- mask backends ------------------------------------------------------------------------------
def motion_backend(options: MaskOptions, motion_flow: MotionFlow | None) -> MaskBackend:
    def run(frames: np.ndarray, progress: ProgressFn | None = None) -> np.ndarray:
        if frames.shape[0] < 2:  # one frame has no motion: no foreground
            return np.zeros(frames.shape[:3], np.float32)
        forward, backward = motion_flow() if motion_flow is not None else compute_flows(frames, 1)
        return motion_masks(frames, forward, backward, options.motion, progress)

    return MaskBackend("motion", {"motion": asdict(options.motion)}, run)


def maskrcnn_backend(options: MaskOptions, motion_flow: MotionFlow | None) -> MaskBackend:
    from neural_atlases.preprocess.detection import MASKRCNN_WEIGHTS, build_maskrcnn, class_label

    label = class_label(options.foreground_class)
    weights = locate_weights(MASKRCNN_WEIGHTS, options.mask_weights)

    def run(frames: np.ndarray, progress: ProgressFn | None = None) -> np.ndarray:
        from neural_atlases.preprocess.detection import maskrcnn_masks

        model = build_maskrcnn(
            weights, options.detection_side, options.score_threshold, options.detection_proposals
        ).to(torch_device())
        return maskrcnn_masks(frames, model, label, options.score_threshold, progress)

    settings = {
        "class": options.foreground_class,
        "score_threshold": options.score_threshold,
        "detection_side": options.detection_side,
        "detection_proposals": options.detection_proposals,
        "weights": file_identity(weights),
    }
    return MaskBackend("maskrcnn", settings, run)


def modnet_backend(options: MaskOptions, motion_flow: MotionFlow | None) -> MaskBackend:
    from neural_atlases.preprocess.matting import MODNET_HINT, modnet_masks, open_modnet

    if not options.modnet_onnx:
        raise UserError(f"foreground_class 'modnet' needs {MODNET_HINT}")
    path = Path(options.modnet_onnx).expanduser()
    if not path.is_file():
        raise UserError(f"preprocess.modnet_onnx: {path} not found; it should be {MODNET_HINT}")
    open_modnet(path)  # fails now on a bad file or a missing onnxruntime, not after the flow

    def run(frames: np.ndarray, progress: ProgressFn | None = None) -> np.ndarray:
        return modnet_masks(frames, open_modnet(path), progress)

    return MaskBackend("modnet", {"onnx": file_identity(path)}, run)


def selfie_backend(options: MaskOptions, motion_flow: MotionFlow | None) -> MaskBackend:
    from neural_atlases.preprocess.selfie import import_mediapipe, selfie_masks, selfie_model_path

    mediapipe = import_mediapipe()
    model = selfie_model_path(mediapipe)
    version = getattr(mediapipe, "__version__", "?")
    return MaskBackend("selfie", {"mediapipe": version, "model": file_identity(model)}, selfie_masks)


def rvm_backend(options: MaskOptions, motion_flow: MotionFlow | None) -> MaskBackend:
    from neural_atlases.preprocess.rvm import open_rvm, rvm_masks

    path = _required_model("rvm", options)
    open_rvm(path)  # fails now on a bad file, not after the flow

    def run(frames: np.ndarray, progress: ProgressFn | None = None) -> np.ndarray:
        return rvm_masks(frames, open_rvm(path), progress)

    return MaskBackend("rvm", {"onnx": file_identity(path)}, run)


def _required_model(name: str, options: MaskOptions) -> Path:
    """The model backend ``name`` runs, fetched on first use; a ``UserError`` when it cannot be had."""
    from neural_atlases.preprocess.models import ensure_model

    try:
        path = ensure_model(name, options.models_dir, required=True)
    except UserError as exc:
        raise UserError(f"foreground_class '{name}': {exc}") from None
    assert path is not None  # required: a path or an error
    return path


def isnet_backend(options: MaskOptions, motion_flow: MotionFlow | None) -> MaskBackend:
    from neural_atlases.preprocess.isnet import isnet_masks, keyframes, open_isnet

    path = _required_model("isnet", options)
    open_isnet(path)  # fails now on a bad file, not after the flow

    def run(frames: np.ndarray, progress: ProgressFn | None = None) -> np.ndarray:
        keys = keyframes(frames.shape[0], options.isnet_keyframes)
        about.update(used="isnet", keyframes=keys)
        return _carried(frames, keys, isnet_masks(frames[keys], open_isnet(path), progress), motion_flow)

    about: dict[str, Any] = {}
    return MaskBackend(
        "isnet", {"onnx": file_identity(path), "keyframes": options.isnet_keyframes}, run, about
    )


def _carried(
    frames: np.ndarray, keys: list[int], mattes: np.ndarray, motion_flow: MotionFlow | None
) -> np.ndarray:
    """Mattes ``[T, H, W]`` of every frame from those of keyframes ``keys`` (``[K, H, W]``), carried
    along the clip's gap-1 flow (``isnet.propagate``); the mattes themselves when every frame is one."""
    from neural_atlases.preprocess.isnet import propagate

    if len(keys) == frames.shape[0]:
        return mattes
    forward, backward = motion_flow() if motion_flow is not None else compute_flows(frames, 1)
    return propagate(keys, mattes, forward, backward)


AGREEMENT_IOU = 0.5
"""RVM's mattes are used only where they overlap ISNet's by at least this IoU (on ISNet's keyframes)."""

AGREEMENT_FRAMES = 3
"""Frames (spread over the clip) on which ISNet checks RVM's person before RVM is used."""

OBJECT_AREA = 0.01
"""Mean share of the frame that ISNet's mattes must cover to say the clip shows an object."""


def auto_choice(rvm: np.ndarray | None, isnet: np.ndarray | None) -> str:
    """Which masks ``auto`` uses: ``rvm``, ``isnet`` or ``motion``.

    ``rvm`` and ``isnet`` are mattes ``[K, H, W]`` of the same keyframes (``None``: model not in the
    cache). RVM (temporally stable, people) wins where it finds a person and, when ISNet is there
    too, ISNet agrees (IoU >= ``AGREEMENT_IOU``); else ISNet where it finds an object; else motion.
    """
    from neural_atlases.preprocess.rvm import shows_a_person

    if rvm is not None and shows_a_person(rvm):
        if isnet is None or mask_iou(rvm, isnet) >= AGREEMENT_IOU:
            return "rvm"
    if isnet is not None and float(np.mean(isnet)) > OBJECT_AREA:
        return "isnet"
    return "motion"


def auto_backend(options: MaskOptions, motion_flow: MotionFlow | None) -> MaskBackend:
    """The best masks that can be had (``auto_choice``), saying which were used."""
    from neural_atlases.preprocess.isnet import isnet_masks, keyframes, open_isnet
    from neural_atlases.preprocess.models import OFFLINE_ENV, ensure_model, offline
    from neural_atlases.preprocess.rvm import shows_a_person

    motion = motion_backend(options, motion_flow)
    found = {name: ensure_model(name, options.models_dir, required=False) for name in ("rvm", "isnet")}
    paths = {name: path for name, path in found.items() if path is not None}  # fetched on first use
    have = set(paths)
    rvm = rvm_backend(options, motion_flow) if "rvm" in have else None
    isnet = isnet_backend(options, motion_flow) if "isnet" in have else None  # opens it: a bad file fails now
    settings: dict[str, Any] = {"have": sorted(have), **motion.settings}
    for backend in [rvm, isnet]:
        if backend is not None:
            settings[backend.name] = backend.settings

    about: dict[str, Any] = {}

    def run(frames: np.ndarray, progress: ProgressFn | None = None) -> np.ndarray:
        about.clear()
        if not have:
            about["used"] = "motion"
            why = f"{OFFLINE_ENV} is set" if offline() else "they could not be fetched"
            _say(f"motion (no pretrained mask model in the cache: {why}; `neural-atlases models fetch`)")
            return motion.run(frames, progress)
        num_frames = frames.shape[0]
        keys = keyframes(num_frames, options.isnet_keyframes)
        session = open_isnet(paths["isnet"]) if "isnet" in have else None
        seen: dict[int, np.ndarray] = {}  # ISNet's mattes by frame, each frame run once

        def isnet_at(indices: list[int]) -> np.ndarray:
            todo = [i for i in indices if i not in seen]
            if todo and session is not None:
                seen.update(zip(todo, isnet_masks(frames[todo], session, progress), strict=True))
            return np.stack([seen[i] for i in indices])

        rvm_mattes = rvm.run(frames, progress) if rvm is not None else None
        if rvm_mattes is not None and shows_a_person(rvm_mattes):  # a few frames say if ISNet agrees
            check = keyframes(num_frames, AGREEMENT_FRAMES)
            used = auto_choice(rvm_mattes[check], isnet_at(check) if session is not None else None)
        else:
            used = auto_choice(None, isnet_at(keys) if session is not None else None)
        about.update(used=used, keyframes=keys if used == "isnet" else list(range(num_frames)))
        if used == "rvm" and rvm_mattes is not None:
            _say(f"rvm ({paths['rvm']})")
            return rvm_mattes
        if used == "isnet":
            _say(f"isnet ({paths['isnet']})")
            return _carried(frames, keys, isnet_at(keys), motion_flow)
        _say(f"motion ({' and '.join(sorted(have))} found no subject)")
        return motion.run(frames, None)

    return MaskBackend("auto", settings, run, about)


def _say(used: str) -> None:
    import sys

    print(f"masks: auto -> {used}", file=sys.stderr)


def mask_backend(options: MaskOptions, motion_flow: MotionFlow | None = None) -> MaskBackend:
    """The backend ``options.foreground_class`` asks for, checked and ready to run.

    ``motion_flow``: for ``motion``, a function giving the forward and backward flow the caller
    already has (gap 1 or more); without it the backend computes DIS flow at gap 1.
    """
    module, function = MASK_BACKENDS[mask_backend_name(options.foreground_class)].factory.split(":")
    factory = getattr(importlib.import_module(module), function)
    return factory(options, motion_flow)


# -- flow backends ------------------------------------------------------------------------------
def _dis(options: FlowOptions, weights: str | None) -> FlowBackend:
    return FlowBackend("dis", {"dis": asdict(options)}, None)


def _raft(options: FlowOptions, weights: str | None) -> FlowBackend:
    from neural_atlases.preprocess.raft import RAFT_WEIGHTS, build_raft, raft_flow

    path = locate_weights(RAFT_WEIGHTS, weights)
    models: list[Any] = []  # loaded on the first pair, kept for the next ones

    def pair_flow(frames_a: np.ndarray, frames_b: np.ndarray) -> np.ndarray:
        if not models:
            models.append(build_raft(path).to(torch_device()))
        return raft_flow(models[0], frames_a, frames_b)

    return FlowBackend("raft", {"weights": file_identity(path)}, pair_flow)


FLOW_BACKENDS: dict[str, Callable[[FlowOptions, str | None], FlowBackend]] = {"dis": _dis, "raft": _raft}
"""Registry of flow backends: name -> ``factory(dis_options, weights_file)``."""


def flow_backend(name: str, options: FlowOptions | None = None, weights: str | None = None) -> FlowBackend:
    """The flow backend ``name``, checked (weights located) and ready to run.

    ``options``: DIS settings (default ``FlowOptions()``); ``weights``: RAFT's weights file.
    """
    if name not in FLOW_BACKENDS:
        raise UserError(f"unknown flow backend {name!r}; expected one of {', '.join(FLOW_BACKENDS)}")
    return FLOW_BACKENDS[name](options or FlowOptions(), weights)


def dis_pair_flow(options: FlowOptions | None = None) -> PairFlowFn:
    """DIS as a ``PairFlowFn`` (the plain reference: ``compute_flows`` runs DIS faster itself)."""
    dis_options = options or FlowOptions()

    def pair_flow(frames_a: np.ndarray, frames_b: np.ndarray) -> np.ndarray:
        return np.stack([dis_flow(a, b, dis_options) for a, b in zip(frames_a, frames_b, strict=True)])

    return pair_flow
