"""The report's pictures and videos, made from a baked model and the input frames.

Videos are VP9 in WebM (libvpx-vp9, yuv420p): every Chromium build plays it, including those
built without the patent-encumbered H.264 decoder, and so do Firefox, Edge and Safari 14 and
later. Atlases are WebP (lossy, quality 90, with alpha: a tenth of the PNG's size), which the
same browsers show. Both are small (a 30-frame 256 x 144 clip takes tens of kB), so the page can carry them
inline. Panels whose larger side exceeds ``MAX_PANEL_SIDE`` are shrunk for the report only; the
PSNR figures are computed at full size.

Layout of ``results/report/`` (written by ``write_media``)::

    media.json                       what is here, the model it shows (``key``, ``step``), PSNR
    input_reconstruction.webm        input | reconstruction, side by side
    layer_<name>.webm                the layer's colour over grey | its share (alpha), per layer
    checkerboard_<name>.webm         a checkerboard painted through the layer's map, per layer
    atlas_<name>.webp                the layer's atlas (RGBA; alpha: the part the video uses)
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from neural_atlases.baking.bake import Baked
from neural_atlases.conventions import layer_name
from neural_atlases.editing.render import Renderer, RenderOptions
from neural_atlases.evaluation.evaluate import checkerboard_frame, video_psnr
from neural_atlases.io.images import atomic_write_path
from neural_atlases.progress import ProgressFn

MAX_PANEL_SIDE = 480
"""A video panel's larger side in the report, at most (pixels)."""
MAX_ATLAS_SIDE = 1024
"""An atlas image's larger side in the report, at most (pixels)."""
GAP = 4
"""White pixels between two panels of a side-by-side video."""
MANIFEST_NAME = "media.json"


@dataclass
class MediaManifest:
    """What ``media.json`` records: the model shown, its PSNR and the files (names in the folder)."""

    key: str
    """``fingerprint:step`` of the baked model the media show."""
    step: int
    psnr: float
    per_frame_psnr: list[float]
    fps: float
    width: int
    height: int
    seconds: float = 0.0
    """Time taken to make the media."""
    videos: dict[str, str] = field(default_factory=dict)
    """Title -> file name."""
    atlases: dict[str, str] = field(default_factory=dict)
    """Title -> file name."""


def encode_webm(frames: np.ndarray, fps: float, crf: int = 32) -> bytes:
    """``[T, H, W, 3]`` uint8 RGB -> the bytes of a VP9 WebM video (an odd side is padded by one
    repeated pixel, as yuv420p needs even sizes)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(
            f"encode_webm: expected [T, H, W, 3] uint8 with T >= 1, got {frames.dtype} {frames.shape}"
        )
    h, w = frames.shape[1:3]
    frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="webm") as container:
        stream = container.add_stream("libvpx-vp9", rate=Fraction(float(fps)).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = w + w % 2, h + h % 2, "yuv420p"
        stream.options = {"crf": str(int(crf)), "b": "0", "deadline": "good", "cpu-used": "5", "row-mt": "1"}
        for image in frames:
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            ):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def encode_webp(image: np.ndarray, quality: int = 90) -> bytes:
    """``[H, W, 3|4]`` uint8 -> the bytes of a lossy WebP image (alpha kept)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="WEBP", quality=quality, method=4)
    return buffer.getvalue()


def shrink(frames: np.ndarray, max_side: int) -> np.ndarray:
    """``[..., H, W, C]`` images scaled (area filter) so the larger side is at most ``max_side``."""
    h, w = frames.shape[-3:-1]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return frames
    size = (max(2, round(w * scale)), max(2, round(h * scale)))
    flat = frames.reshape(-1, h, w, frames.shape[-1])
    out = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in flat])
    return out.reshape(*frames.shape[:-3], size[1], size[0], frames.shape[-1])


def side_by_side(*videos: np.ndarray) -> np.ndarray:
    """``[T, H, W_i, 3]`` videos placed left to right with ``GAP`` white columns between."""
    t, h = videos[0].shape[:2]
    gap = np.full((t, h, GAP, 3), 255, np.uint8)
    parts = []
    for i, v in enumerate(videos):
        if i:
            parts.append(gap)
        parts.append(v)
    return np.concatenate(parts, axis=2)


