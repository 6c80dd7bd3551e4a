"""The paper model's fields: coordinate MLPs behind the same interface as the fast fields.

``AtlasModel`` reads every field the same way, whichever model it holds:

- a mapping: ``mapping(xy [N, 2], t [N]) -> uv [N, 2]``, normalised frame points and frame
  indices to the layer's normalised atlas coordinates;
- an atlas: ``atlas(uv [N, 2]) -> [N, C]`` (rgb, and for the fast model's foregrounds an alpha
  logit), ``atlas.channels`` and ``atlas.texture() -> [S_h, S_w, C]`` for export;
- the shares: ``at_pixels(x, y, t) -> [N, L]`` and ``at_points(xy, t) -> [N, L]``, turned into
  ``[N, L + 1]`` shares by the model (``conventions.paper_layer_shares`` here).

Each layer's atlas is a square of texels spanning ``uv`` in [-1, 1]^2 (the mappings' tanh range);
the one atlas network of the paper is shared by every layer, each in its own part of the
network's input square (``conventions.shared_atlas_position``).
"""

from __future__ import annotations

import torch
from torch import nn

from neural_atlases.config import MLPConfig
from neural_atlases.conventions import (
    frame_to_normalised_time,
    pixel_to_normalised,
    shared_atlas_position,
)
from neural_atlases.model.mlp import CoordinateMLP

TEXTURE_CHUNK = 65536
"""Texels evaluated at once when an MLP atlas is sampled into a texture."""


def _xyt(xy: torch.Tensor, t: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Normalised frame points ``[N, 2]`` and frame indices ``[N]`` to network input ``[N, 3]``."""
    return torch.cat([xy, frame_to_normalised_time(t, num_frames)[:, None].to(xy.dtype)], dim=1)


class MLPMappingField(nn.Module):
    """``M(x, y, t) -> uv``: a ReLU MLP on raw ``(x, y, t)``, tanh output, so ``uv`` in (-1, 1)."""

    def __init__(self, layers: int, width: int, num_frames: int) -> None:
        super().__init__()
        self.num_frames = num_frames
        self.network = CoordinateMLP(3, 2, layers, width)

    def forward(self, xy: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.network(_xyt(xy, t, self.num_frames))  # [N, 2]


class MLPAtlasField(nn.Module):
    """``C(uv) -> rgb`` for one layer: the shared atlas network read at the layer's position,
    ``rgb = 0.5 * (out + 1)`` of its tanh output."""

    def __init__(self, network: CoordinateMLP, layer: int, num_layers: int, side: int) -> None:
        super().__init__()
        self.network = network  # shared by every layer's field
        self.layer = layer
        self.num_layers = num_layers
        self.size = (side, side)

    @property
    def channels(self) -> int:
        return 3

    def forward(self, uv: torch.Tensor) -> torch.Tensor:
        position = shared_atlas_position(uv, self.layer, self.num_layers)
        return 0.5 * (self.network(position) + 1.0)  # [N, 3]

    def texture(self) -> torch.Tensor:
        """The network sampled at every texel centre of the layer's atlas: ``[S, S, 3]``."""
        h, w = self.size
        dev = next(self.network.parameters()).device
        ys, xs = torch.meshgrid(
            torch.arange(h, device=dev, dtype=torch.float32),
            torch.arange(w, device=dev, dtype=torch.float32),
            indexing="ij",
        )
        uv = pixel_to_normalised(torch.stack([xs.reshape(-1), ys.reshape(-1)], -1), h, w)  # [S * S, 2]
        rgb = torch.cat([self(chunk) for chunk in uv.split(TEXTURE_CHUNK)])
        return rgb.reshape(h, w, 3)


class MLPShareField(nn.Module):
    """The paper's alpha network ``(x, y, t) -> [N, L]``, with positional encoding.

    One foreground layer: the tanh output, which ``conventions.paper_layer_shares`` squashes into
    alpha. Several: raw logits (a softmax over the layers, background fixed at 0).
    """

    def __init__(self, mlp: MLPConfig, foreground_layers: int, num_frames: int, frame_hw: tuple[int, int]):
        super().__init__()
        self.num_frames = num_frames
        self.frame_hw = frame_hw
        self.network = CoordinateMLP(
            3,
            foreground_layers,
            mlp.alpha_layers,
            mlp.width,
            frequencies=mlp.alpha_frequencies,
            output_tanh=foreground_layers == 1,
            low_precision_safe=True,
        )

    def at_points(self, xy: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Outputs ``[N, L]`` at normalised points ``xy`` ``[N, 2]`` of frames ``t`` ``[N]``."""
        return self.network(_xyt(xy, t, self.num_frames))

    def at_pixels(self, x: torch.Tensor, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Outputs ``[N, L]`` at integer pixels ``x, y, t`` ``[N]``."""
        xy = pixel_to_normalised(torch.stack([x, y], -1).float(), *self.frame_hw)
        return self.at_points(xy, t)


def paper_fields(
    mlp: MLPConfig, foreground_layers: int, num_frames: int, frame_hw: tuple[int, int], sides: list[int]
) -> tuple[nn.ModuleList, nn.ModuleList, MLPShareField]:
    """The paper's networks for a clip: ``(mappings, atlases, shares)``, background first.

    ``sides[l]`` is the texel side of layer ``l``'s square atlas (what ``texture()`` samples).
    """
    num_layers = foreground_layers + 1
    mappings = nn.ModuleList(
        MLPMappingField(
            mlp.mapping_layers_background if layer == 0 else mlp.mapping_layers_foreground,
            mlp.width,
            num_frames,
        )
        for layer in range(num_layers)
    )
    network = CoordinateMLP(
        2,
        3,
        mlp.atlas_layers,
        mlp.width,
        frequencies=mlp.atlas_frequencies,
        skips=mlp.atlas_skips,
        low_precision_safe=True,
    )
    atlases = nn.ModuleList(
        MLPAtlasField(network, layer, num_layers, sides[layer]) for layer in range(num_layers)
    )
    return mappings, atlases, MLPShareField(mlp, foreground_layers, num_frames, frame_hw)
