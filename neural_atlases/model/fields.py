"""The fast model's fields: a mapping per layer, an atlas per layer, and the layer shares.

A field is only a network (here: grids and transforms); the model in ``atlas_model`` owns them.
All coordinates are normalised (``conventions``): frame points ``xy`` ``[N, 2]`` with frame
indices ``t`` ``[N]``, atlas points ``uv`` ``[N, 2]``.
"""

from __future__ import annotations

import torch
from torch import nn

from neural_atlases.conventions import uv_to_grid
from neural_atlases.model.grids import sample_image, sample_video, texel_pyramid_sizes
from neural_atlases.model.losses import sum_terms


class MappingField(nn.Module):
    """``M(x, y, t) -> uv``: a global transform per frame plus a smooth per-frame residual.

    ``uv = H_t (x, y, 1)`` (projective division) ``+ scale * R(x, y, t)``, where ``H_t`` is
    a ``3 x 3`` matrix per frame (its last row fixed to ``(0, 0, 1)`` unless ``projective``) and
    ``R = sum_k R_k`` of ``[T, h_k, w_k, 2]`` grids (coarse first), zero at the start. ``scale`` is
    the layer's nominal ``d uv / d xy``, so the residual is in frame units.
    """

    def __init__(
        self,
        transforms: torch.Tensor,  # [T, 3, 3]
        frame_hw: tuple[int, int],
        residual_sizes: list[tuple[int, int]],
        scale: float,
        projective: bool,
    ) -> None:
        super().__init__()
        transforms = transforms / transforms[:, 2:3, 2:3]
        self.frame_hw = frame_hw
        self.scale = scale
        self.affine = nn.Parameter(transforms[:, :2, :].clone())  # [T, 2, 3]
        perspective = transforms[:, 2, :2].clone() if projective else torch.zeros_like(transforms[:, 2, :2])
        self.perspective = nn.Parameter(perspective, requires_grad=projective)  # [T, 2]
        num_frames = transforms.shape[0]
        self.residuals = nn.ParameterList(
            [nn.Parameter(torch.zeros(num_frames, h, w, 2)) for h, w in residual_sizes]
        )

    def matrices(self) -> torch.Tensor:
        """The per-frame global transforms ``[T, 3, 3]``."""
        ones = torch.ones_like(self.perspective[:, :1])
        last = torch.cat([self.perspective, ones], dim=1)[:, None]  # [T, 1, 3]
        return torch.cat([self.affine, last], dim=1)

    def global_part(self, xy: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``H_t (x, y, 1)`` after projective division: ``[N, 2]``."""
        m = self.matrices().index_select(0, t)  # [N, 3, 3]
        p = torch.baddbmm(m[:, :, 2:], m[:, :, :2], xy[:, :, None])[:, :, 0]  # [N, 3]
        return p[:, :2] / p[:, 2:]

    @torch.no_grad()
    def carry(self, xy: torch.Tensor, t: torch.Tensor, t_next: torch.Tensor) -> torch.Tensor:
        """Where the global transforms alone carry points ``xy`` ``[N, 2]`` of frames ``t`` ``[N]``
        in frames ``t_next`` ``[N]``: ``H_{t_next}^-1 H_t (x, y, 1)``, ``[N, 2]`` (no gradient)."""
        uv = self.global_part(xy, t)
        inverse = torch.linalg.inv(self.matrices()).index_select(0, t_next)  # [N, 3, 3]
        p = torch.baddbmm(inverse[:, :, 2:], inverse[:, :, :2], uv[:, :, None])[:, :, 0]  # [N, 3]
        return p[:, :2] / p[:, 2:]

    def residual(self) -> torch.Tensor:
        """The residual grids summed at the finest one's resolution: ``[T, h, w, 2]``.

        Coarser grids are upsampled bilinearly (corners aligned), so one read of the sum equals
        the sum of reads at the finest grid's nodes; one gather per step instead of one per grid.
        """
        fine = self.residuals[-1]
        out = fine
        for grid in self.residuals[:-1]:
            up = nn.functional.interpolate(
                grid.permute(0, 3, 1, 2), size=fine.shape[1:3], mode="bilinear", align_corners=True
            )
            out = out + up.permute(0, 2, 3, 1)
        return out

    def forward(self, xy: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        uv = self.global_part(xy, t)
        if len(self.residuals):
            uv = uv + self.scale * sample_video(self.residual(), xy, t, self.frame_hw)
        return uv


LEVEL_READS_ABOVE = 32.0
"""An atlas with more texels than this many times the points read is read level by level (where
its levels align); a smaller one is flattened first, which is then cheaper. Measured a training
step: the synthetic scene's 345x705 atlas, flattened 77 ms, level by level 110; vtest's
617x2721 foreground atlas, flattened 695 ms, level by level 289 (about 25,000 points a read)."""


class AtlasField(nn.Module):
    """``C(uv) -> rgb`` (and, for a foreground, an alpha logit): a multi-resolution texture, the
    sum of its levels.

    Coarse levels carry gradients far; the finest holds the detail. ``texture()`` flattens the
    levels into one image at the finest resolution, once per step (cheap: the atlas has far fewer
    texels than a batch has reads), and every read samples it: what training sees is exactly
    what ``atlases`` writes and ``render`` reads.
    """

    def __init__(self, height: int, width: int, levels: int, channels: int = 3) -> None:
        super().__init__()
        self.size = (height, width)
        sizes = texel_pyramid_sizes(height, width, levels)
        self.levels = nn.ParameterList([nn.Parameter(torch.zeros(h, w, channels)) for h, w in sizes])

    @property
    def channels(self) -> int:
        """Channels of a read: 3 (rgb), or 4 with an alpha logit."""
        return self.levels[0].shape[-1]

    def forward(self, uv: torch.Tensor) -> torch.Tensor:
        grid = uv_to_grid(uv, *self.size)
        if self.size[0] * self.size[1] < LEVEL_READS_ABOVE * uv.shape[0] or not self.levels_aligned():
            return sample_image(self.texture(), grid)  # [N, C]
        # each level read where the points are: the work is in the points, not the texels
        return sum_terms(sample_image(level, grid) for level in self.levels)

    def read_flattened(self, uv: torch.Tensor) -> torch.Tensor:
        """Plain reference for ``forward``: ``texture()`` flattened, then read (``[N, C]``)."""
        return sample_image(self.texture(), uv_to_grid(uv, *self.size))

    def levels_aligned(self) -> bool:
        """Whether every texel of the finest level lies within one cell of each coarser level
        (each side ``(n - 1) = 2^k (n_k - 1)``; ``aligned_side`` makes such sizes). Then reading
        every level at a point and summing equals reading the flattened ``texture()`` there,
        exactly: bilinear reads of a bilinear upsample, inside one coarse cell, are the coarse
        level's own bilinear read."""
        h, w = self.size
        return all(
            (h - 1) == (lh - 1) << k and (w - 1) == (lw - 1) << k
            for k, (lh, lw) in enumerate(level.shape[:2] for level in self.levels)
        )

    def texture(self) -> torch.Tensor:
        """The flattened texture ``[S_h, S_w, C]``."""
        out = self.levels[0]
        for level in self.levels[1:]:
            up = nn.functional.interpolate(
                level.permute(2, 0, 1)[None], size=self.size, mode="bilinear", align_corners=True
            )
            out = out + up[0].permute(1, 2, 0)
        return out


class ShareField(nn.Module):
    """A full-resolution table of share logits, one channel per foreground layer: ``[T, H, W, L]``.

    The model adds each foreground atlas's alpha logit (read at the pixel's atlas position) and
    ``conventions.layer_shares`` turns the sum into ``[N, L + 1]`` shares, background first. With
    atlas alphas the table only holds what they cannot (a per-frame residual, kept small).
    """

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = nn.Parameter(logits)  # [T, H, W, L]

    @property
    def frame_hw(self) -> tuple[int, int]:
        return self.logits.shape[1], self.logits.shape[2]

    def at_pixels(self, x: torch.Tensor, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, L]`` at integer pixels ``x, y, t`` ``[N]``."""
        _, height, width, num_layers = self.logits.shape
        flat = (t * height + y) * width + x
        return self.logits.reshape(-1, num_layers).index_select(0, flat)

    def at_points(self, xy: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, L]`` at normalised points between pixels (bilinear)."""
        return sample_video(self.logits, xy, t, self.frame_hw)
