"""Tests of neural_atlases.model.fields and neural_atlases.model.atlas_model on a tiny clip."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neural_atlases.config import ModelConfig
from neural_atlases.conventions import ALPHA_EPS, layer_shares, pixel_to_normalised
from neural_atlases.model import fields
from neural_atlases.model.atlas_model import AtlasModel, LayerGeometry, VideoShape
from neural_atlases.model.batch import Batch
from neural_atlases.model.fields import AtlasField, MappingField, ShareField
from neural_atlases.training.sampler import SCRIBBLED_SHARE, FlowField, PixelSampler
from neural_atlases.training.variants import model_from_meta, new_model

T, H, W = 3, 12, 16  # the tiny clip: 3 frames of 16x12


def _pixels(height: int, width: int) -> torch.Tensor:
    """Every pixel centre ``[height * width, 2]`` (x, y), row-major."""
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], -1).float()


def _random_xy(n: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 2, generator=torch.Generator().manual_seed(seed)) * 2.0 - 1.0


def _translation(dx: float, dy: float) -> torch.Tensor:
    return torch.tensor([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


# -- MappingField ---------------------------------------------------------------------------------
@pytest.mark.parametrize("projective", [False, True])
def test_mapping_with_identity_transforms_and_zero_residuals_is_identity(projective):
    m = MappingField(torch.eye(3).expand(T, 3, 3).clone(), (H, W), [(3, 4), (5, 6)], 0.8, projective)
    xy = _random_xy(40)
    t = torch.arange(40) % T
    torch.testing.assert_close(m(xy, t), xy, rtol=0, atol=1e-6)


def test_mapping_translates_per_frame():
    transforms = torch.stack([_translation(0.1 * i, -0.2 * i) for i in range(T)])
    m = MappingField(transforms, (H, W), [(3, 4)], 1.0, projective=False)
    xy = _random_xy(30)
    t = torch.arange(30) % T
    expected = xy + torch.stack([0.1 * t.float(), -0.2 * t.float()], -1)
    torch.testing.assert_close(m(xy, t), expected, rtol=0, atol=1e-6)


def test_mapping_applies_a_general_affine_and_a_projective_matrix():
    a = torch.tensor([[1.2, -0.3, 0.05], [0.2, 0.9, -0.1], [0.0, 0.0, 1.0]])
    p = torch.tensor([[1.0, 0.1, 0.0], [0.0, 1.0, 0.2], [0.1, -0.05, 1.0]])
    xy = _random_xy(25, seed=2)
    t = torch.zeros(25, dtype=torch.long)
    homogeneous = torch.cat([xy, torch.ones(25, 1)], 1)
    for matrix, projective in ((a, False), (p, True), (2.0 * p, True)):  # a scaled matrix is the same
        m = MappingField(matrix[None], (H, W), [], 1.0, projective)
        q = homogeneous @ (matrix / matrix[2, 2]).T
        torch.testing.assert_close(m(xy, t), q[:, :2] / q[:, 2:], rtol=0, atol=1e-5)


def test_mapping_residual_is_added_in_frame_units():
    scale = 0.5
    m = MappingField(torch.eye(3).expand(T, 3, 3).clone(), (H, W), [(3, 4), (4, 5)], scale, False)
    with torch.no_grad():
        m.residuals[0].fill_(0.25)  # constant residuals add a constant offset, scaled
        m.residuals[1][..., 1].fill_(-0.5)
    xy = _random_xy(20, seed=3)
    t = torch.arange(20) % T
    expected = xy + scale * torch.tensor([0.25, 0.25 - 0.5])
    torch.testing.assert_close(m(xy, t), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("projective", [False, True])
def test_carry_moves_points_by_the_global_transforms_alone(projective):
    a = torch.tensor([[1.1, -0.2, 0.05], [0.15, 0.95, -0.1], [0.0, 0.0, 1.0]])
    b = torch.tensor([[0.9, 0.1, -0.2], [-0.1, 1.05, 0.3], [0.05 * projective, 0.0, 1.0]])
    m = MappingField(torch.stack([a, b, torch.eye(3)]), (H, W), [(3, 4)], 1.0, projective)
    with torch.no_grad():
        m.residuals[0].normal_()  # the residual plays no part
    xy = _random_xy(30, seed=5)
    t, t_next = torch.zeros(30, dtype=torch.long), torch.ones(30, dtype=torch.long)
    carried = m.carry(xy, t, t_next)
    torch.testing.assert_close(m.global_part(carried, t_next), m.global_part(xy, t), rtol=0, atol=1e-5)
    homogeneous = torch.cat([xy, torch.ones(30, 1)], 1).double()
    q = homogeneous @ (torch.linalg.inv(b.double()) @ a.double()).T
    torch.testing.assert_close(carried.double(), q[:, :2] / q[:, 2:], rtol=0, atol=1e-5)
    torch.testing.assert_close(m.carry(xy, t, t), xy, rtol=0, atol=1e-6)


def test_mapping_gradients_reach_transforms_and_residuals():
    m = MappingField(torch.eye(3).expand(T, 3, 3).clone(), (H, W), [(3, 4)], 1.0, True)
    m(_random_xy(10), torch.arange(10) % T).square().sum().backward()
    assert float(m.affine.grad.abs().sum()) > 0
    assert float(m.perspective.grad.abs().sum()) > 0
    assert float(m.residuals[0].grad.abs().sum()) > 0


# -- AtlasField -----------------------------------------------------------------------------------
def _texel_centres_uv(height: int, width: int) -> torch.Tensor:
    return pixel_to_normalised(_pixels(height, width), height, width)


@pytest.mark.parametrize("levels", [1, 2, 3])
@pytest.mark.parametrize("size", [(20, 30), (33, 17), (40, 64)])
def test_atlas_texture_is_what_forward_reads_at_texel_centres(levels, size):
    h, w = size
    atlas = AtlasField(h, w, levels)
    g = torch.Generator().manual_seed(levels)
    with torch.no_grad():
        for level in atlas.levels:
            level.copy_(torch.rand(level.shape, generator=g))
    assert len(atlas.levels) == min(levels, 3 if size == (40, 64) else 2)
    tex = atlas.texture()
    assert tex.shape == (h, w, 3)
    read = atlas(_texel_centres_uv(h, w))
    torch.testing.assert_close(read, tex.reshape(-1, 3), rtol=0, atol=1e-5)


@pytest.mark.parametrize("size", [(17, 33), (25, 41), (20, 30)])
def test_atlas_reads_each_level_where_they_align_and_equals_the_flattened_texture(size, monkeypatch):
    monkeypatch.setattr(fields, "LEVEL_READS_ABOVE", 0.0)  # level by level however small the atlas
    h, w = size
    atlas = AtlasField(h, w, 4)
    assert atlas.levels_aligned() == (size != (20, 30))  # (n - 1) a multiple of 8: every level on the finest
    g = torch.Generator().manual_seed(h)
    with torch.no_grad():
        for level in atlas.levels:
            level.copy_(torch.rand(level.shape, generator=g))
    uv = torch.rand(500, 2, generator=g) * 2.2 - 1.1  # between texels, and outside (clamped)
    torch.testing.assert_close(atlas(uv), atlas.read_flattened(uv), rtol=0, atol=1e-5)
    fast = torch.autograd.grad(atlas(uv).square().sum(), list(atlas.levels))
    plain = torch.autograd.grad(atlas.read_flattened(uv).square().sum(), list(atlas.levels))
    for a, b in zip(fast, plain, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-4)


def test_atlas_single_level_texture_is_the_level():
    atlas = AtlasField(9, 13, 1)
    with torch.no_grad():
        atlas.levels[0].copy_(torch.rand(9, 13, 3))
    torch.testing.assert_close(atlas.texture(), atlas.levels[0].detach())


def test_atlas_forward_between_texels_is_bilinear_in_the_texture():
    atlas = AtlasField(20, 20, 2)
    with torch.no_grad():
        for level in atlas.levels:
            level.copy_(torch.rand(level.shape))
    tex = atlas.texture().detach()
    # half-way between texel (3, 4) and (4, 4), and the middle of a 2 x 2 block
    pix = torch.tensor([[3.5, 4.0], [10.5, 7.5]])
    read = atlas(pixel_to_normalised(pix, 20, 20)).detach()
    torch.testing.assert_close(read[0], (tex[4, 3] + tex[4, 4]) / 2, rtol=0, atol=1e-5)
    torch.testing.assert_close(read[1], tex[7:9, 10:12].reshape(-1, 3).mean(0), rtol=0, atol=1e-5)


# -- ShareField -----------------------------------------------------------------------------------
@pytest.mark.parametrize("layers", [1, 2])
def test_shares_at_pixels_and_at_points_agree_at_integer_pixels(layers):
    logits = torch.randn(T, H, W, layers, generator=torch.Generator().manual_seed(layers))
    field = ShareField(logits)
    assert field.frame_hw == (H, W)
    g = torch.Generator().manual_seed(5)
    x = torch.randint(0, W, (60,), generator=g)
    y = torch.randint(0, H, (60,), generator=g)
    t = torch.randint(0, T, (60,), generator=g)
    at_pixels = field.at_pixels(x, y, t)  # raw logits: the model adds atlas alphas, then shares
    assert at_pixels.shape == (60, layers)
    torch.testing.assert_close(at_pixels, logits[t, y, x])
    assert layer_shares(at_pixels).shape == (60, layers + 1)
    xy = pixel_to_normalised(torch.stack([x, y], -1).float(), H, W)
    torch.testing.assert_close(field.at_points(xy, t), at_pixels, rtol=0, atol=1e-5)


# -- AtlasModel -----------------------------------------------------------------------------------
def _identity_model(layers: int = 1, **overrides) -> AtlasModel:
    """Identity mappings into atlases of the frame's size, at nominal scale 1: every mapping is an
    isometry."""
    config = ModelConfig(foreground_layers=layers, atlas_levels=2, residual_cells=(8, 4), **overrides)
    geometries = [LayerGeometry(H, W, 1.0) for _ in range(layers + 1)]
    return new_model(config, VideoShape(T, H, W), geometries)


def _frames(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (T, H, W, 3), dtype=np.uint8)


def _sampler(scribbles: bool = False) -> PixelSampler:
    zeros = np.zeros((T - 1, H, W, 2), np.float32)
    valid = np.ones((T - 1, H, W), bool)
    flows = [FlowField(1, zeros, zeros, valid, valid)]
    masks = np.zeros((T, H, W), np.float32)
    masks[:, 3:8, 4:10] = 1.0
    labels = None
    if scribbles:
        labels = np.full((T, H, W), -1)
        labels[0, :, :4] = 0
        labels[0, 4:6, 5:8] = 1
    return PixelSampler(_frames(), masks, flows, torch.device("cpu"), seed=0, scribbles=labels)


def _detached(terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach() for k, v in terms.items()}


EXPECTED_TERMS = {
    "rgb",
    "gradient",
    "sparsity",
    "rigidity",
    "flow",
    "alpha_flow",
    "bootstrap",
    "alpha_residual",
    "plate",
    "texture_checker",
}


def test_get_outputs_shapes():
    model = _identity_model()
    batch = _sampler().sample(32, 16, rigid_size=8, rigid_step=4)
    out = model.get_outputs(batch)
    b, f, g = 32, batch.flow_x.shape[0], 8
    assert out["recon"].shape == (3 * b, 3)
    assert out["shares"].shape == (3 * b, 2)
    assert out["flow_shares"].shape == out["flow_shares_next"].shape == (f, 2)
    for layer in range(2):
        assert out[f"uv_{layer}"].shape == (3 * b, 2)
        assert out[f"rgb_{layer}"].shape == (3 * b, 3)
        assert out[f"flow_uv_{layer}"].shape == out[f"flow_uv_next_{layer}"].shape == (f, 2)
        assert out[f"rigid_uv_{layer}"].shape == (3 * g, 2)


def test_identity_model_maps_each_pixel_to_its_own_position():
    model = _identity_model()
    batch = _sampler().sample(20, 8)
    out = model.get_outputs(batch)
    xy = pixel_to_normalised(torch.stack([batch.x, batch.y], -1).float(), H, W)
    torch.testing.assert_close(out["uv_0"][:20], xy, rtol=0, atol=1e-6)
    torch.testing.assert_close(out["uv_1"][:20], xy, rtol=0, atol=1e-6)


def test_get_loss_dict_keys_and_finite_terms():
    model = _identity_model()
    sampler = _sampler()
    batch = sampler.sample(64, 32)
    terms = _detached(model.get_loss_dict(model.get_outputs(batch), batch))
    assert set(terms) == EXPECTED_TERMS
    assert all(t.ndim == 0 and math.isfinite(float(t)) for t in terms.values())

    batch = sampler.sample(64, 32, rigid_size=16, rigid_step=4)
    terms = _detached(model.get_loss_dict(model.get_outputs(batch), batch))
    assert set(terms) == EXPECTED_TERMS | {"global_rigidity_background", "global_rigidity_foreground"}
    assert all(math.isfinite(float(t)) for t in terms.values())


def test_identity_model_has_no_rigidity_and_no_flow_loss_under_zero_flow():
    model = _identity_model()
    batch = _sampler().sample(64, 32, rigid_size=16, rigid_step=4)
    terms = _detached(model.get_loss_dict(model.get_outputs(batch), batch))
    assert float(terms["rigidity"]) == pytest.approx(0.0, abs=1e-4)
    assert float(terms["global_rigidity_background"]) == pytest.approx(0.0, abs=1e-4)
    assert float(terms["global_rigidity_foreground"]) == pytest.approx(0.0, abs=1e-4)
    assert float(terms["flow"]) == pytest.approx(0.0, abs=1e-4)
    assert float(terms["alpha_flow"]) == pytest.approx(0.0, abs=1e-5)


def test_rigidity_term_measures_a_stretched_mapping():
    model = _identity_model()
    with torch.no_grad():
        model.mappings[0].affine[:, :, :2] *= 2.0  # background stretched 2x: sqrt(2)(4 + 1/4) - 2 sqrt(2)
    batch = _sampler().sample(64, 32)
    terms = _detached(model.get_loss_dict(model.get_outputs(batch), batch))
    expected = math.sqrt(2.0) * (4.0 + 0.25) - 2.0 * math.sqrt(2.0)
    assert float(terms["rigidity"]) == pytest.approx(expected, rel=1e-3)


def test_zero_atlases_give_the_colour_energy_as_rgb_loss_and_no_sparsity():
    model = _identity_model()
    batch = _sampler().sample(64, 32)
    out = model.get_outputs(batch)
    terms = _detached(model.get_loss_dict(out, batch))
    assert float(out["recon"].detach().abs().max()) == 0.0
    target = torch.cat([batch.rgb, batch.rgb_dx, batch.rgb_dy])
    assert float(terms["rgb"]) == pytest.approx(float(target.square().mean()), rel=1e-5)
    assert float(terms["sparsity"]) == 0.0


def test_scribble_term_appears_with_scribbles_and_layers_count():
    model = _identity_model(layers=2)
    batch = _sampler(scribbles=True).sample(128, 32)
    assert batch.scribble is not None
    out = model.get_outputs(batch)
    assert out["shares"].shape == (3 * 128, 3)
    terms = _detached(model.get_loss_dict(out, batch))
    assert set(terms) == EXPECTED_TERMS | {"scribble", "hidden_flow"}
    assert all(math.isfinite(float(t)) for t in terms.values())


def _hidden_batch(t_next: int = 1) -> Batch:
    """Flow points of frame 0 inside the block where layer 2 covers layer 1 (``_hiding_model``)."""
    ys, xs = torch.meshgrid(torch.arange(4, 8), torch.arange(5, 10), indexing="ij")
    x, y = xs.reshape(-1), ys.reshape(-1)
    n = x.shape[0]
    z = torch.zeros(n, dtype=torch.long)
    return Batch(
        x=x, y=y, t=z, rgb=torch.zeros(n, 3), rgb_dx=torch.zeros(n, 3), rgb_dy=torch.zeros(n, 3),
        mask=torch.zeros(n), flow_x=x, flow_y=y, flow_t=z,
        flow_target=torch.stack([x, y], -1).float(), flow_t_next=z + t_next, flow_weight=torch.ones(n),
    )  # fmt: skip


def _hiding_model() -> AtlasModel:
    """Two foreground layers; on a block their atlas alphas say layer 1 is there (logit 4) behind
    layer 2 (logit 12), so about 98 % of layer 1 is hidden there (identity maps: texel = pixel)."""
    model = _identity_model(layers=2)
    with torch.no_grad():
        for layer, logit in ((1, 4.0), (2, 12.0)):
            alpha = model.atlases[layer].levels[0][..., 3]
            alpha.fill_(-12.0)
            alpha[3:9, 4:11] = logit
    return model


def test_hidden_share_is_the_layers_presence_less_what_shows():
    model = _hiding_model()
    batch = _hidden_batch()
    out = model.get_outputs(batch)
    total = 1.0 + math.exp(4.0) + math.exp(12.0)
    for layer, logit in ((0, 4.0), (1, 12.0)):
        presence, shown = 1.0 / (1.0 + math.exp(-logit)), math.exp(logit) / total
        expected = torch.full((20,), presence - shown)
        torch.testing.assert_close(out["hidden"][:, layer], expected, rtol=0, atol=1e-5)
    assert float(out["hidden"][:, 1].max()) < 1e-3  # of the front layer, almost nothing is hidden
    assert not out["hidden"].requires_grad


def test_hidden_flow_is_zero_for_global_motion_and_measures_a_residual_that_changes():
    model = _hiding_model()
    shift = torch.stack([_translation(0.1 * i, -0.05 * i) for i in range(T)])
    with torch.no_grad():
        for mapping in model.mappings:  # each layer moves by its own global transform
            mapping.affine.copy_(shift[:, :2])
    batch = _hidden_batch()
    terms = model.get_loss_dict(model.get_outputs(batch), batch)
    assert float(terms["hidden_flow"].detach()) == pytest.approx(0.0, abs=1e-4)
    with torch.no_grad():  # layer 1's residual moves by half a unit in frame 1 only
        model.mappings[1].residuals[0][1, ..., 0] += 0.5
    terms = model.get_loss_dict(model.get_outputs(batch), batch)
    expected = 0.5 * model.pixel_units(1)  # in frame pixels, on the hidden points of layer 1
    assert float(terms["hidden_flow"].detach()) == pytest.approx(expected, rel=1e-3)
    terms["hidden_flow"].backward()
    assert float(model.mappings[1].residuals[0].grad.abs().sum()) > 0


def test_one_foreground_layer_has_no_hidden_term():
    model = _identity_model(layers=1)
    batch = _sampler().sample(64, 32)
    out = model.get_outputs(batch)
    assert "hidden" not in out and "hidden_flow" not in model.get_loss_dict(out, batch)


def test_sampler_draws_some_base_pixels_among_the_scribbles():
    sampler = _sampler(scribbles=True)
    batch = sampler.sample(256, 32)
    k = int(256 * SCRIBBLED_SHARE)
    labels = sampler.scribbles[batch.t, batch.y, batch.x, 0].long()
    assert torch.equal(batch.scribble, labels)
    assert bool((batch.scribble[:k] >= 0).all())
    assert bool((batch.x < W - 1).all() and (batch.y < H - 1).all())
    plain = _sampler().sample(256, 32)  # without scribbles nothing is drawn among them
    assert plain.scribble is None and not torch.equal(plain.x[:k], batch.x[:k])


def test_loss_terms_backpropagate_to_every_kind_of_parameter():
    model = _identity_model()
    with torch.no_grad():
        for atlas in model.atlases:
            atlas.levels[0].uniform_(0.2, 0.8)
    batch = _sampler().sample(64, 32, rigid_size=8, rigid_step=4)
    terms = model.get_loss_dict(model.get_outputs(batch), batch)
    sum(terms.values()).backward()
    assert float(model.atlases[0].levels[0].grad.abs().sum()) > 0
    assert float(model.shares.logits.grad.abs().sum()) > 0
    assert float(model.mappings[0].affine.grad.abs().sum()) > 0
    for p in model.parameters():
        assert p.grad is None or bool(torch.isfinite(p.grad).all())


def test_hand_built_batch_recon_is_shares_times_atlas_colours():
    model = _identity_model()
    frame = torch.rand(H, W, 3)
    with torch.no_grad():
        model.atlases[0].levels[0].copy_(frame)  # same size as the frame: texel = pixel
        model.atlases[1].levels[0][..., :3].copy_(1.0 - frame)
        model.atlases[1].levels[0][..., 3:].zero_()  # the atlas alpha logit adds nothing here
        model.shares.logits.fill_(0.3)
    x, y, t = torch.tensor([0, 5, 14]), torch.tensor([0, 7, 10]), torch.tensor([0, 1, 2])
    z = torch.zeros(1, dtype=torch.long)
    batch = Batch(
        x=x, y=y, t=t,
        rgb=frame[y, x], rgb_dx=frame[y, x + 1], rgb_dy=frame[y + 1, x],
        mask=torch.zeros(3),
        flow_x=z, flow_y=z, flow_t=z, flow_target=torch.zeros(1, 2), flow_t_next=z + 1,
        flow_weight=torch.zeros(1),
    )  # fmt: skip
    out = model.get_outputs(batch)
    a = ALPHA_EPS + (1 - 2 * ALPHA_EPS) / (1 + math.exp(-0.3))
    expected = (1 - a) * frame[y, x] + a * (1 - frame[y, x])
    torch.testing.assert_close(out["recon"][:3].detach(), expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(
        out["recon"][3:6].detach(), (1 - a) * frame[y, x + 1] + a * (1 - frame[y, x + 1])
    )


def test_render_frame_of_an_identity_model_is_its_atlas():
    model = _identity_model()
    frame = torch.rand(H, W, 3)
    with torch.no_grad():
        model.atlases[0].levels[0].copy_(frame)
        model.atlases[1].levels[0][..., :3].copy_(frame)
    for t in range(T):
        torch.testing.assert_close(model.render_frame(t), frame, rtol=0, atol=1e-5)


def test_meta_rebuilds_the_same_model():
    model = _identity_model()
    with torch.no_grad():
        model.atlases[0].levels[0].uniform_()
    rebuilt = model_from_meta(model.config, model.meta())
    rebuilt.load_state_dict(model.state_dict())
    torch.testing.assert_close(rebuilt.render_frame(1), model.render_frame(1))


def test_wrong_number_of_geometries_is_an_error():
    with pytest.raises(ValueError, match="1 geometries for 2 layers"):
        new_model(ModelConfig(), VideoShape(T, H, W), [LayerGeometry(H, W, 1.0)])


@pytest.mark.parametrize("atlas_alpha", [True, False])
def test_frame_maps_are_frame_pixels_uv_and_shares(atlas_alpha):
    model = _identity_model(atlas_alpha=atlas_alpha)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    uvs, shares, presence = model.frame_maps(1)
    reference = model.frame_pixels(1)
    for uv, expected in zip(uvs, reference["uv"], strict=True):
        torch.testing.assert_close(uv, expected, rtol=0, atol=0)
    torch.testing.assert_close(shares, reference["shares"], rtol=0, atol=0)
    with torch.no_grad():  # a layer's own alpha: its atlas's, without the table, when it has one
        own = model.atlases[1](uvs[1])[:, 3:4] if atlas_alpha else model.shares.logits[1].reshape(-1, 1)
    torch.testing.assert_close(presence, torch.sigmoid(own), rtol=0, atol=1e-6)
