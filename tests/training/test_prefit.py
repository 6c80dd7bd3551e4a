"""Tests of neural_atlases.training.prefit: the paper's mapping pre-fit."""

from __future__ import annotations

import math
import time

import torch

from neural_atlases.config import MLPConfig, ModelConfig
from neural_atlases.model.atlas_model import VideoShape
from neural_atlases.training.prefit import prefit_error_px, prefit_mappings
from neural_atlases.training.variants import build_paper_model

VIDEO = VideoShape(4, 32, 48)


def _model():
    torch.manual_seed(0)
    return build_paper_model(ModelConfig(model="paper", mlp=MLPConfig(width=32)), VIDEO)


def _errors(model) -> list[float]:
    ys, xs = torch.meshgrid(torch.arange(VIDEO.height), torch.arange(VIDEO.width), indexing="ij")
    xy = model.normalise(torch.stack([xs.reshape(-1), ys.reshape(-1)], -1).float())
    t = torch.full((xy.shape[0],), 2)
    with torch.no_grad():
        return [float(prefit_error_px(model, layer, xy, t)) for layer in range(model.num_layers)]


def test_prefit_error_is_zero_for_the_exact_scaling():
    model = _model()
    xy = torch.rand(10, 2) * 2 - 1
    scale = model.geometries[0].scale
    model.mappings[0].forward = lambda xy, t: scale * xy  # an exact pre-fit
    assert float(prefit_error_px(model, 0, xy, torch.zeros(10, dtype=torch.long))) == 0.0


def test_prefit_fits_every_mapping_to_the_scaled_frame():
    model = _model()
    before = _errors(model)
    progress = []
    final = prefit_mappings(model, 100, 256, 3e-3, progress=lambda d, n: progress.append((d, n)))
    after = _errors(model)
    assert progress[-1] == (200, 200)
    assert all(a < 0.25 * b for a, b in zip(after, before, strict=True)), (before, after)
    assert all(a < 2.0 for a in after), after  # pixels
    assert len(final) == 2 and all(e < 3.0 for e in final)
    untouched = _model()  # the atlas and alpha networks are left as they were
    for a, b in zip(model.atlases.parameters(), untouched.atlases.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_prefit_stops_at_its_deadline():
    model = _model()
    progress = []
    errors = prefit_mappings(
        model, 50, 64, 1e-3, deadline=time.monotonic() - 1.0, progress=lambda d, n: progress.append(d)
    )
    assert progress == [] and all(math.isnan(e) for e in errors)
