"""What the model is evaluated at in a training step: a batch of pixels, flow pairs and rigidity
points (``training.sampler`` draws them)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Batch:
    """One training batch; all pixel coordinates are integers on the frame grid.

    Base points ``[B]`` have their right and lower neighbours inside the frame; ``rgb*`` are the
    frame colours there. Flow points ``[F]`` carry the position their flow lands on in frame
    ``flow_t_next``. Rigid points ``[G]`` have neighbours ``rigid_step`` pixels right and down.
    """

    x: torch.Tensor  # [B] long
    y: torch.Tensor  # [B] long
    t: torch.Tensor  # [B] long
    rgb: torch.Tensor  # [B, 3]
    rgb_dx: torch.Tensor  # [B, 3] colour at (x + 1, y)
    rgb_dy: torch.Tensor  # [B, 3] colour at (x, y + 1)
    mask: torch.Tensor  # [B] bootstrap mask in [0, 1]
    flow_x: torch.Tensor  # [F] long
    flow_y: torch.Tensor  # [F] long
    flow_t: torch.Tensor  # [F] long
    flow_target: torch.Tensor  # [F, 2] pixel position in frame flow_t_next
    flow_t_next: torch.Tensor  # [F] long
    flow_weight: torch.Tensor  # [F] 1 where forward and backward flow agree
    rigid_x: torch.Tensor | None = None  # [G] long
    rigid_y: torch.Tensor | None = None  # [G] long
    rigid_t: torch.Tensor | None = None  # [G] long
    rigid_step: int = 0
    scribble: torch.Tensor | None = None  # [B] long layer index, -1 where none

    def rigid_points(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """``(rigid_x, rigid_y, rigid_t)`` when the batch has rigid points, else None."""
        if self.rigid_x is None or self.rigid_y is None or self.rigid_t is None:
            return None
        return self.rigid_x, self.rigid_y, self.rigid_t