def layer_colour(baked: Baked, layer: int, t: int, background: int = 128) -> np.ndarray:
    """What ``layer`` contributes to frame ``t``: its atlas colour read through its map, weighted
    by its share, over grey: ``[H, W, 3]`` uint8."""
    colour = cv2.remap(  # RGBA uint8 as it is: no copy of the atlas per frame
        baked.atlases[layer],
        np.asarray(baked.maps[layer][t]),
        None,
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )[..., :3].astype(np.float32)
    share = np.asarray(baked.shares[t, ..., layer : layer + 1], np.float32)
    return np.clip(colour * share + background * (1.0 - share) + 0.5, 0, 255).astype(np.uint8)


def layer_alpha(baked: Baked, layer: int) -> np.ndarray:
    """``layer``'s share of every pixel as grey video frames ``[T, H, W, 3]`` uint8."""
    grey = (np.clip(np.asarray(baked.shares[..., layer]), 0, 1) * 255 + 0.5).astype(np.uint8)
    return np.repeat(grey[..., None], 3, -1)


def reconstruct(baked: Baked, frames: np.ndarray) -> np.ndarray:
    """The video rendered from the atlases alone, ``[T, H, W, 3]`` uint8."""
    renderer = Renderer(baked, [None] * baked.num_layers, RenderOptions(reconstruct=True))
    out = np.empty_like(frames)
    for t, image in enumerate(renderer.frames(frames)):
        out[t] = image
    return out


def make_videos(baked: Baked, frames: np.ndarray, recon: np.ndarray) -> Iterator[tuple[str, str, np.ndarray]]:
    """The report's videos, unencoded and one at a time (only one is held in memory):
    ``(file stem, title, [T, H', W', 3] uint8)``."""
    n = frames.shape[0]
    yield (
        "input_reconstruction",
        "input | reconstruction",
        side_by_side(shrink(frames, MAX_PANEL_SIDE), shrink(recon, MAX_PANEL_SIDE)),
    )
    for layer in range(baked.num_layers):
        name = layer_name(layer)
        colour = shrink(np.stack([layer_colour(baked, layer, t) for t in range(n)]), MAX_PANEL_SIDE)
        alpha = shrink(layer_alpha(baked, layer), MAX_PANEL_SIDE)
        yield f"layer_{name}", f"{name}: colour | alpha", side_by_side(colour, alpha)
    for layer in range(baked.num_layers):
        name = layer_name(layer)
        boards = np.stack([checkerboard_frame(baked, layer, t, frames[t]) for t in range(n)])
        yield f"checkerboard_{name}", f"{name}: UV checkerboard", shrink(boards, MAX_PANEL_SIDE)


def write_media(
    folder: Path,
    baked: Baked,
    frames: np.ndarray,
    fps: float,
    key: str,
    step: int,
    progress: ProgressFn | None = None,
) -> MediaManifest:
    """Make and write the report's media for a baked model into ``folder``; returns the manifest
    (also written, last, as ``media.json``: a folder without it holds no complete media).
    ``progress`` counts the files: ``1 + 2 * layers`` videos, then an atlas per layer."""
    start = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST_NAME).unlink(missing_ok=True)
    recon = reconstruct(baked, frames)
    whole, per_frame = video_psnr(recon, frames)
    manifest = MediaManifest(
        key=key,
        step=int(step),
        psnr=whole,
        per_frame_psnr=per_frame,
        fps=float(fps),
        width=int(frames.shape[2]),
        height=int(frames.shape[1]),
    )
    total = 1 + 3 * baked.num_layers
    for stem, title, video in make_videos(baked, frames, recon):
        with atomic_write_path(folder / f"{stem}.webm") as tmp:
            tmp.write_bytes(encode_webm(video, fps))
        manifest.videos[title] = f"{stem}.webm"
        if progress is not None:
            progress(len(manifest.videos), total)
    for layer, atlas in enumerate(baked.atlases):
        name = layer_name(layer)
        with atomic_write_path(folder / f"atlas_{name}.webp") as tmp:
            tmp.write_bytes(encode_webp(shrink(atlas, MAX_ATLAS_SIDE)))
        manifest.atlases[f"{name} atlas"] = f"atlas_{name}.webp"
        if progress is not None:
            progress(len(manifest.videos) + len(manifest.atlases), total)
    manifest.seconds = time.monotonic() - start
    with atomic_write_path(folder / MANIFEST_NAME) as tmp:
        tmp.write_text(json.dumps(asdict(manifest), indent=2))
    return manifest


def read_manifest(folder: Path) -> MediaManifest | None:
    """The manifest of ``folder``, or ``None`` when there is none (or it cannot be read: the media
    are then made again)."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        return MediaManifest(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
