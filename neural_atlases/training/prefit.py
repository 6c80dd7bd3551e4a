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

    Returns each layer's final mean error in frame pixels (on the last batch).
    """
    video = model.video
    device = next(model.parameters()).device
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    errors = []
    total = steps * model.num_layers
    for layer in range(model.num_layers):
        mapping = model.mappings[layer]
        optimiser = torch.optim.Adam(mapping.parameters(), lr=lr)
        error = torch.zeros(())
        for step in range(steps):
            if deadline is not None and time.monotonic() >= deadline:
                break
            x = torch.randint(0, video.width, (batch_size,), generator=generator, device=device)
            y = torch.randint(0, video.height, (batch_size,), generator=generator, device=device)
            t = torch.randint(0, video.frames, (batch_size,), generator=generator, device=device)
            xy = model.normalise(torch.stack([x, y], -1).float())
            error = prefit_error_px(model, layer, xy, t)
            optimiser.zero_grad(set_to_none=True)
            error.backward()
            optimiser.step()
            if progress:
                progress(layer * steps + step + 1, total)
        errors.append(float(error.detach()))
    return errors
