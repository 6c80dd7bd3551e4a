"""Adam, small: torch's fused Adam kernel without ``torch.optim``.

Constructing a ``torch.optim`` optimiser imports TorchDynamo and SymPy (about 900 modules and
150 MB of resident memory on a CPU) that training never uses. This class calls the same fused
kernel (``torch._fused_adam_``, one pass over all parameters) where the device has it, and a plain
per-tensor update elsewhere. ``adam_reference`` is the textbook update, kept beside it and tested
against both.

State dicts follow ``torch.optim``'s layout (``state`` by parameter index, ``param_groups`` with
``params`` as indices), so checkpoints written with ``torch.optim.Adam`` load too.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

FUSED_DEVICES = ("cpu", "cuda")


def adam_reference(
    param: torch.Tensor,
    grad: torch.Tensor,
    exp_avg: torch.Tensor,
    exp_avg_sq: torch.Tensor,
    step: int,
    lr: float,
    betas: tuple[float, float],
    eps: float,
) -> None:
    """One Adam update of ``param`` in place (``step`` counts from 1), moments updated in place."""
    beta1, beta2 = betas
    exp_avg.mul_(beta1).add_(grad, alpha=1.0 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
    denom = (exp_avg_sq / (1.0 - beta2**step)).sqrt_().add_(eps)
    param.addcdiv_(exp_avg, denom, value=-lr / (1.0 - beta1**step))


class Adam:
    """Adam over parameter groups (dicts with ``params`` and ``lr``; other keys are kept)."""

    def __init__(
        self, groups: Iterable[dict], betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        self.param_groups = [{"betas": betas, "eps": eps, **g, "params": list(g["params"])} for g in groups]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def _state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        if p not in self.state:
            self.state[p] = {
                "step": torch.zeros((), dtype=torch.float32, device=p.device),
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
            }
        return self.state[p]

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            states = [self._state(p) for p in params]
            steps = [s["step"] for s in states]
            torch._foreach_add_(steps, 1.0)
            beta1, beta2 = group["betas"]
            by_device: dict[torch.device, list[int]] = {}
            for i, p in enumerate(params):
                by_device.setdefault(p.device, []).append(i)
            for device, index in by_device.items():
                ps = [params[i] for i in index]
                grads = [params[i].grad for i in index]
                avgs = [states[i]["exp_avg"] for i in index]
                sqs = [states[i]["exp_avg_sq"] for i in index]
                if device.type in FUSED_DEVICES and all(p.dtype == torch.float32 for p in ps):
                    torch._fused_adam_(
                        ps,
                        grads,
                        avgs,
                        sqs,
                        [],
                        [steps[i] for i in index],
                        lr=float(group["lr"]),
                        beta1=beta1,
                        beta2=beta2,
                        weight_decay=0.0,
                        eps=group["eps"],
                        amsgrad=False,
                        maximize=False,
                    )
                else:
                    for p, g, m, v, i in zip(ps, grads, avgs, sqs, index, strict=True):
                        step = int(steps[i].item())
                        adam_reference(p, g, m, v, step, float(group["lr"]), (beta1, beta2), group["eps"])

    # -- checkpoints ------------------------------------------------------------------------------
    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict:
        index = {p: i for i, p in enumerate(self._params())}
        groups, start = [], 0
        for group in self.param_groups:
            n = len(group["params"])
            groups.append(
                {**{k: v for k, v in group.items() if k != "params"}, "params": list(range(start, start + n))}
            )
            start += n
        state = {index[p]: {k: v.clone() for k, v in s.items()} for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        params = self._params()
        saved = state_dict["param_groups"]
        if [len(g["params"]) for g in saved] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError("the optimiser state does not match the model's parameter groups")
        for group, old in zip(self.param_groups, saved, strict=True):
            group.update({k: v for k, v in old.items() if k != "params"})
        self.state = {}
        for i, s in state_dict["state"].items():
            p = params[int(i)]
            step = s["step"]
            self.state[p] = {
                "step": torch.as_tensor(step, dtype=torch.float32).to(p.device).reshape(()),
                "exp_avg": s["exp_avg"].to(p.device, p.dtype),
                "exp_avg_sq": s["exp_avg_sq"].to(p.device, p.dtype),
            }
