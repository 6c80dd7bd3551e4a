"""The paper's field components: positional encoding and a coordinate MLP.

The paper's networks (METHOD.md) are ReLU MLPs with tanh outputs; the atlas and the alpha
networks read their input through a positional encoding of ``2^j * pi`` frequencies, and the atlas
network feeds the encoded input again to some of its layers (skips).
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn


def positional_encoding(x: torch.Tensor, frequencies: int) -> torch.Tensor:
    """``[N, D]`` -> ``[N, 2 * D * frequencies]``: ``sin`` and ``cos`` of ``2^j * pi * x``.

    Per frequency ``j`` (lowest first): ``sin`` of every coordinate, then ``cos`` of every coordinate.
    The raw input is not included (the paper's encoding). ``frequencies == 0`` returns ``x``.

    >>> positional_encoding(torch.tensor([[0.5, 0.0]]), 1)
    tensor([[ 1.0000e+00,  0.0000e+00, -4.3711e-08,  1.0000e+00]])
    """
    if frequencies == 0:
        return x
    bands = (2.0 ** torch.arange(frequencies, device=x.device, dtype=x.dtype)) * math.pi  # [F]
    proj = x[:, None, :] * bands[None, :, None]  # [N, F, D]
    return torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1).reshape(x.shape[0], -1)


def bfloat16_ok(device: torch.device) -> bool:
    """Whether autocast to bfloat16 is both possible and worth it on ``device`` (CUDA with bf16)."""
    return device.type == "cuda" and _cuda_bf16(device.index)


@functools.cache
def _cuda_bf16(index: int | None) -> bool:
    with torch.cuda.device(index):
        return torch.cuda.is_bf16_supported()


class CoordinateMLP(nn.Module):
    """``[N, D]`` coordinates -> ``[N, out]``: optional positional encoding, ``layers`` linear
    layers of ``width`` units with ReLU between them, the encoded input concatenated again before
    each layer in ``skips``, and ``tanh`` on the output.

    ``low_precision_safe`` marks a network whose outputs tolerate bfloat16 (colours, alphas; not
    mappings, whose 1-pixel finite differences need float32). Where it is set and
    ``mixed_precision`` is switched on, the hidden layers run under ``torch.autocast`` to bfloat16
    on CUDA; the output layer always runs in float32.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        layers: int,
        width: int,
        frequencies: int = 0,
        skips: tuple[int, ...] = (),
        output_tanh: bool = True,
        low_precision_safe: bool = False,
    ) -> None:
        super().__init__()
        self.frequencies = frequencies
        self.skips = frozenset(skips)
        self.output_tanh = output_tanh
        self.low_precision_safe = low_precision_safe
        self.mixed_precision = False
        encoded = 2 * in_dim * frequencies if frequencies else in_dim
        self.linears = nn.ModuleList()
        for i in range(layers):
            fan_in = encoded if i == 0 else width + (encoded if i in self.skips else 0)
            self.linears.append(nn.Linear(fan_in, out_dim if i == layers - 1 else width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        encoded = positional_encoding(x, self.frequencies)  # [N, E]
        low = self.mixed_precision and self.low_precision_safe and bfloat16_ok(x.device)
        h = encoded
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=low):
            for i, linear in enumerate(self.linears[:-1]):
                if i in self.skips:
                    h = torch.cat([h, encoded.to(h.dtype)], dim=-1)
                h = torch.relu(linear(h))  # [N, width]
        h = h.float()
        if len(self.linears) - 1 in self.skips:
            h = torch.cat([h, encoded], dim=-1)
        out = self.linears[-1](h)  # [N, out]
        return torch.tanh(out) if self.output_tanh else out
