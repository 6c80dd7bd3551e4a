"""Everything training needs from a project, computed once and cached.

Frames are read from ``frames/``; optical flow (forward and backward, every configured gap, from
the configured flow backend) and its consistency masks, the foreground masks (the user's, or
those of the configured mask backend) and each layer's per-frame global transforms are cached
under ``results/cache`` with a fingerprint of the frames and the settings (the backend and its
weights included), and rebuilt when either changes. The backends are checked before any work,
so missing weights fail at once.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass, replace

import numpy as np

from neural_atlases.config import Config
from neural_atlases.conventions import frame_file_name
from neural_atlases.io.cache import cache_key, cached
from neural_atlases.io.images import atomic_write_path, read_frames, read_masks, write_image
from neural_atlases.io.project import Project, frames_fingerprint
from neural_atlases.io.scribbles import read_scribbles
from neural_atlases.preprocess.align import MAX_MEDIAN_CORRECTION_PX, dense_corrections
from neural_atlases.preprocess.backends import (
    FlowBackend,
    MaskBackend,
    MaskOptions,
    flow_backend,
    mask_backend,
)
from neural_atlases.preprocess.flow import FlowOptions, compute_flows, consistency_mask
from neural_atlases.preprocess.instances import (
    INSTANCE_MIN_SHARE,
    INSTANCE_PARTS,
    INSTANCE_SEEN,
    instance_seeds,
)
from neural_atlases.preprocess.layer_split import NONE, motion_seeds, split_foreground
from neural_atlases.preprocess.refine import refine_to_reference
from neural_atlases.preprocess.transforms import layer_transforms
from neural_atlases.progress import Progress
from neural_atlases.training.sampler import FlowField
from neural_atlases.training.variants import variant_of


@dataclass
class Prepared:
    """The inputs of training, all for the same frames."""

    frames: np.ndarray  # [T, H, W, 3] uint8
    masks: np.ndarray  # [T, H, W] float32, 1 = foreground
    flows: list[FlowField]
    transforms: np.ndarray  # [L + 1, T, 3, 3] frame t pixels -> frame 0 pixels, background first
    corrections: list[tuple[np.ndarray, np.ndarray] | None]  # per layer: dense offsets, valid
    fingerprint: str
    layer_weights: np.ndarray | None = None  # [L + 1, T, H, W] each layer's pixels, background first
    scribbles: np.ndarray | None = None  # [T, H, W] int16 labels (io.scribbles), None without

    @property
    def foreground_layers(self) -> int:
        """The config's, or the number of subjects found when it says 0."""
        return self.transforms.shape[0] - 1


def _flow_options(config: Config) -> FlowOptions:
    pc = config.preprocess
    return FlowOptions(preset=pc.flow_preset, consistency_px=pc.flow_consistency_px)


def mask_options(config: Config) -> MaskOptions:
    """The mask backend's options from the config."""
    pc = config.preprocess
    return MaskOptions(
        foreground_class=pc.foreground_class,
        mask_weights=pc.mask_weights,
        modnet_onnx=pc.modnet_onnx,
        models_dir=pc.models_dir,
        isnet_keyframes=pc.isnet_keyframes,
        score_threshold=pc.mask_score_threshold,
    )


def _stage(description: str, total: int) -> Progress:
    return Progress(total, description, unit="frame")


