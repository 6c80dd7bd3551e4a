"""Realignment: each frame's foreground pulled onto what the atlas shows, by optical flow.

Mid-training, the reconstruction of frame ``t`` is the atlas's consensus of every frame; where a
mapping is off, the frame's content sits a little away from where the reconstruction draws it.
DIS flow between the two (short, between near-identical images, so sub-pixel accurate) says by
how much, and the layer's residual grid for that frame is moved to close the gap:
``M(p) -> M(p - f(p))``, to first order ``M(p) - J(p) f(p)`` with ``J`` the mapping's Jacobian.
Every frame is pulled toward the same consensus, so frames agree with each other, which is what
an edit needs.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch

from neural_atlases.conventions import pixels_per_unit
from neural_atlases.model.atlas_model import AtlasModel
from neural_atlases.model.fields import MappingField
from neural_atlases.preprocess.align import fit_grid
from neural_atlases.preprocess.flow import FlowOptions, consistency_mask, dis_flow
from neural_atlases.preprocess.transforms import layer_interior

REALIGN_MIN_SHARE = 0.9
"""A layer is realigned where its share is at least this (and 2 pixels inside)."""

CROP_MARGIN_PX = 16
"""Frame pixels kept around a layer's confident pixels when its flow is computed on a crop."""


