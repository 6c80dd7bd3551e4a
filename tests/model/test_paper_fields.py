"""Tests of neural_atlases.model.paper_fields and of AtlasModel holding the paper's networks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neural_atlases.config import PRESETS, MLPConfig, ModelConfig
from neural_atlases.conventions import paper_squash_alpha, pixel_to_normalised
from neural_atlases.model.atlas_model import VideoShape
from neural_atlases.model.paper_fields import MLPAtlasField
from neural_atlases.training.sampler import FlowField, PixelSampler
from neural_atlases.training.variants import build_paper_model, model_from_meta, paper_geometry

T, H, W = 3, 12, 16
SMALL = ModelConfig(model="paper", atlas_alpha=False, mlp=MLPConfig(width=16))


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_paper_preset_networks_have_the_published_parameter_counts():
    model = build_paper_model(PRESETS["paper"].model, VideoShape(T, H, W))
    assert _count(model.mappings[1]) == 264_706  # foreground mapping
    assert _count(model.mappings[0]) == 133_122  # background mapping
    assert _count(model.atlases) == 416_379  # the one atlas network, shared by both layers
    assert _count(model.shares) == 402_945  # alpha
    assert _count(model) == 264_706 + 133_122 + 416_379 + 402_945


def test_the_atlas_network_is_shared_and_each_layer_reads_its_own_part():
    model = build_paper_model(SMALL, VideoShape(T, H, W))
    background, foreground = model.atlases
    assert background.network is foreground.network
    uv = torch.rand(50, 2) * 2 - 1
    with torch.no_grad():
        net = background.network
        torch.testing.assert_close(background(uv), 0.5 * (net(uv * 0.5 - 0.5) + 1))
        torch.testing.assert_close(foreground(uv), 0.5 * (net(uv * 0.5 + 0.5) + 1))


def test_paper_geometry_is_a_square_at_the_nominal_scale():
    g = paper_geometry((144, 256), ModelConfig(model="paper", atlas_scale=1.0))
    assert (g.atlas_height, g.atlas_width, g.scale) == (320, 320, 0.8)
    # frame pixels per atlas texel at uv = 0.8 (x, y): one
    assert 0.8 * (g.atlas_width - 1) / (256 - 1) == pytest.approx(1.0, abs=0.01)
    assert paper_geometry((4000, 3000), ModelConfig(model="paper")).atlas_width == 4096


def test_mlp_atlas_texture_is_what_forward_reads_at_texel_centres():
    model = build_paper_model(SMALL, VideoShape(T, H, W))
    atlas = model.atlases[1]
    assert isinstance(atlas, MLPAtlasField) and atlas.channels == 3
    side = atlas.size[0]
    with torch.no_grad():
        texture = atlas.texture()
        assert texture.shape == (side, side, 3)
        ys, xs = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
        texels = torch.stack([xs.reshape(-1), ys.reshape(-1)], -1).float()
        reads = atlas(pixel_to_normalised(texels, side, side))
    torch.testing.assert_close(texture.reshape(-1, 3), reads)
    assert float(texture.min()) >= 0.0 and float(texture.max()) <= 1.0


def test_mappings_are_bounded_and_shares_follow_the_paper_squash():
    model = build_paper_model(SMALL, VideoShape(T, H, W))
    fields = model.frame_pixels(1)
    for uv in fields["uv"]:
        assert uv.shape == (H * W, 2) and float(uv.abs().max()) < 1.0
    shares = fields["shares"]
    assert shares.shape == (H * W, 2)
    torch.testing.assert_close(shares.sum(-1), torch.ones(H * W))
    x = torch.arange(H * W) % W
    y = torch.arange(H * W) // W
    out = model.shares.at_pixels(x, y, torch.ones_like(x))
    torch.testing.assert_close(shares[:, 1:], paper_squash_alpha(out))
    recon = fields["recon"]
    expected = shares[:, :1] * fields["rgb"][0] + shares[:, 1:] * fields["rgb"][1]
    torch.testing.assert_close(recon, expected)


def test_alpha_network_reads_the_same_at_pixels_and_at_their_points():
    model = build_paper_model(SMALL, VideoShape(T, H, W))
    x, y, t = torch.tensor([0, 5, 15]), torch.tensor([0, 7, 11]), torch.tensor([0, 1, 2])
    xy = pixel_to_normalised(torch.stack([x, y], -1).float(), H, W)
    with torch.no_grad():
        torch.testing.assert_close(model.shares.at_pixels(x, y, t), model.shares.at_points(xy, t))


def _sampler() -> PixelSampler:
    frames = np.random.default_rng(0).integers(0, 256, (T, H, W, 3), dtype=np.uint8)
    zeros = np.zeros((T - 1, H, W, 2), np.float32)
    valid = np.ones((T - 1, H, W), bool)
    masks = np.zeros((T, H, W), np.float32)
    masks[:, 3:8, 4:10] = 1.0
    return PixelSampler(frames, masks, [FlowField(1, zeros, zeros, valid, valid)], torch.device("cpu"))


def test_paper_model_loss_terms_are_finite_and_reach_every_network():
    model = build_paper_model(SMALL, VideoShape(T, H, W))
    batch = _sampler().sample(64, 32, rigid_size=16, rigid_step=4)
    out = model.get_outputs(batch)
    terms = model.get_loss_dict(out, batch)
    expected = {"rgb", "gradient", "sparsity", "rigidity", "flow", "alpha_flow", "bootstrap"}
    assert set(terms) == expected | {"global_rigidity_background", "global_rigidity_foreground"}
    assert all(math.isfinite(float(v.detach())) for v in terms.values())
    sum(terms.values()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and bool(torch.isfinite(p.grad).all()), name
        assert float(p.grad.abs().sum()) > 0, name


def test_paper_model_rebuilds_from_its_meta_and_weights():
    model = build_paper_model(SMALL, VideoShape(T, H, W))
    again = model_from_meta(SMALL, model.meta())
    again.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(again.render_frame(2), model.render_frame(2))


def test_two_foreground_layers_take_a_softmax_over_raw_outputs():
    config = ModelConfig(model="paper", atlas_alpha=False, foreground_layers=2, mlp=MLPConfig(width=8))
    model = build_paper_model(config, VideoShape(T, H, W))
    assert len(model.mappings) == len(model.atlases) == 3
    shares = model.frame_pixels(0)["shares"]
    assert shares.shape == (H * W, 3)
    torch.testing.assert_close(shares.sum(-1), torch.ones(H * W))


def test_frame_maps_are_frame_pixels_uv_and_shares():
    model = build_paper_model(SMALL, VideoShape(T, H, W))
    uvs, shares, presence = model.frame_maps(2)
    reference = model.frame_pixels(2)
    for uv, expected in zip(uvs, reference["uv"], strict=True):
        torch.testing.assert_close(uv, expected, rtol=0, atol=0)
    torch.testing.assert_close(shares, reference["shares"], rtol=0, atol=0)
    assert presence.shape == (shares.shape[0], shares.shape[1] - 1)
