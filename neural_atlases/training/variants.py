"""Model variants: every kind of model, registered once, behind one small interface.

A variant says how its fields are made (``fields``), how a model starts from the prepared data
(``build``), what it supports (``uses_global_transforms``, ``realigns``) and what it needs of a
config (``config_checks``). ``VARIANTS`` maps ``config.model.model`` to it; code elsewhere asks
the variant, never the name. Two ship: ``fast`` (grids: per-frame transforms plus residual
grids, texel atlases, a share table) and ``paper`` (the paper's coordinate MLPs). A new variant is
one class here (or in its own module) and one line in ``VARIANTS``.

>>> sorted(VARIANTS)
['fast', 'paper']
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn

from neural_atlases.config import Config, ModelConfig
from neural_atlases.conventions import layer_shares, paper_layer_shares
from neural_atlases.errors import UserError
from neural_atlases.model.atlas_model import (
    AtlasModel,
    LayerFields,
    LayerGeometry,
    VideoShape,
    residual_grid_sizes,
)
from neural_atlases.model.fields import AtlasField, MappingField, ShareField
from neural_atlases.model.paper_fields import paper_fields
from neural_atlases.training.initialise import build_fast_model

Check = tuple[bool, str, str]
"""``(ok, config key, what it must be)``, as ``config.validate`` lists them."""


class ModelVariant:
    """The interface of a model variant; the defaults are the fast model's needs."""

    name = ""
    uses_global_transforms = True
    """Whether ``prepare`` fits each layer's per-frame global transforms (and aligns the
    foreground densely) for ``build``."""
    realigns = False
    """Whether training's realignment (``training.realign``: residual grids moved by flow) applies."""

    def fields(
        self,
        config: ModelConfig,
        video: VideoShape,
        geometries: list[LayerGeometry],
        transforms: torch.Tensor,  # [L + 1, T, 3, 3] normalised xy -> uv
        share_logits: torch.Tensor,  # [T, H, W, L]
    ) -> LayerFields:
        """Fresh fields for a clip (the weights are the variant's starting point or a
        checkpoint's, loaded after)."""
        raise NotImplementedError

    def build(
        self,
        config: ModelConfig,
        frames: np.ndarray,  # [T, H, W, 3] uint8
        layer_weights: np.ndarray | None,  # [L + 1, T, H, W], background first
        transforms: np.ndarray | None,  # [L + 1, T, 3, 3] frame t pixels -> frame 0 pixels
        corrections: list[tuple[np.ndarray, np.ndarray] | None] | None,
    ) -> AtlasModel:
        """The model a run starts from, built from the prepared data (``pipeline.prepare``)."""
        raise NotImplementedError

    def config_checks(self, config: Config) -> list[Check]:
        """What this variant needs of a config, beyond ``config.validate``'s checks."""
        return [(not config.losses.release_units, "losses.release_units", "false unless model is 'paper'")]


class FastVariant(ModelVariant):
    """Per-frame global transforms plus residual grids, texel-pyramid atlases, a share table:
    ``model.fields``; starts from the transforms with its atlases filled (``training.initialise``)."""

    name = "fast"
    realigns = True

    def fields(self, config, video, geometries, transforms, share_logits) -> LayerFields:
        hw = (video.height, video.width)
        cells = [config.background_residual_cells] + [config.residual_cells] * config.foreground_layers
        motions = [config.background_motion] + [config.foreground_motion] * config.foreground_layers
        mappings = nn.ModuleList(
            MappingField(
                transforms[i], hw, residual_grid_sizes(video, cells[i]), g.scale, motions[i] == "homography"
            )
            for i, g in enumerate(geometries)
        )
        alpha = 1 if config.atlas_alpha else 0
        atlases = nn.ModuleList(
            AtlasField(g.atlas_height, g.atlas_width, config.atlas_levels, 3 + (alpha if i else 0))
            for i, g in enumerate(geometries)
        )
        shares = ShareField(share_logits)
        return LayerFields(mappings, atlases, shares, layer_shares, layers_can_hide=True, texel_atlases=True)

    def build(self, config, frames, layer_weights, transforms, corrections) -> AtlasModel:
        make = functools.partial(new_model, config)
        return build_fast_model(config, frames, layer_weights, transforms, corrections, make)


def paper_geometry(frame_hw: tuple[int, int], config: ModelConfig) -> LayerGeometry:
    """A paper-model layer's atlas: a square spanning the mappings' tanh range [-1, 1]^2, with
    ``config.atlas_scale`` texels per frame pixel at the nominal ``uv = uv_scale * (x, y)``."""
    scale = config.mlp.uv_scale
    side = round(config.atlas_scale * (max(frame_hw) - 1) / scale) + 1
    side = max(2, min(side, config.max_atlas_side))
    return LayerGeometry(atlas_height=side, atlas_width=side, scale=scale)


