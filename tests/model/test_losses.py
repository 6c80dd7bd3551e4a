"""Tests of neural_atlases.model.losses: each term on exact answers, plus a float64 gradcheck."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from neural_atlases.model.losses import (
    alpha_flow_loss,
    bootstrap_loss,
    finite_difference_jacobian,
    flow_loss,
    gradient_loss,
    rgb_loss,
    rigidity_loss,
    scribble_loss,
    sparsity_loss,
)

SQRT2 = math.sqrt(2.0)


def rotations(angles: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``[N, 2, 2]``."""
    c, s = torch.cos(angles), torch.sin(angles)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


# -- rigidity -------------------------------------------------------------------------------------
def test_rigidity_of_identity_is_zero():
    j = torch.eye(2).expand(10, 2, 2)
    assert float(rigidity_loss(j)) == pytest.approx(0.0, abs=1e-6)


def test_rigidity_of_pure_rotations_is_zero():
    j = rotations(torch.linspace(-3.0, 3.0, 25))
    assert float(rigidity_loss(j)) == pytest.approx(0.0, abs=1e-6)


def test_rigidity_of_a_reflection_is_zero():
    j = torch.tensor([[[1.0, 0.0], [0.0, -1.0]]])
    assert float(rigidity_loss(j)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("s", [0.5, 0.9, 1.0, 2.0, 3.0])
def test_rigidity_of_uniform_scale(s):
    j = s * rotations(torch.tensor([0.0, 0.3, 1.2], dtype=torch.float64))
    expected = SQRT2 * (s**2 + 1.0 / s**2) - 2.0 * SQRT2
    assert float(rigidity_loss(j)) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_rigidity_of_anisotropic_scale_matches_the_formula():
    # J = diag(a, b): J^T J = diag(a^2, b^2); ||.||_F + ||(.)^-1||_F
    a, b = 2.0, 0.5
    j = torch.tensor([[[a, 0.0], [0.0, b]]], dtype=torch.float64)
    expected = math.hypot(a**2, b**2) + math.hypot(1 / a**2, 1 / b**2) - 2 * SQRT2
    assert float(rigidity_loss(j)) == pytest.approx(expected, rel=1e-12)


def test_rigidity_weighted_mean():
    j = torch.stack([torch.eye(2), 2.0 * torch.eye(2), 3.0 * torch.eye(2)]).double()
    per = [0.0, SQRT2 * (4 + 1 / 4) - 2 * SQRT2, SQRT2 * (9 + 1 / 9) - 2 * SQRT2]
    w = torch.tensor([1.0, 3.0, 0.0], dtype=torch.float64)
    assert float(rigidity_loss(j, w)) == pytest.approx((per[0] + 3 * per[1]) / 4, rel=1e-12)
    assert float(rigidity_loss(j)) == pytest.approx(sum(per) / 3, rel=1e-12)


def test_rigidity_is_non_negative_on_random_jacobians():
    j = torch.randn(200, 2, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    j = j + 2.0 * torch.eye(2, dtype=torch.float64)  # keep them invertible
    per = torch.stack([rigidity_loss(j[i : i + 1]) for i in range(200)])
    assert bool((per >= -1e-9).all())
    assert float(rigidity_loss(j)) == pytest.approx(float(per.mean()), rel=1e-12)  # batch == loop


def test_rigidity_gradcheck_float64():
    g = torch.Generator().manual_seed(3)
    j = torch.eye(2, dtype=torch.float64) + 0.3 * torch.randn(6, 2, 2, generator=g, dtype=torch.float64)
    j.requires_grad_(True)
    w = torch.rand(6, generator=g, dtype=torch.float64) + 0.1
    assert torch.autograd.gradcheck(lambda x: rigidity_loss(x), (j,))
    assert torch.autograd.gradcheck(lambda x: rigidity_loss(x, w), (j,))


def test_rigidity_gradient_vanishes_at_a_rotation():
    j = rotations(torch.tensor([0.7], dtype=torch.float64)).requires_grad_(True)
    rigidity_loss(j).backward()
    assert float(j.grad.abs().max()) < 1e-6


# -- Jacobian -------------------------------------------------------------------------------------
def test_finite_difference_jacobian_of_a_linear_map_is_its_matrix():
    a = torch.tensor([[1.5, -0.25], [0.75, 2.0]], dtype=torch.float64)
    b = torch.tensor([0.3, -0.1], dtype=torch.float64)
    p = torch.randn(20, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    step = 0.125

    def m(q: torch.Tensor) -> torch.Tensor:
        return q @ a.T + b

    ex = torch.tensor([step, 0.0], dtype=torch.float64)
    ey = torch.tensor([0.0, step], dtype=torch.float64)
    j = finite_difference_jacobian(m(p), m(p + ex), m(p + ey), step)
    assert j.shape == (20, 2, 2)
    torch.testing.assert_close(j, a.expand(20, 2, 2), rtol=0, atol=1e-12)


def test_jacobian_of_an_isometric_map_has_zero_rigidity():
    r = rotations(torch.tensor([0.4]))[0]
    p = torch.rand(30, 2)
    j = finite_difference_jacobian(
        p @ r.T, (p + torch.tensor([1.0, 0.0])) @ r.T, (p + torch.tensor([0.0, 1.0])) @ r.T, 1.0
    )
    assert float(rigidity_loss(j)) == pytest.approx(0.0, abs=1e-5)


# -- flow -----------------------------------------------------------------------------------------
def test_flow_loss_is_zero_for_equal_inputs():
    uv = torch.randn(10, 2)
    assert float(flow_loss(uv, uv.clone(), torch.ones(10))) == pytest.approx(0.0, abs=1e-5)


def test_flow_loss_is_the_weighted_mean_distance():
    uv = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]], dtype=torch.float64)
    nxt = torch.tensor([[3.0, 4.0], [1.0, 2.0], [0.0, 0.0]], dtype=torch.float64)  # distances 5, 1, 2
    w = torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64)
    assert float(flow_loss(uv, nxt, w)) == pytest.approx((5 * 1 + 1 * 2) / 3)
    assert float(flow_loss(uv, nxt, torch.ones(3, dtype=torch.float64))) == pytest.approx(8 / 3)


