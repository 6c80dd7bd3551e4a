"""The paper's mapping pre-fit: each mapping network first fitted to ``uv = s * (x, y)``.

Randomly initialised mapping MLPs fold the video onto a small part of the atlas; the paper first
fits each of them, alone, to a plain scaling of the frame (``s = model.mlp.uv_scale``, 0.8) so the
atlases start unfolded. The loss is the paper's: the mean distance ``||M(p) - s * (x, y)||`` over
a batch of random pixels of random frames.
"""

from __future__ import annotations

import time

import torch

from neural_atlases.model.atlas_model import AtlasModel
from neural_atlases.progress import ProgressFn


def prefit_error_px(model: AtlasModel, layer: int, xy: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Mean distance, in frame pixels at the nominal scale, of a mapping from ``uv = s * (x, y)``
    at normalised points ``xy`` ``[N, 2]`` of frames ``t`` ``[N]``."""
    scale = model.geometries[layer].scale
    uv = model.mappings[layer](xy, t)
    return (uv - scale * xy).norm(dim=1).mean() * model.pixel_units(layer)


def prefit_mappings(
    model: AtlasModel,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int = 0,
    deadline: float | None = None,
    progress: ProgressFn | None = None,
) -> list[float]:
    """Fit every mapping network to ``uv = s * (x, y)`` for ``steps`` Adam steps of
    ``batch_size`` random pixels each (stopping early at ``time.monotonic() >= deadline``).

    Returns each layer's mean error in frame pixels on its last batch (NaN if none ran).
    """
    video = model.video
    device = next(model.parameters()).device
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    optimisers = [torch.optim.Adam(m.parameters(), lr=lr) for m in model.mappings]
    errors = [float("nan")] * model.num_layers
    for step in range(steps):  # the layers in turn, so a deadline cuts them all alike
        if deadline is not None and time.monotonic() >= deadline:
            break
        for layer, optimiser in enumerate(optimisers):
            x = torch.randint(0, video.width, (batch_size,), generator=generator, device=device)
            y = torch.randint(0, video.height, (batch_size,), generator=generator, device=device)
            t = torch.randint(0, video.frames, (batch_size,), generator=generator, device=device)
            xy = model.normalise(torch.stack([x, y], -1).float())
            error = prefit_error_px(model, layer, xy, t)
            optimiser.zero_grad(set_to_none=True)
            error.backward()
            optimiser.step()
            errors[layer] = float(error.detach())
        if progress:
            progress((step + 1) * model.num_layers, steps * model.num_layers)
    return errors
