"""Tests of neural_atlases.model.mlp: positional encoding and the coordinate MLP."""

from __future__ import annotations

import math

import pytest
import torch

from neural_atlases.model.mlp import CoordinateMLP, bfloat16_ok, positional_encoding


def test_positional_encoding_exact_values_and_order():
    x = torch.tensor([[0.25, -0.5]], dtype=torch.float64)
    out = positional_encoding(x, 2)
    assert out.shape == (1, 8)
    expected = []
    for j in range(2):  # per frequency: sin of every coordinate, then cos of every coordinate
        a = (2.0**j) * math.pi
        expected += [math.sin(a * 0.25), math.sin(a * -0.5), math.cos(a * 0.25), math.cos(a * -0.5)]
    torch.testing.assert_close(out, torch.tensor([expected], dtype=torch.float64))


def test_positional_encoding_with_no_frequencies_is_the_input():
    x = torch.rand(5, 3)
    assert positional_encoding(x, 0) is x


@pytest.mark.parametrize("frequencies", [1, 5, 10])
def test_positional_encoding_shape_and_batch_independence(frequencies):
    x = torch.rand(7, 3) * 2 - 1
    out = positional_encoding(x, frequencies)
    assert out.shape == (7, 2 * 3 * frequencies)
    rows = torch.cat([positional_encoding(x[i : i + 1], frequencies) for i in range(7)])
    torch.testing.assert_close(out, rows)
    assert float(out.abs().max()) <= 1.0


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_mlp_layer_sizes_with_skips():
    net = CoordinateMLP(2, 3, layers=8, width=16, frequencies=2, skips=(4, 7))
    fan_ins = [linear.in_features for linear in net.linears]
    encoded = 2 * 2 * 2
    assert fan_ins == [encoded, 16, 16, 16, 16 + encoded, 16, 16, 16 + encoded]
    assert [linear.out_features for linear in net.linears] == [16] * 7 + [3]


def test_mlp_output_is_tanh_bounded_or_raw():
    torch.manual_seed(0)
    x = torch.rand(100, 3) * 20
    with torch.no_grad():
        bounded = CoordinateMLP(3, 2, layers=3, width=8)(x)
    assert bounded.shape == (100, 2) and float(bounded.abs().max()) < 1.0
    raw = CoordinateMLP(3, 2, layers=3, width=8, output_tanh=False)
    with torch.no_grad():
        raw.linears[-1].bias.fill_(5.0)
        assert float(raw(x).min()) > 1.0


def test_mlp_forward_matches_a_plain_loop():
    torch.manual_seed(1)
    net = CoordinateMLP(2, 3, layers=5, width=8, frequencies=3, skips=(2, 4))
    x = torch.rand(10, 2)
    enc = positional_encoding(x, 3)
    h = enc
    for i, linear in enumerate(net.linears):
        if i in (2, 4):
            h = torch.cat([h, enc], -1)
        h = linear(h)
        if i < 4:
            h = torch.relu(h)
    torch.testing.assert_close(net(x), torch.tanh(h))


def test_mixed_precision_changes_nothing_off_cuda():
    torch.manual_seed(2)
    net = CoordinateMLP(3, 1, layers=4, width=8, frequencies=2, low_precision_safe=True)
    x = torch.rand(20, 3)
    before = net(x)
    net.mixed_precision = True
    assert not bfloat16_ok(torch.device("cpu"))
    torch.testing.assert_close(net(x), before, rtol=0, atol=0)


def test_mlp_gradcheck_float64():
    torch.manual_seed(3)
    net = CoordinateMLP(2, 2, layers=3, width=4, frequencies=1, skips=(2,)).double()
    x = torch.rand(3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(net, (x,))