def prepare(project: Project, config: Config) -> Prepared:
    """Read the frames and compute (or load) flow, masks and transforms."""
    flow_opts = _flow_options(config)
    flow_source = flow_backend(config.preprocess.flow, flow_opts, config.preprocess.flow_weights)
    flows: list[FlowField] = []
    masker = None
    if not project.has_user_masks():  # the project's own masks win over any backend
        masker = mask_backend(mask_options(config), lambda: (flows[0].forward, flows[0].backward))
    with _stage("reading frames", len(project.frame_files())) as bar:
        frames = read_frames(project.frames_dir, progress=bar.callback())
    num_frames = frames.shape[0]
    layers = config.model.foreground_layers
    scribbles = read_scribbles(
        project.scribbles_dir,
        project.frame_files(),
        frames.shape[1],
        frames.shape[2],
        layers or config.model.max_foreground_layers,
    )
    frames_id = frames_fingerprint(project)
    flow_ids = []
    for gap in config.preprocess.flow_gaps:
        if gap >= num_frames:
            continue
        key = cache_key(frames=frames_id, gap=gap, backend=flow_source.name, flow=flow_source.settings)
        flows.append(_flow(project, frames, gap, flow_source, flow_opts, key))
        flow_ids.append(key)
    masks, mask_id = _masks(project, frames, flows, flow_ids, masker, frames_id)
    scribble_id = None if scribbles is None else _digest(scribbles)
    seeds = None
    if layers != 1:
        seeds = _seeds(project, masks, flows, scribbles, layers, config.model.max_foreground_layers, mask_id)
        if not layers:  # one layer for each subject found (model.foreground_layers 0)
            layers = max(1, int(seeds.max()) + 1)
            print(f"foreground: {layers} separate subject(s), a layer each", file=sys.stderr)
        config = replace(config, model=replace(config.model, foreground_layers=layers))
    weights, weights_id = [1.0 - masks] + [masks] * layers, mask_id
    if layers > 1 and seeds is not None:
        split = _split(project, masks, flows, seeds, layers, cache_key(masks=mask_id, seeds=_digest(seeds)))
        weights, weights_id = [1.0 - masks, *split], f"{mask_id}:split:{_digest(split)}"
    transforms = _transforms(project, config, frames, flows, weights, weights_id, frames_id)
    corrections: list[tuple[np.ndarray, np.ndarray] | None] = [None] * transforms.shape[0]
    uses_transforms = variant_of(config.model).uses_global_transforms
    if config.preprocess.align_foreground and num_frames > 1 and uses_transforms:
        for layer in range(1, transforms.shape[0]):
            corrections[layer] = _corrections(
                project, frames, transforms[layer], weights[layer], flow_opts, layer, frames_id
            )
    ids = {"frames": frames_id, "masks": mask_id} | ({} if scribbles is None else {"scribbles": scribble_id})
    fingerprint = hashlib.sha256(cache_key(**ids).encode()).hexdigest()[:16]
    return Prepared(frames, masks, flows, transforms, corrections, fingerprint, np.stack(weights), scribbles)


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def _seeds(
    project: Project,
    masks: np.ndarray,
    flows: list[FlowField],
    scribbles: np.ndarray | None,
    layers: int,
    most: int,
    mask_id: str,
) -> np.ndarray:
    """Pixels known to be each foreground layer's on some frames, ``[T, H, W]`` int16 (``NONE``
    elsewhere): the scribbles'; without them, with ``layers`` 0, one layer for each separate
    subject, at most ``most`` (``instance_seeds``, cached), else the ``layers`` dominant motions of
    frame 0 (``motion_seeds``)."""
    if scribbles is not None:
        return np.where(scribbles > 0, scribbles - 1, NONE).astype(np.int16)
    if not flows or flows[0].gap != 1:  # one frame: no motion to tell subjects apart
        return np.full(masks.shape, NONE, np.int16)
    f = flows[0]
    if layers > 0:
        return motion_seeds(masks, f.forward, f.forward_valid, layers)

    def compute() -> dict[str, np.ndarray]:
        with _stage("finding separate subjects", 1):
            seeds = instance_seeds(masks, f.forward, f.backward, most)
        return {"seeds": seeds}

    key = cache_key(
        masks=mask_id, most=most, share=INSTANCE_MIN_SHARE, seen=INSTANCE_SEEN, parts=INSTANCE_PARTS
    )
    return cached(project.cache_dir / "instances.npz", key, compute)["seeds"]


def _split(
    project: Project, masks: np.ndarray, flows: list[FlowField], seeds: np.ndarray, layers: int, key: str
) -> np.ndarray:
    """Each foreground layer's weight ``[L, T, H, W]`` (``preprocess.layer_split``) from its
    ``seeds`` ``[T, H, W]``, cached."""
    if not flows or flows[0].gap != 1:  # one frame: no motion to split by
        return np.stack([masks] + [np.zeros_like(masks)] * (layers - 1))
    f = flows[0]

    def compute() -> dict[str, np.ndarray]:
        with _stage("splitting the foreground among layers", masks.shape[0]) as bar:
            weights = split_foreground(
                masks, seeds, f.forward, f.backward, f.forward_valid, f.backward_valid, layers, bar.callback()
            )
        return {"weights": weights}

    return cached(project.cache_dir / "layers.npz", key, compute)["weights"]


def _corrections(
    project: Project,
    frames: np.ndarray,
    transforms: np.ndarray,
    weight: np.ndarray,
    options: FlowOptions,
    layer: int,
    frames_id: str,
) -> tuple[np.ndarray, np.ndarray]:
    key = cache_key(
        frames=frames_id,
        transforms=hashlib.sha256(np.ascontiguousarray(transforms).tobytes()).hexdigest(),
        weight=hashlib.sha256(np.ascontiguousarray(weight).tobytes()).hexdigest(),
        flow=asdict(options),
        max_median_px=MAX_MEDIAN_CORRECTION_PX,
    )

    def compute() -> dict[str, np.ndarray]:
        with _stage(f"foreground {layer - 1} dense alignment", frames.shape[0] - 1) as bar:
            offsets, valid = dense_corrections(frames, transforms, weight, options, progress=bar.callback())
        return {"offsets": offsets, "valid": valid}

    data = cached(project.cache_dir / f"align_{layer}.npz", key, compute)
    return data["offsets"], data["valid"]


