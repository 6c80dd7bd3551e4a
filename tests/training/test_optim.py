"""Tests of neural_atlases.training.optim: the small Adam against torch.optim.Adam and against the
plain reference update."""

from __future__ import annotations

import subprocess
import sys

import torch

from neural_atlases.training.optim import Adam, adam_reference


def _problem(seed: int) -> tuple[list[torch.nn.Parameter], callable]:
    g = torch.Generator().manual_seed(seed)
    params = [
        torch.nn.Parameter(torch.randn(5, 3, generator=g)),
        torch.nn.Parameter(torch.randn(7, generator=g)),
    ]
    target = [torch.randn(5, 3, generator=g), torch.randn(7, generator=g)]

    def loss() -> torch.Tensor:
        return sum(((p - t) ** 3).abs().sum() for p, t in zip(params, target, strict=True))

    return params, loss


def _run(opt, params, loss, steps: int) -> list[torch.Tensor]:
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss().backward()
        opt.step()
    return [p.detach().clone() for p in params]


def test_matches_torch_adam_over_two_groups():
    ours_params, ours_loss = _problem(0)
    ref_params, ref_loss = _problem(0)
    ours = Adam(
        [{"params": [ours_params[0]], "lr": 0.05}, {"params": [ours_params[1]], "lr": 0.2}],
        (0.9, 0.99),
        1e-15,
    )
    ref = torch.optim.Adam(
        [{"params": [ref_params[0]], "lr": 0.05}, {"params": [ref_params[1]], "lr": 0.2}],
        betas=(0.9, 0.99),
        eps=1e-15,
    )
    for a, b in zip(_run(ours, ours_params, ours_loss, 25), _run(ref, ref_params, ref_loss, 25), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_fused_path_matches_the_plain_reference():
    params, loss = _problem(1)
    copies = [torch.nn.Parameter(p.detach().clone()) for p in params]
    opt = Adam([{"params": params, "lr": 0.1}], (0.9, 0.99), 1e-8)
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in copies]
    for step in range(1, 11):
        opt.zero_grad()
        loss().backward()
        grads = [p.grad.clone() for p in params]
        opt.step()
        with torch.no_grad():
            for c, g, (m, v) in zip(copies, grads, moments, strict=True):
                adam_reference(c, g, m, v, step, 0.1, (0.9, 0.99), 1e-8)
        for p, c in zip(params, copies, strict=True):
            torch.testing.assert_close(p.detach(), c.detach(), rtol=1e-5, atol=1e-6)


def test_state_dict_round_trip_continues_identically_and_loads_torch_adam_state():
    params, loss = _problem(2)
    opt = Adam([{"params": params, "lr": 0.1, "name": "all"}], (0.9, 0.99), 1e-15)
    _run(opt, params, loss, 5)
    saved = opt.state_dict()
    snapshot = [p.detach().clone() for p in params]
    after = _run(opt, params, loss, 5)
    with torch.no_grad():
        for p, s in zip(params, snapshot, strict=True):
            p.copy_(s)
    fresh = Adam([{"params": params, "lr": 0.5, "name": "all"}], (0.9, 0.99), 1e-15)
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == 0.1
    for a, b in zip(_run(fresh, params, loss, 5), after, strict=True):
        torch.testing.assert_close(a, b)
    # a checkpoint written with torch.optim.Adam loads as well
    ref_params, ref_loss = _problem(2)
    ref = torch.optim.Adam(ref_params, lr=0.1, betas=(0.9, 0.99), eps=1e-15)
    _run(ref, ref_params, ref_loss, 3)
    ours = Adam([{"params": ref_params, "lr": 0.1}], (0.9, 0.99), 1e-15)
    ours.load_state_dict(ref.state_dict())
    assert float(ours.state[ref_params[0]]["step"]) == 3.0


def test_does_not_import_dynamo():
    """The point of the class: torch.optim's constructor pulls in TorchDynamo and SymPy."""
    code = (
        "import sys, torch\n"
        "from neural_atlases.training.optim import Adam\n"
        "p = torch.nn.Parameter(torch.ones(4))\n"
        "opt = Adam([{'params': [p], 'lr': 0.1}])\n"
        "p.sum().backward(); opt.step()\n"
        "print('torch._dynamo' in sys.modules, 'sympy' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]
