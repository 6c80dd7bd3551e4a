"""The layered atlas model: fields in, outputs and unweighted loss terms out.

Layer 0 is the background, layer ``k + 1`` foreground ``k``. For a pixel ``p = (x, y, t)``:
``c(p) = sum_l share_l(p) * C_l(M_l(p))``.

``get_outputs(batch)`` evaluates the fields at a training batch; ``get_loss_dict`` turns the outputs
into the paper's loss terms, unweighted (the trainer weighs them, in one place).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol, TypedDict, cast

import torch
from torch import nn

from neural_atlases.config import ModelConfig
from neural_atlases.conventions import pixel_to_normalised, pixels_per_unit, uv_to_grid
from neural_atlases.model import losses
from neural_atlases.model.batch import Batch
from neural_atlases.model.grids import sample_image
from neural_atlases.model.mlp import CoordinateMLP


@dataclass(frozen=True)
class LayerGeometry:
    """Where a layer's atlas sits: its texel size and the nominal scale of its mapping."""

    atlas_height: int
    atlas_width: int
    scale: float
    """``d uv / d xy`` (normalised units) of a mapping that neither stretches nor shrinks."""


@dataclass(frozen=True)
class VideoShape:
    """The size of the clip a model was built for."""

    frames: int
    height: int
    width: int


class PixelFields(TypedDict):
    """Every field at ``N`` pixels (``AtlasModel.evaluate_pixels``)."""

    uv: list[torch.Tensor]  # one [N, 2] a layer
    rgb: list[torch.Tensor]  # one [N, 3] a layer
    shares: torch.Tensor  # [N, L + 1]
    recon: torch.Tensor  # [N, 3]


class Mapping(Protocol):
    """A layer's mapping: ``mapping(xy [N, 2], t [N]) -> uv [N, 2]``, normalised frame points and
    frame indices to the layer's normalised atlas coordinates."""

    def __call__(self, xy: torch.Tensor, t: torch.Tensor) -> torch.Tensor: ...


class CarryingMapping(Mapping, Protocol):
    """A mapping that can also carry frame points along its own global motion (layers that hide)."""

    def carry(self, xy: torch.Tensor, t: torch.Tensor, t_next: torch.Tensor) -> torch.Tensor: ...


class Atlas(Protocol):
    """A layer's atlas: ``atlas(uv [N, 2]) -> [N, C]`` (rgb, and an alpha logit when ``C == 4``)."""

    @property
    def channels(self) -> int: ...

    def __call__(self, uv: torch.Tensor) -> torch.Tensor: ...

    def texture(self) -> torch.Tensor: ...


class TexelAtlas(Atlas, Protocol):
    """An atlas of free texels: a pyramid of levels, ``levels[0]`` the finest (``model.fields``)."""

    levels: nn.ParameterList