def _flow(
    project: Project, frames: np.ndarray, gap: int, source: FlowBackend, options: FlowOptions, key: str
) -> FlowField:
    def compute() -> dict[str, np.ndarray]:
        with _stage(f"optical flow ({source.name}), gap {gap}", frames.shape[0] - gap) as bar:
            fw, bw = compute_flows(frames, gap, options, bar.callback(), source.pair_flow)
        return {
            "forward": fw,
            "backward": bw,
            "forward_valid": consistency_mask(fw, bw, options.consistency_px),
            "backward_valid": consistency_mask(bw, fw, options.consistency_px),
        }

    data = cached(project.cache_dir / f"flow_gap{gap}.npz", key, compute)
    return FlowField(gap, data["forward"], data["backward"], data["forward_valid"], data["backward_valid"])


def _masks(
    project: Project,
    frames: np.ndarray,
    flows: list[FlowField],
    flow_ids: list[str],
    masker: MaskBackend | None,
    frames_id: str,
) -> tuple[np.ndarray, str]:
    """The user's masks when the project has them, else the backend's (written to results/masks)."""
    num_frames, height, width = frames.shape[:3]
    if masker is None:
        with _stage("reading masks", num_frames) as bar:
            masks = read_masks(project.masks_dir, num_frames, height, width, progress=bar.callback())
        digest = hashlib.sha256(np.ascontiguousarray(masks).tobytes()).hexdigest()[:16]
        project.masks_about_path.unlink(missing_ok=True)  # no record: the user's own masks
        return masks.astype(np.float32), f"user:{digest}"
    if masker.name == "motion" and not flows:  # a one-frame clip has no motion: no foreground
        return np.zeros((num_frames, height, width), np.float32), "none"
    # motion masks come from the cached flow of the first gap, so they depend on it too
    uses = {"flow": flow_ids[0]} if masker.name in ("motion", "auto", "isnet") and flow_ids else {}
    key = cache_key(frames=frames_id, masks=masker.name, settings=masker.settings, **uses)

    def compute() -> dict[str, np.ndarray]:
        with _stage(f"{masker.name} masks", num_frames) as bar:
            masks = masker.run(frames, bar.callback()).astype(np.float32)
        for t in range(num_frames):
            write_image(project.masks_out_dir / frame_file_name(t), np.round(masks[t] * 255).astype(np.uint8))
        about = {"backend": masker.name, "used": masker.name, "keyframes": list(range(num_frames))}
        return {"masks": masks, "about": np.array(json.dumps(about | masker.about))}

    data = cached(project.cache_dir / "masks.npz", key, compute)
    about = json.loads(str(data["about"])) if "about" in data else {"backend": masker.name}
    _write_about(project, about)
    return data["masks"], f"{masker.name}:{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _write_about(project: Project, about: dict) -> None:
    """``results/masks.json``: where the masks came from (``Project.masks_about_path``)."""
    with atomic_write_path(project.masks_about_path) as tmp:
        tmp.write_text(json.dumps(about, indent=1) + "\n")


def _transforms(
    project: Project,
    config: Config,
    frames: np.ndarray,
    flows: list[FlowField],
    weights: list[np.ndarray],
    mask_id: str,
    frames_id: str,
) -> np.ndarray:
    """Per-layer frame-t -> frame-0 pixel transforms ``[L + 1, T, 3, 3]``, each fitted to its
    layer's pixels ``weights[l]`` ``[T, H, W]`` (``mask_id`` identifies them)."""
    mc = config.model
    num_frames = frames.shape[0]
    layers = mc.foreground_layers + 1
    if not flows or flows[0].gap != 1 or not variant_of(mc).uses_global_transforms:  # identities: unused
        return np.tile(np.eye(3), (layers, num_frames, 1, 1))
    key = cache_key(
        masks=mask_id,
        bg=mc.background_motion,
        fg=mc.foreground_motion,
        refine=config.preprocess.refine_transforms,
        flow=flows[0].forward.shape,
        frames=frames_id,
    )

    def compute() -> dict[str, np.ndarray]:
        f = flows[0]
        models = [mc.background_motion] + [mc.foreground_motion] * mc.foreground_layers
        out = []
        for layer, (weight, model) in enumerate(zip(weights, models, strict=True)):
            name = "background" if layer == 0 else f"foreground {layer - 1}"
            with _stage(f"{name} motion", num_frames - 1) as bar:
                chained = layer_transforms(
                    frames,
                    f.forward,
                    f.backward,
                    f.forward_valid,
                    f.backward_valid,
                    weight,
                    model,
                    progress=bar.callback(),
                )
            if config.preprocess.refine_transforms:
                with _stage(f"{name} alignment", num_frames - 1) as bar:
                    chained = refine_to_reference(frames, chained, weight, model, progress=bar.callback())
            out.append(chained)
        return {"transforms": np.stack(out)}

    return cached(project.cache_dir / "transforms.npz", key, compute)["transforms"]