@torch.no_grad()
def consensus_flow(
    model: AtlasModel, frame: np.ndarray, t: int, options: FlowOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How frame ``t`` (``[H, W, 3]`` uint8) sits against the model's reconstruction of it: the
    flow ``[H, W, 2]`` (reconstruction pixel ``p`` shows frame pixel ``p + f(p)``), where it is
    consistent both ways ``[H, W]`` bool, and every layer's share ``[H, W, L + 1]``. The plain
    reference of ``consensus_flow_near``."""
    height, width = model.video.height, model.video.width
    fields = model.frame_pixels(t)
    recon_rgb = fields["recon"].reshape(height, width, 3)
    recon = (recon_rgb.clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()
    forward = dis_flow(recon, frame, options)
    backward = dis_flow(frame, recon, options)
    consistent = consistency_mask(forward, backward, options.consistency_px)
    return forward, consistent, fields["shares"].reshape(height, width, -1).cpu().numpy()


@torch.no_grad()
def consensus_flow_near(
    model: AtlasModel, frame: np.ndarray, t: int, options: FlowOptions, confident: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``consensus_flow`` where it is used: the reconstruction and its flow only on the box around
    the ``confident`` pixels (``[H, W]`` bool, grown by ``CROP_MARGIN_PX``); outside, the flow is 0
    and not consistent. A subject covering a fifth of a 768x432 frame costs a fifth of the
    frame's work. Returns the flow ``[H, W, 2]`` and where it is consistent ``[H, W]``."""
    height, width = confident.shape
    forward = np.zeros((height, width, 2), np.float32)
    consistent = np.zeros((height, width), bool)
    ys, xs = np.nonzero(confident)
    if len(ys) < 64:
        return forward, consistent
    y0, y1 = max(int(ys.min()) - CROP_MARGIN_PX, 0), min(int(ys.max()) + CROP_MARGIN_PX + 1, height)
    x0, x1 = max(int(xs.min()) - CROP_MARGIN_PX, 0), min(int(xs.max()) + CROP_MARGIN_PX + 1, width)
    dev = next(model.parameters()).device
    by, bx = torch.meshgrid(torch.arange(y0, y1, device=dev), torch.arange(x0, x1, device=dev), indexing="ij")
    x, y = bx.reshape(-1), by.reshape(-1)
    recon_rgb = model.evaluate_pixels(x, y, torch.full_like(x, t))["recon"].reshape(y1 - y0, x1 - x0, 3)
    recon = (recon_rgb.clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()
    crop = np.ascontiguousarray(frame[y0:y1, x0:x1])
    ahead = dis_flow(recon, crop, options)
    back = dis_flow(crop, recon, options)
    forward[y0:y1, x0:x1] = ahead
    consistent[y0:y1, x0:x1] = consistency_mask(ahead, back, options.consistency_px)
    return forward, consistent


@torch.no_grad()
def layer_flows(
    model: AtlasModel,
    frame: np.ndarray,  # [H, W, 3] uint8
    t: int,
    layers: list[int],
    options: FlowOptions,
    min_share: float = REALIGN_MIN_SHARE,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each of ``layers``' flow against the reconstruction on frame ``t`` and where it counts: the
    shares at every pixel (no atlas colour read), then ``consensus_flow_near`` on the layer's
    interior (share over ``min_share``, 2 pixels in). One ``(flow [H, W, 2], valid [H, W])`` a layer."""
    _, shares, _ = model.frame_maps(t)
    shares_hw = shares.reshape(model.video.height, model.video.width, -1).cpu().numpy()
    out = []
    for k in layers:
        inside = layer_interior(shares_hw[..., k] > min_share, 2, 64)
        forward, consistent = consensus_flow_near(model, frame, t, options, inside)
        out.append((forward, inside & consistent))
    return out


@torch.no_grad()
def realign_layers(
    model: AtlasModel,
    frames: np.ndarray,  # [T, H, W, 3] uint8
    layers: list[int],
    options: FlowOptions | None = None,
    min_share: float = REALIGN_MIN_SHARE,
) -> list[float]:
    """Move each of ``layers``' residual grids so each frame agrees with the reconstruction, all
    against the same reconstruction, each layer's flow on a crop around its own pixels
    (``consensus_flow_near``: the work is in the layers' area, not the frame's); returns each
    layer's mean correction, in pixels. ``realign_layer`` is one layer's plain reference, on
    whole frames."""
    options = options or FlowOptions()
    mappings = {k: cast(MappingField, model.mappings[k]) for k in layers}  # variants that realign
    mappings = {k: m for k, m in mappings.items() if len(m.residuals)}
    moved: dict[int, list[float]] = {k: [] for k in layers}
    if not mappings:
        return [0.0] * len(layers)
    ppu = pixels_per_unit(model.video.height, model.video.width)
    matrices = {k: m.matrices().detach().cpu().numpy() for k, m in mappings.items()}  # [T, 3, 3] each
    for t in range(model.video.frames):
        flows = layer_flows(model, frames[t], t, list(mappings), options, min_share)
        deltas = []  # every layer's, applied once all are measured: the same reconstruction for all
        for (k, mapping), (forward, valid) in zip(mappings.items(), flows, strict=True):
            fine = mapping.residuals[-1]  # [T, gh, gw, 2]
            if valid.sum() < 64:
                continue
            offsets = fit_grid(forward, valid, (fine.shape[1], fine.shape[2]))  # [gh, gw, 2] pixels
            jacobian = matrices[k][t, :2, :2] / mapping.scale  # d uv / d xy in residual units
            delta = -(offsets.reshape(-1, 2) / ppu) @ jacobian.T  # [gh * gw, 2]
            deltas.append((fine, torch.from_numpy(delta.reshape(fine.shape[1], fine.shape[2], 2))))
            moved[k].append(float(np.linalg.norm(forward[valid], axis=1).mean()))
        for fine, delta in deltas:
            fine[t] += delta.to(fine)
    return [float(np.mean(moved[k])) if moved[k] else 0.0 for k in layers]


@torch.no_grad()
def realign_layer(
    model: AtlasModel,
    frames: np.ndarray,  # [T, H, W, 3] uint8
    layer: int,
    options: FlowOptions | None = None,
    min_share: float = REALIGN_MIN_SHARE,
) -> float:
    """Move ``layer``'s residual grids so each frame agrees with the reconstruction; returns the
    mean correction applied, in pixels. The plain reference of ``realign_layers``: whole frames."""
    options = options or FlowOptions()
    mapping = cast(MappingField, model.mappings[layer])  # a variant that ``realigns``: residual grids
    if not len(mapping.residuals):
        return 0.0
    fine = mapping.residuals[-1]  # [T, gh, gw, 2]
    grid_hw = (fine.shape[1], fine.shape[2])
    height, width = model.video.height, model.video.width
    ppu = pixels_per_unit(height, width)
    matrices = mapping.matrices().detach().cpu().numpy()  # [T, 3, 3]
    moved = []
    for t in range(model.video.frames):
        forward, consistent, shares = consensus_flow(model, frames[t], t, options)
        valid = layer_interior(shares[..., layer] > min_share, 2, 64) & consistent
        if valid.sum() < 64:
            continue
        offsets = fit_grid(forward, valid, grid_hw)  # [gh, gw, 2] pixels
        jacobian = matrices[t, :2, :2] / mapping.scale  # d uv / d xy in residual units, per xy unit
        delta = -(offsets.reshape(-1, 2) / ppu) @ jacobian.T  # [gh * gw, 2]
        fine[t] += torch.from_numpy(delta.reshape(*grid_hw, 2)).to(fine)
        moved.append(float(np.linalg.norm(forward[valid], axis=1).mean()))
    return float(np.mean(moved)) if moved else 0.0
