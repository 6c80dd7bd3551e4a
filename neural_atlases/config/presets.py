"""Named configurations (``configs/*.json`` hold the same values for users to copy)."""

from __future__ import annotations

from dataclasses import replace

from neural_atlases.config.schema import Config, LossConfig, ModelConfig, PreprocessConfig, TrainConfig

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
        texture_checker=0.0,  # its atlas is a network: no free texels
        plate=0.0,  # nor a first fill
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
