"""The configuration's sections: frozen, nested dataclasses, one docstring per field."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    """How masks are made when the project has none (its own masks/ always win): a name in the
    mask backends' registry (``preprocess.mask_names.MASK_BACKENDS``, each with a line of help:
    ``auto``, the default, picks the best of the pretrained models, fetched on first use), or
    ``anything`` or a COCO class name such as ``person`` (Mask R-CNN)."""
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
    """Number of foreground layers (each with its own mapping and atlas). 0: one for each separate
    subject the masks show (``preprocess.layer_split.instance_seeds``: several walkers, each with
    its own atlas), at most ``max_foreground_layers``; with scribbles, one for each layer they mark."""
    max_foreground_layers: int = 4
    """The most foreground layers ``foreground_layers: 0`` makes (each costs about as much a step as
    the background)."""
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
    texture_checker: float = 1000.0
    """Squared texel-level weave of each atlas's finest level (``losses.checker_loss``), for models
    whose atlases are free texels: what keeps texels that the frames do not pin from alternating
    (carphone's background atlas: checker 5.6 without it, 1.4 with it, reconstruction 32.9 dB)."""
    plate: float = 5000.0
    """Squared distance of the background's colour from its first fill (the frames averaged with
    weights 1 - mask) where the masks see a subject (``losses.plate_loss``), for models whose
    atlases are free texels: what keeps a subject out of the background and its clean plate (Big
    Buck Bunny 0:70 at 384x216, 4 minutes, ISNet masks: the bunny ghosted into the background
    atlas and stayed in ``render -r foreground`` without it; gone with it)."""
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
