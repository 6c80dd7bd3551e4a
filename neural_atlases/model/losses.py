"""The paper's loss terms, as pure functions of tensors.

The model computes the tensors (colours, mappings, shares); the trainer weighs and sums the terms
in one place. Each function returns a scalar and is tested on exact answers.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Iterable

import torch
import torch.nn.functional as F

_RIGID_MIN = 2.0 * math.sqrt(2.0)  # ||I||_F + ||I^-1||_F for 2 x 2: the value of any isometry


def sum_terms(terms: Iterable[torch.Tensor]) -> torch.Tensor:
    """The sum of one or more tensors, added left to right as ``sum()`` adds them, but without its
    ``0`` start: the result is a tensor (what a loss's ``backward()`` needs), not ``Tensor | int``."""
    return functools.reduce(operator.add, terms)


def _weighted_mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return values.mean()
    return (values * weight).sum() / weight.sum().clamp_min(1e-6)


def rgb_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of colours ``[N, 3]`` (averaged over points and channels)."""
    return (pred - target).square().mean()


def gradient_loss(
    pred_dx: torch.Tensor, target_dx: torch.Tensor, pred_dy: torch.Tensor, target_dy: torch.Tensor
) -> torch.Tensor:
    """Squared error of x and y finite differences ``[N, 3]`` of reconstruction vs frame."""
    return (pred_dx - target_dx).square().mean() + (pred_dy - target_dy).square().mean()


def sparsity_loss(foreground_rgb: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Foreground atlas colour where the foreground is absent: mean ``||C_f * (1 - alpha)||^2``.

    Args:
        foreground_rgb: ``[N, 3]`` colours read from a foreground atlas.
        alpha: ``[N]`` that layer's share of each point.
    """
    return (foreground_rgb * (1.0 - alpha)[:, None]).square().sum(-1).mean()


def finite_difference_jacobian(
    uv: torch.Tensor, uv_dx: torch.Tensor, uv_dy: torch.Tensor, step: float
) -> torch.Tensor:
    """Jacobian ``[N, 2, 2]`` of a mapping from its values at p, p + (step, 0), p + (0, step).

    Columns are d/dx and d/dy: ``J[:, :, 0] = (uv_dx - uv) / step``.
    """
    return torch.stack([(uv_dx - uv) / step, (uv_dy - uv) / step], dim=-1)


def rigidity_loss(jacobian: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """The paper's rigidity term ``||J^T J||_F + ||(J^T J)^-1||_F``, shifted so isometries score 0.

    Args:
        jacobian: ``[N, 2, 2]``, already divided by the layer's nominal scale, so that a mapping
            that neither stretches nor shrinks the frame has rotations for Jacobians.
        weight: optional ``[N]`` weights.
    """
    jtj = jacobian.transpose(1, 2) @ jacobian  # [N, 2, 2]
    a, b, c, d = jtj[:, 0, 0], jtj[:, 0, 1], jtj[:, 1, 0], jtj[:, 1, 1]
    det = (a * d - b * c).clamp_min(1e-8)
    norm = jtj.square().sum((1, 2)).clamp_min(1e-12).sqrt()
    inv_norm = norm / det  # ||adj(A)||_F == ||A||_F for 2 x 2
    return _weighted_mean(norm + inv_norm - _RIGID_MIN, weight)


def flow_loss(uv: torch.Tensor, uv_next: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Where a point lands in the atlas vs where its flow-matched point lands: weighted mean of
    ``||uv - uv_next||`` (``[N, 2]`` each, ``weight`` ``[N]``)."""
    dist = (uv - uv_next).square().sum(-1).clamp_min(1e-12).sqrt()
    return _weighted_mean(dist, weight)


def alpha_flow_loss(shares: torch.Tensor, shares_next: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """L1 disagreement of layer shares ``[N, K]`` at flow-matched points, weighted by ``[N]``."""
    return _weighted_mean((shares - shares_next).abs().sum(-1), weight)


def bootstrap_loss(alpha: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of a foreground alpha ``[N]`` in (0, 1) against a mask ``[N]`` in [0, 1]."""
    return F.binary_cross_entropy(alpha.clamp(1e-6, 1 - 1e-6), mask)


def plate_loss(background: torch.Tensor, plate: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Squared distance ``[N, 3]`` of the background's colour from its first fill, weighted by the
    masks ``[N]`` in [0, 1]: where a subject covers the background, the background is seen (if at
    all) through a small share, and Adam, whose steps do not shrink with the gradient, would
    otherwise move those texels as far as well-seen ones, towards whatever makes up the subject's
    error: a ghost of the subject in the clean plate. Zero where the masks see no subject."""
    return (mask[:, None] * (background - plate).square()).mean()


def checker_loss(texture: torch.Tensor) -> torch.Tensor:
    """Mean squared response of a texture ``[S_h, S_w, C]`` to ``[[1, -1], [-1, 1]] / 4``: the
    texel-level weave that bilinear reads at one phase cannot see, so that nothing else pins
    (METHOD.md). Zero for any texture that is constant or linear along each axis."""
    weave = texture[:-1, :-1] - texture[:-1, 1:] - texture[1:, :-1] + texture[1:, 1:]  # [S_h-1, S_w-1, C]
    return (weave / 4.0).square().mean()


def scribble_loss(shares: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of layer shares ``[N, K]`` against scribbled layer indices ``[N]`` (-1: none)."""
    valid = labels >= 0
    if not bool(valid.any()):
        return shares.sum() * 0.0
    picked = shares[valid].gather(1, labels[valid, None])[:, 0]
    return -(picked.clamp_min(1e-6).log()).mean()