def build_paper_model(config: ModelConfig, video: VideoShape) -> AtlasModel:
    """The paper's model: freshly initialised networks (seeded by the caller's ``torch`` seed);
    ``training.prefit`` then fits its mappings to ``uv = uv_scale * (x, y)``."""
    geometry = paper_geometry((video.height, video.width), config)
    return new_model(config, video, [geometry] * (config.foreground_layers + 1))


class PaperVariant(ModelVariant):
    """The paper's coordinate MLPs (``model.paper_fields``); starts from its networks alone, so
    transforms, layer weights and corrections are not used."""

    name = "paper"
    uses_global_transforms = False

    def fields(self, config, video, geometries, transforms, share_logits) -> LayerFields:
        sides = [g.atlas_width for g in geometries]
        hw = (video.height, video.width)
        layers = config.foreground_layers
        mappings, atlases, shares = paper_fields(config.mlp, layers, video.frames, hw, sides)
        return LayerFields(mappings, atlases, shares, paper_layer_shares)

    def build(self, config, frames, layer_weights, transforms, corrections) -> AtlasModel:
        return build_paper_model(config, VideoShape(*frames.shape[:3]))

    def config_checks(self, config: Config) -> list[Check]:
        """What the paper model needs of a config (``model.mlp``) and the fast model's options
        that it cannot take."""
        mlp = config.model.mlp
        layers = ("mapping_layers_background", "mapping_layers_foreground", "atlas_layers", "alpha_layers")
        return [
            *[(getattr(mlp, k) >= 2, f"model.mlp.{k}", "an integer >= 2") for k in layers],
            (mlp.width >= 1, "model.mlp.width", "an integer >= 1"),
            (
                all(1 <= s < mlp.atlas_layers for s in mlp.atlas_skips),
                "model.mlp.atlas_skips",
                f"layer indices in 1..{mlp.atlas_layers - 1}",
            ),
            (mlp.atlas_frequencies >= 0, "model.mlp.atlas_frequencies", "an integer >= 0"),
            (mlp.alpha_frequencies >= 0, "model.mlp.alpha_frequencies", "an integer >= 0"),
            (0 < mlp.uv_scale <= 1, "model.mlp.uv_scale", "in (0, 1] (tanh outputs)"),
            (
                not config.model.atlas_alpha,
                "model.atlas_alpha",
                "false with model 'paper' (its alpha is a network of (x, y, t))",
            ),
            (
                not config.train.realign_at and config.train.realign_final == 0,
                "train.realign_at",
                "empty, with train.realign_final 0, for model 'paper' (realignment moves the fast "
                "model's residual grids)",
            ),
        ]


VARIANTS: dict[str, ModelVariant] = {"fast": FastVariant(), "paper": PaperVariant()}
"""Every model variant, by ``config.model.model``."""


def variant_of(config: ModelConfig) -> ModelVariant:
    """The variant ``config.model`` names; ``UserError`` listing the known ones otherwise."""
    if config.model not in VARIANTS:
        raise UserError(f"config: 'model.model' must be one of {', '.join(VARIANTS)}, got {config.model!r}")
    return VARIANTS[config.model]


def check_model_config(config: Config) -> None:
    """``variant_of`` and the variant's ``config_checks``: ``UserError`` naming the first key that
    fails. Run before any heavy work (``train`` does, right after reading its config)."""
    for ok, key, expected in variant_of(config.model).config_checks(config):
        if not ok:
            raise UserError(f"config: '{key}' must be {expected}")


def new_model(
    config: ModelConfig,
    video: VideoShape,
    geometries: list[LayerGeometry],
    transforms: torch.Tensor | None = None,  # [L + 1, T, 3, 3], normalised xy -> uv
    share_logits: torch.Tensor | None = None,  # [T, H, W, L]
) -> AtlasModel:
    """A model of ``config``'s variant with fresh fields (identity transforms, zero logits unless
    given)."""
    num_layers = config.foreground_layers + 1
    if transforms is None:
        transforms = torch.eye(3).expand(num_layers, video.frames, 3, 3).clone()
    if share_logits is None:
        share_logits = torch.zeros(video.frames, video.height, video.width, config.foreground_layers)
    fields = variant_of(config).fields(config, video, geometries, transforms, share_logits)
    return AtlasModel(config, video, geometries, fields)


def model_from_meta(config: ModelConfig, meta: dict) -> AtlasModel:
    """The model that ``AtlasModel.meta()`` describes, with fresh fields (load its weights after)."""
    video, geometries = AtlasModel.video_and_geometries(meta)
    return new_model(config, video, geometries)


def build_model(
    config: ModelConfig,
    frames: np.ndarray,  # [T, H, W, 3] uint8
    layer_weights: np.ndarray | None,  # [L + 1, T, H, W], background first
    transforms: np.ndarray | None,  # [L + 1, T, 3, 3] frame t pixels -> frame 0 pixels
    corrections: list[tuple[np.ndarray, np.ndarray] | None] | None = None,
) -> AtlasModel:
    """The model a run starts from: ``config``'s variant's ``build``."""
    return variant_of(config).build(config, frames, layer_weights, transforms, corrections)
