"""Random batches of pixels, drawn from tensors that stay on the training device."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import numpy as np
import torch

from neural_atlases.model.batch import Batch
from neural_atlases.model.grids import gather_pixels

SCRIBBLED_SHARE = 1.0 / 32.0
"""Share of each batch's base pixels drawn among the scribbled pixels, when there are any."""


@dataclass
class FlowField:
    """Flow between frames ``gap`` apart, forward and backward, with consistency masks.

    ``forward[i]`` moves frame ``i`` to frame ``i + gap``; ``backward[i]`` moves frame ``i + gap``
    back to frame ``i``. All ``[T - gap, H, W, ...]``.
    """

    gap: int
    forward: np.ndarray  # [T - gap, H, W, 2] float32
    backward: np.ndarray  # [T - gap, H, W, 2] float32
    forward_valid: np.ndarray  # [T - gap, H, W] bool
    backward_valid: np.ndarray  # [T - gap, H, W] bool


class FlowPoints(TypedDict):
    """The flow pairs of a batch (``Batch``'s ``flow_*`` fields)."""

    flow_x: torch.Tensor  # [F] long
    flow_y: torch.Tensor  # [F] long
    flow_t: torch.Tensor  # [F] long
    flow_target: torch.Tensor  # [F, 2] pixel position in frame flow_t_next
    flow_t_next: torch.Tensor  # [F] long
    flow_weight: torch.Tensor  # [F] 1 where forward and backward flow agree


class PixelSampler:
    """Draws ``Batch``es: base pixels with neighbours, flow pairs, and global rigidity points."""

    def __init__(
        self,
        frames: np.ndarray,  # [T, H, W, 3] uint8
        masks: np.ndarray,  # [T, H, W] float
        flows: list[FlowField],
        device: torch.device,
        seed: int = 0,
        scribbles: np.ndarray | None = None,  # [T, H, W] int, -1 where none
    ) -> None:
        self.num_frames, self.height, self.width = frames.shape[:3]
        self.device = device
        self.frames = torch.from_numpy(frames).to(device).float().div_(255.0)  # [T, H, W, 3]
        self.masks = torch.from_numpy(np.ascontiguousarray(masks, dtype=np.float32)).to(device)[..., None]
        self.flows = []
        for f in flows:
            if f.gap >= self.num_frames:
                continue
            # half precision: 0.03 px at 60 px of motion, and half the memory
            fw = torch.from_numpy(
                np.concatenate([f.forward, f.forward_valid[..., None]], -1).astype(np.float16)
            )
            bw = torch.from_numpy(
                np.concatenate([f.backward, f.backward_valid[..., None]], -1).astype(np.float16)
            )
            self.flows.append((f.gap, fw.to(device), bw.to(device)))  # [T - gap, H, W, 3] each
        self.scribbles = None
        self.scribbled = None
        if scribbles is not None:
            # int16 on the device (a quarter of int64's memory), widened per batch
            self.scribbles = torch.from_numpy(scribbles.astype(np.int16)).to(device)[..., None]
            t, y, x = np.nonzero(scribbles[:, : self.height - 1, : self.width - 1] >= 0)
            self.scribbled = torch.from_numpy(np.stack([x, y, t], -1)).to(device)  # [S, 3] x, y, t
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)

    def _randint(self, high: int, n: int) -> torch.Tensor:
        return torch.randint(0, max(high, 1), (n,), generator=self.generator, device=self.device)

    def _points(self, n: int, x_max: int, y_max: int, t_lo: int, t_hi: int) -> tuple[torch.Tensor, ...]:
        """``n`` pixels with ``x < x_max``, ``y < y_max``, ``t_lo <= t < t_hi``."""
        return self._randint(x_max, n), self._randint(y_max, n), self._randint(t_hi - t_lo, n) + t_lo

    def sample(self, batch_size: int, flow_size: int, rigid_size: int = 0, rigid_step: int = 0) -> Batch:
        """A batch of ``batch_size`` base pixels; with scribbles, ``SCRIBBLED_SHARE`` of them are
        drawn among the scribbled pixels (a few thin strokes would otherwise hardly be drawn)."""
        w, h, n = self.width, self.height, self.num_frames
        x, y, t = self._points(batch_size, w - 1, h - 1, 0, n)
        if self.scribbled is not None and len(self.scribbled):
            k = max(1, int(batch_size * SCRIBBLED_SHARE))
            pick = self.scribbled[self._randint(len(self.scribbled), k)]  # [k, 3]
            x, y, t = (torch.cat([pick[:, i], v[k:]]) for i, v in enumerate((x, y, t)))
        rgb = gather_pixels(self.frames, x, y, t)
        batch = Batch(
            x=x,
            y=y,
            t=t,
            rgb=rgb,
            rgb_dx=gather_pixels(self.frames, x + 1, y, t),
            rgb_dy=gather_pixels(self.frames, x, y + 1, t),
            mask=gather_pixels(self.masks, x, y, t)[:, 0],
            **self._flow_points(flow_size),
        )
        if self.scribbles is not None:
            batch.scribble = gather_pixels(self.scribbles, x, y, t)[:, 0].long()
        if rigid_size > 0:
            step = max(1, min(rigid_step, w - 1, h - 1))
            batch.rigid_x, batch.rigid_y, batch.rigid_t = self._points(rigid_size, w - step, h - step, 0, n)
            batch.rigid_step = step
        return batch

    def _flow_points(self, flow_size: int) -> FlowPoints:
        """Flow pairs, spread evenly over gaps and both directions."""
        parts: list[tuple[torch.Tensor, ...]] = []
        per = max(1, flow_size // max(1, 2 * len(self.flows)))
        for gap, fw, bw in self.flows:
            for field, sign in ((fw, 1), (bw, -1)):
                # forward: points of frames 0..T-gap-1; backward: points of frames gap..T-1
                i = self._randint(field.shape[0], per)
                x, y = self._randint(self.width, per), self._randint(self.height, per)
                f = gather_pixels(field, x, y, i).float()  # [per, 3]: dx, dy, valid
                t = i if sign > 0 else i + gap
                target = torch.stack([x, y], -1).float() + f[:, :2]
                parts.append((x, y, t, target, t + sign * gap, f[:, 2]))
        if not parts:  # a one-frame clip: a dummy pair with zero weight
            z = torch.zeros(1, dtype=torch.long, device=self.device)
            parts.append(
                (z, z, z, torch.zeros(1, 2, device=self.device), z, torch.zeros(1, device=self.device))
            )
        x, y, t, target, t_next, weight = (torch.cat(c) for c in zip(*parts, strict=True))
        return FlowPoints(
            flow_x=x, flow_y=y, flow_t=t, flow_target=target, flow_t_next=t_next, flow_weight=weight
        )