def test_flow_loss_with_zero_weights_is_finite_and_zero():
    uv, nxt = torch.randn(4, 2), torch.randn(4, 2)
    out = flow_loss(uv, nxt, torch.zeros(4))
    assert math.isfinite(float(out)) and float(out) == 0.0


def test_flow_loss_gradient_is_finite_at_zero_distance():
    uv = torch.zeros(3, 2, requires_grad=True)
    flow_loss(uv, torch.zeros(3, 2), torch.ones(3)).backward()
    assert bool(torch.isfinite(uv.grad).all())


def test_alpha_flow_loss():
    s = torch.tensor([[0.2, 0.8], [1.0, 0.0]], dtype=torch.float64)
    n = torch.tensor([[0.5, 0.5], [1.0, 0.0]], dtype=torch.float64)
    assert float(alpha_flow_loss(s, s, torch.ones(2, dtype=torch.float64))) == 0.0
    w = torch.tensor([1.0, 3.0], dtype=torch.float64)
    assert float(alpha_flow_loss(s, n, w)) == pytest.approx(0.6 * 1 / 4)


# -- colours --------------------------------------------------------------------------------------
def test_rgb_loss():
    p = torch.zeros(2, 3)
    t = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    assert float(rgb_loss(p, t)) == pytest.approx((1 + 4) / 6)
    assert float(rgb_loss(t, t)) == 0.0