class Shares(Protocol):
    """The share field: per-layer logits ``[N, L]`` at pixels or between them."""

    def at_pixels(self, x: torch.Tensor, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor: ...

    def at_points(self, xy: torch.Tensor, t: torch.Tensor) -> torch.Tensor: ...


@dataclass
class LayerFields:
    """The fields a model variant (``training.variants``) builds for ``AtlasModel``."""

    mappings: nn.ModuleList  # one ``Mapping`` a layer, background first
    atlases: nn.ModuleList  # one ``Atlas`` a layer
    shares: nn.Module  # a ``Shares``
    to_shares: Callable[[torch.Tensor], torch.Tensor]
    """``[N, L]`` share-field outputs (plus atlas alphas) -> ``[N, L + 1]`` shares."""
    layers_can_hide: bool = False
    """Whether a foreground layer can be hidden behind another (its mappings are
    ``CarryingMapping``s, each layer with its own alpha)."""
    texel_atlases: bool = False
    """Whether the atlases are ``TexelAtlas``es (every texel a parameter), whose finest level the
    ``texture_checker`` term keeps from weaving."""


def residual_grid_sizes(video: VideoShape, cells: tuple[int, ...]) -> list[tuple[int, int]]:
    """``(h, w)`` of each mapping residual grid: nodes every ``cell`` pixels, corners included."""
    return [(max(2, -(-video.height // c) + 1), max(2, -(-video.width // c) + 1)) for c in cells]


class AtlasModel(nn.Module):
    """Mappings, atlases and shares for one clip, whatever kind of fields a model variant
    (``training.variants``: the fast grids, the paper's MLPs, ...) built them from, read the same
    way. Build one with ``training.variants.new_model``."""

    mappings: nn.ModuleList  # one ``Mapping`` a layer (``mapping(l)``)
    atlases: nn.ModuleList  # one ``Atlas`` a layer (``atlas(l)``)
    shares: nn.Module  # a ``Shares`` (``share_field``)
    to_shares: Callable[[torch.Tensor], torch.Tensor]
    """``[N, L]`` share-field outputs (plus atlas alphas) -> ``[N, L + 1]`` shares."""

    def __init__(
        self, config: ModelConfig, video: VideoShape, geometries: list[LayerGeometry], fields: LayerFields
    ) -> None:
        super().__init__()
        num_layers = config.foreground_layers + 1
        if len(geometries) != num_layers or len(fields.mappings) != num_layers:
            raise ValueError(f"{len(geometries)} geometries for {num_layers} layers")
        self.config = config
        self.video = video
        self.geometries = list(geometries)
        self.mappings, self.atlases, self.shares = fields.mappings, fields.atlases, fields.shares
        self.to_shares = fields.to_shares
        self.can_hide = fields.layers_can_hide
        self.texel_atlases = fields.texel_atlases
        # the background's first fill (``training.initialise``), which the ``plate`` term holds it to
        # where the masks say a subject covers it; free texels only (an MLP atlas has no first fill)
        plate_hw = (geometries[0].atlas_height, geometries[0].atlas_width) if self.texel_atlases else (1, 1)
        self.register_buffer("plate", torch.zeros(*plate_hw, 3))

    def first_fill(self) -> torch.Tensor:
        """The background atlas as first filled, ``[S_h, S_w, 3]`` (texel atlases only)."""
        return cast(torch.Tensor, self.plate)

    @property
    def num_layers(self) -> int:
        return len(self.geometries)

    def mapping(self, layer: int) -> Mapping:
        """Layer ``layer``'s mapping field (``self.mappings[layer]``, typed)."""
        return cast(Mapping, self.mappings[layer])

    def atlas(self, layer: int) -> Atlas:
        """Layer ``layer``'s atlas field (``self.atlases[layer]``, typed)."""
        return cast(Atlas, self.atlases[layer])

    @property
    def share_field(self) -> Shares:
        return cast(Shares, self.shares)

    def set_mixed_precision(self, enabled: bool) -> None:
        """Switch bfloat16 autocast on CUDA on or off for every network that tolerates it
        (``CoordinateMLP.low_precision_safe``); the fast model has none."""
        for module in self.modules():
            if isinstance(module, CoordinateMLP):
                module.mixed_precision = enabled

    def meta(self) -> dict:
        """What, beside the config and the weights, rebuilds this model (``from_meta``)."""
        return {"video": asdict(self.video), "geometries": [asdict(g) for g in self.geometries]}

    @staticmethod
    def video_and_geometries(meta: dict) -> tuple[VideoShape, list[LayerGeometry]]:
        """What ``meta()`` saved (``training.variants.model_from_meta`` rebuilds the model)."""
        return VideoShape(**meta["video"]), [LayerGeometry(**g) for g in meta["geometries"]]

    # -- evaluation of the fields ------------------------------------------------------------

    def normalise(self, xy_pixels: torch.Tensor) -> torch.Tensor:
        """Pixel positions ``[N, 2]`` to normalised frame coordinates."""
        return pixel_to_normalised(xy_pixels, self.video.height, self.video.width)

    def pixel_units(self, layer: int) -> float:
        """Frame pixels per atlas ``uv`` unit for a layer's nominal scale."""
        return pixels_per_unit(self.video.height, self.video.width) / self.geometries[layer].scale

    def combine_logits(self, table: torch.Tensor, reads: list[torch.Tensor]) -> torch.Tensor:
        """Each foreground layer's logit ``[N, L]`` from table logits ``[N, L]`` and each layer's
        atlas reads (a foreground atlas's fourth channel, when it has one, is its alpha logit)."""
        logits = [
            table[:, k - 1 : k] + reads[k][:, 3:4] if reads[k].shape[1] > 3 else table[:, k - 1 : k]
            for k in range(1, self.num_layers)
        ]
        return torch.cat(logits, dim=1)

    def combine_shares(self, table: torch.Tensor, reads: list[torch.Tensor]) -> torch.Tensor:
        """Shares ``[N, L + 1]`` from table logits ``[N, L]`` and each layer's atlas reads."""
        return self.to_shares(self.combine_logits(table, reads))

    @property
    def layers_can_hide(self) -> bool:
        """Whether a foreground layer can be hidden behind another: several foreground layers
        whose fields allow it (``LayerFields.layers_can_hide``: softmax shares, each layer with
        its own alpha, ``presences``)."""
        return self.num_layers > 2 and self.can_hide

    def evaluate_pixels(self, x: torch.Tensor, y: torch.Tensor, t: torch.Tensor) -> PixelFields:
        """Every field at integer pixels ``[N]``: ``uv`` and ``rgb`` (lists, one ``[N, 2]`` /
        ``[N, 3]`` per layer), ``shares`` ``[N, L + 1]`` and ``recon`` ``[N, 3]``."""
        xy = self.normalise(torch.stack([x, y], -1).float())
        uvs = [mapping(xy, t) for mapping in self.mappings]
        reads = [atlas(uv) for atlas, uv in zip(self.atlases, uvs, strict=True)]
        shares = self.combine_shares(self.share_field.at_pixels(x, y, t), reads)
        rgbs = [r[:, :3] for r in reads]
        recon = losses.sum_terms(shares[:, k : k + 1] * rgbs[k] for k in range(self.num_layers))
        return {"uv": uvs, "rgb": rgbs, "shares": shares, "recon": recon}

    @torch.no_grad()
    def frame_pixels(self, t: int) -> PixelFields:
        """``evaluate_pixels`` over every pixel of frame ``t`` (row-major)."""
        h, w = self.video.height, self.video.width
        dev = next(self.parameters()).device
        ys, xs = torch.meshgrid(torch.arange(h, device=dev), torch.arange(w, device=dev), indexing="ij")
        x, y = xs.reshape(-1), ys.reshape(-1)
        return self.evaluate_pixels(x, y, torch.full_like(x, t))

    @torch.no_grad()
    def frame_maps(self, t: int) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """What baking needs of frame ``t`` (row-major): each layer's ``uv`` ``[H * W, 2]``, the
        shares ``[H * W, L + 1]`` and each foreground layer's own alpha ``[H * W, L]``
        (``presences``); an atlas is read only when it holds an alpha. The first two equal those
        of ``frame_pixels`` (its plain reference), without reading every atlas's colour at every
        pixel."""
        h, w = self.video.height, self.video.width
        dev = next(self.parameters()).device
        ys, xs = torch.meshgrid(torch.arange(h, device=dev), torch.arange(w, device=dev), indexing="ij")
        x, y = xs.reshape(-1), ys.reshape(-1)
        frame = torch.full_like(x, t)
        xy = self.normalise(torch.stack([x, y], -1).float())
        uvs = [mapping(xy, frame) for mapping in self.mappings]
        reads = [self.atlas(k)(uv) if self.atlas(k).channels > 3 else uv[:, :0] for k, uv in enumerate(uvs)]
        table = self.share_field.at_pixels(x, y, frame)
        return uvs, self.combine_shares(table, reads), self.presences(table, reads)

    def presences(self, table: torch.Tensor, reads: list[torch.Tensor]) -> torch.Tensor:
        """Each foreground layer's own alpha ``[N, L]``, whatever is in front of it: the sigmoid of
        its atlas alpha where its atlas holds one (the table's per-pixel logits are left out:
        they serve the softmax, which a layer half in front of another drives to the layer's
        full presence), else of its logit. Tells which layer is in front (``baking.depth``)."""
        logits = [
            reads[k][:, 3:4] if reads[k].shape[1] > 3 else table[:, k - 1 : k]
            for k in range(1, self.num_layers)
        ]
        return torch.sigmoid(torch.cat(logits, dim=1))

    @torch.no_grad()
    def render_frame(self, t: int) -> torch.Tensor:
        """Reconstruction of frame ``t`` from the fields: ``[H, W, 3]``."""
        return self.frame_pixels(t)["recon"].reshape(self.video.height, self.video.width, 3)

    # -- training ----------------------------------------------------------------------------

    def get_outputs(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Fields evaluated at a batch. Keys: ``recon`` ``[3B, 3]`` (base, +x, +y), ``shares``
        ``[3B, L+1]``, ``uv_l`` ``[3B, 2]`` and ``rgb_l`` ``[3B, 3]`` per layer, ``flow_uv_l`` and
        ``flow_uv_next_l`` ``[F, 2]``, ``flow_shares`` and ``flow_shares_next`` ``[F, L+1]``,
        ``rigid_uv_l`` ``[3G, 2]`` when the batch has rigid points; with layers that can hide
        (``layers_can_hide``) also ``hidden`` ``[F, L]``, how much of each foreground layer is
        there but hidden at the flow points (no gradient), and ``hidden_uv_next_l`` ``[F, 2]``,
        layer ``l``'s mapping where its global transforms carry them in ``flow_t_next``."""
        one = torch.ones_like(batch.x)
        b, f = batch.x.shape[0], batch.flow_x.shape[0]
        # every mapping is read once, at all points: [base, +x, +y | flow | flow target | rigid x3]
        x = torch.cat([batch.x, batch.x + one, batch.x, batch.flow_x])
        y = torch.cat([batch.y, batch.y, batch.y + one, batch.flow_y])
        t = torch.cat([batch.t.repeat(3), batch.flow_t])
        xy = self.normalise(torch.stack([x, y], -1).float())
        target = self.normalise(batch.flow_target)
        all_xy, all_t = [xy, target], [t, batch.flow_t_next]
        rigid = batch.rigid_points()
        if rigid is not None:
            d = batch.rigid_step
            rigid_x, rigid_y, rigid_t = rigid
            rx = torch.cat([rigid_x, rigid_x + d, rigid_x])
            ry = torch.cat([rigid_y, rigid_y, rigid_y + d])
            all_xy.append(self.normalise(torch.stack([rx, ry], -1).float()))
            all_t.append(rigid_t.repeat(3))
        all_xy_t, all_t_t = torch.cat(all_xy), torch.cat(all_t)
        out: dict[str, torch.Tensor] = {}
        reads, reads_next = [], []
        for layer in range(self.num_layers):
            uv = self.mappings[layer](all_xy_t, all_t_t)
            out[f"uv_{layer}"] = uv[: 3 * b]
            out[f"flow_uv_{layer}"] = uv[3 * b : 3 * b + f]
            out[f"flow_uv_next_{layer}"] = uv[3 * b + f : 3 * b + 2 * f]
            if rigid is not None:
                out[f"rigid_uv_{layer}"] = uv[3 * b + 2 * f :]
            reads.append(self.atlases[layer](uv[: 3 * b + f]))  # base points and flow sources
            has_alpha = self.atlas(layer).channels > 3  # only alphas are needed there
            reads_next.append(self.atlases[layer](out[f"flow_uv_next_{layer}"]) if has_alpha else uv[:f, :0])
            out[f"rgb_{layer}"] = reads[-1][: 3 * b, :3]
        table = self.share_field.at_pixels(x, y, t)  # [3B + F, L]
        shares = self.combine_shares(table, reads)
        out["shares"], out["flow_shares"] = shares[: 3 * b], shares[3 * b :]
        table_next = self.share_field.at_points(target, batch.flow_t_next)
        out["flow_shares_next"] = self.combine_shares(table_next, reads_next)
        if self.layers_can_hide:
            with torch.no_grad():  # a layer's own alpha, minus what of it shows
                presence = self.presences(table[3 * b :], [r[3 * b :] for r in reads])
                out["hidden"] = (presence - out["flow_shares"][:, 1:]).clamp_min(0.0)
            source = xy[3 * b :]
            for layer in range(1, self.num_layers):
                mapping = cast(CarryingMapping, self.mappings[layer])  # ``layers_can_hide``: it carries
                carried = mapping.carry(source, batch.flow_t, batch.flow_t_next)
                out[f"hidden_uv_next_{layer}"] = mapping(carried, batch.flow_t_next)
        out["share_table"] = table[: 3 * b]
        if self.texel_atlases:
            plate = self.first_fill()
            out["plate_rgb"] = sample_image(plate, uv_to_grid(out["uv_0"][:b], *plate.shape[:2]))
        out["recon"] = losses.sum_terms(
            out["shares"][:, k : k + 1] * out[f"rgb_{k}"] for k in range(self.num_layers)
        )
        return out

    def _jacobian(self, uv3: torch.Tensor, layer: int, step_px: float) -> torch.Tensor:
        """Jacobian ``[N, 2, 2]`` from ``[3N, 2]`` (p, p + x, p + y), in units where an
        isometry at the layer's nominal scale is a rotation."""
        uv, uv_dx, uv_dy = uv3.chunk(3)
        return losses.finite_difference_jacobian(uv, uv_dx, uv_dy, step_px / self.pixel_units(layer))

    def get_loss_dict(self, out: dict[str, torch.Tensor], batch: Batch) -> dict[str, torch.Tensor]:
        """Unweighted loss terms. ``global_rigidity_*`` only when the batch has rigid points,
        ``scribble`` only when it has scribbles, ``hidden_flow`` only when layers can hide."""
        recon, recon_dx, recon_dy = out["recon"].chunk(3)
        terms = {
            "rgb": losses.rgb_loss(out["recon"], torch.cat([batch.rgb, batch.rgb_dx, batch.rgb_dy])),
            "gradient": losses.gradient_loss(
                recon_dx - recon, batch.rgb_dx - batch.rgb, recon_dy - recon, batch.rgb_dy - batch.rgb
            ),
        }
        shares = out["shares"].chunk(3)[0]  # [B, L + 1]
        terms["sparsity"] = losses.sum_terms(
            losses.sparsity_loss(out[f"rgb_{k}"].chunk(3)[0], shares[:, k]) for k in range(1, self.num_layers)
        )
        terms["rigidity"] = losses.sum_terms(
            losses.rigidity_loss(self._jacobian(out[f"uv_{k}"], k, 1.0)) for k in range(self.num_layers)
        )
        flow_shares = out["flow_shares"]
        terms["flow"] = losses.sum_terms(
            losses.flow_loss(
                out[f"flow_uv_{k}"] * self.pixel_units(k),
                out[f"flow_uv_next_{k}"] * self.pixel_units(k),
                batch.flow_weight * flow_shares[:, k],
            )
            for k in range(self.num_layers)
        )
        terms["alpha_flow"] = losses.alpha_flow_loss(flow_shares, out["flow_shares_next"], batch.flow_weight)
        if "hidden" in out:
            terms["hidden_flow"] = losses.sum_terms(
                losses.flow_loss(
                    out[f"flow_uv_{k}"] * self.pixel_units(k),
                    out[f"hidden_uv_next_{k}"] * self.pixel_units(k),
                    out["hidden"][:, k - 1],
                )
                for k in range(1, self.num_layers)
            )
        terms["bootstrap"] = losses.bootstrap_loss(1.0 - shares[:, 0], batch.mask)
        if batch.rigid_x is not None:
            terms["global_rigidity_background"] = losses.rigidity_loss(
                self._jacobian(out["rigid_uv_0"], 0, float(batch.rigid_step))
            )
            terms["global_rigidity_foreground"] = losses.sum_terms(
                losses.rigidity_loss(self._jacobian(out[f"rigid_uv_{k}"], k, float(batch.rigid_step)))
                for k in range(1, self.num_layers)
            )
        if batch.scribble is not None:
            terms["scribble"] = losses.scribble_loss(shares, batch.scribble)
        if "plate_rgb" in out:
            background = out["rgb_0"].chunk(3)[0]  # [B, 3]
            terms["plate"] = losses.plate_loss(background, out["plate_rgb"], batch.mask)
        if self.config.atlas_alpha:
            terms["alpha_residual"] = out["share_table"].square().mean()
        if self.texel_atlases:
            finest = [cast(TexelAtlas, atlas).levels[0] for atlas in self.atlases]  # where texels weave
            terms["texture_checker"] = losses.sum_terms(losses.checker_loss(level) for level in finest)
        return terms