def test_gradient_loss_is_zero_for_equal_differences_and_exact_otherwise():
    d = torch.randn(5, 3)
    assert float(gradient_loss(d, d.clone(), -d, -d.clone())) == 0.0
    z = torch.zeros(2, 3)
    dx = torch.tensor([[3.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    dy = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    assert float(gradient_loss(dx, z, z, dy)) == pytest.approx(9 / 6 + 2 / 6)


def test_sparsity_loss():
    rgb = torch.rand(6, 3)
    assert float(sparsity_loss(rgb, torch.ones(6))) == 0.0
    c = torch.tensor([[1.0, 2.0, 2.0], [0.0, 0.0, 0.0]])  # ||c||^2 = 9, 0
    assert float(sparsity_loss(c, torch.tensor([0.5, 0.0]))) == pytest.approx((9 * 0.25 + 0) / 2)
    assert float(sparsity_loss(c, torch.zeros(2))) == pytest.approx(9 / 2)


def test_bootstrap_loss_matches_torch_bce():
    g = torch.Generator().manual_seed(0)
    alpha = torch.rand(50, generator=g) * 0.98 + 0.01
    mask = (torch.rand(50, generator=g) > 0.5).float()
    torch.testing.assert_close(bootstrap_loss(alpha, mask), F.binary_cross_entropy(alpha, mask))
    soft = torch.rand(50, generator=g)
    torch.testing.assert_close(bootstrap_loss(alpha, soft), F.binary_cross_entropy(alpha, soft))


def test_bootstrap_loss_is_finite_at_zero_and_one():
    alpha = torch.tensor([0.0, 1.0], requires_grad=True)
    out = bootstrap_loss(alpha, torch.tensor([1.0, 0.0]))
    out.backward()
    assert math.isfinite(float(out.detach())) and bool(torch.isfinite(alpha.grad).all())


def test_scribble_loss_ignores_unlabelled_points():
    shares = torch.tensor([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8], [0.9, 0.05, 0.05]], dtype=torch.float64)
    labels = torch.tensor([1, -1, 0])
    expected = -(math.log(0.25) + math.log(0.9)) / 2
    assert float(scribble_loss(shares, labels)) == pytest.approx(expected)
    changed = shares.clone()
    changed[1] = torch.tensor([0.3, 0.3, 0.4], dtype=torch.float64)  # the unlabelled row does not count
    assert float(scribble_loss(changed, labels)) == pytest.approx(expected)


def test_scribble_loss_with_no_labels_is_zero_with_a_gradient_graph():
    shares = torch.full((4, 2), 0.5, requires_grad=True)
    out = scribble_loss(shares, torch.full((4,), -1))
    assert float(out.detach()) == 0.0
    out.backward()
    assert float(shares.grad.abs().sum()) == 0.0


def test_scribble_loss_perfect_shares_give_zero():
    shares = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert float(scribble_loss(shares, torch.tensor([0, 1]))) == pytest.approx(0.0, abs=1e-6)


def test_checker_loss_sees_the_weave_alone():
    from neural_atlases.model.losses import checker_loss

    ys, xs = torch.meshgrid(torch.arange(6.0), torch.arange(8.0), indexing="ij")
    smooth = torch.stack([xs * 0.1, ys * 0.05 + 0.2, torch.full_like(xs, 0.5)], -1)  # linear
    assert checker_loss(smooth).item() == pytest.approx(0.0, abs=1e-12)
    weave = smooth + 0.04 * ((xs + ys) % 2)[..., None]  # the [[+, -], [-, +]] pattern
    assert checker_loss(weave).item() == pytest.approx((0.04 / 2) ** 2)  # |a - b - c + d| / 4 = 0.02
    texture = weave.clone().requires_grad_(True)
    checker_loss(texture).backward()
    assert texture.grad is not None and texture.grad.abs().sum() > 0


def test_plate_loss_only_where_the_masks_see_a_subject():
    from neural_atlases.model.losses import plate_loss

    plate = torch.tensor([[0.2, 0.4, 0.6], [0.5, 0.5, 0.5], [0.1, 0.1, 0.1]])
    background = plate + torch.tensor([[0.1, 0.0, 0.0], [0.3, 0.3, 0.3], [0.0, 0.0, 0.0]])
    assert plate_loss(plate, plate, torch.ones(3)).item() == 0.0  # at its first fill
    mask = torch.tensor([1.0, 0.0, 0.5])  # the second pixel shows background only: free there
    assert plate_loss(background, plate, mask).item() == pytest.approx(0.1**2 / 9)
    moved = background.clone().requires_grad_(True)
    plate_loss(moved, plate, mask).backward()
    assert moved.grad is not None and moved.grad[1].abs().sum() == 0 and moved.grad[0, 0] > 0
