"""``make bench``: the synthetic benchmark of the single-layer spine.

A 30-frame 256 x 144 scene with ground truth (``data.synthetic``) is trained through the real
command line with ``--max-minutes 5`` (preprocessing included), then measured:

- reconstruction PSNR over all frames (``render --reconstruct`` vs the input);
- clean-plate PSNR where the foreground was (``render -r foreground`` vs the true background,
  over pixels whose true alpha is above 0.5);
- edit PSNR: the generator's edit, painted on frame 0, carried into the atlases through the
  learned frame-0 maps (``atlases -cf``), rendered (``render -b -f``), and compared with the true
  edited video in the edited region over frames 1..N;
- alpha IoU (learned foreground share > 0.5 vs true alpha > 0.5), and the same for the matte that
  ``export`` writes;
- reconstruction PSNR from the animated atlases (``atlases -a``, ``render --reconstruct`` with them);
- motion masks IoU (the masks that bootstrapped the alpha, ``results/masks``, vs true alpha > 0.5);
- steps per second and the peak memory of the training process;
- render speed of an edited 768 x 432 video (compositing only, encoding excluded).

With ``--multi`` (``make bench-multi``) it trains the two-sprite scene instead (two textured
sprites that cross, scribbles on five frames, ``configs/multi_layer.json``) for 10 minutes and
measures each sprite's matte IoU against its true visible share, the PSNR of ``render -r
foreground_K`` against the video without sprite K where sprite K was, and reconstruction PSNR.

Usage: ``python -m neural_atlases.bench [--minutes 5] [--out bench_results] [--skip-render-speed]
[--multi | --compare]``; ``--compare [--minutes 10]`` trains the fast and the paper model side by
side (``bench.compare``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from neural_atlases.bench.compare import compare
from neural_atlases.bench.measure import MOTION_MASKS, made_masks_iou, quality_metrics, run_cli
from neural_atlases.bench.results import publish
from neural_atlases.config import PRESETS, to_dict
from neural_atlases.data.synthetic import SceneConfig, make_scene, write_project
from neural_atlases.editing.frame_edit import splat_frame_edit
from neural_atlases.editing.render import Renderer, static_edit
from neural_atlases.evaluation.evaluate import psnr
from neural_atlases.evaluation.overlap import iou
from neural_atlases.io.images import read_frames, read_masks
from neural_atlases.io.project import Project
from neural_atlases.pipeline.trained import load_trained
from neural_atlases.training.checkpoint import read_checkpoint

TARGETS = {
    "reconstruction_psnr": 40.0,
    "clean_plate_psnr": 40.0,
    "edit_psnr": 30.0,
    "peak_memory_gb": 1.0,
    "render_fps_768x432": 100.0,
}


def spine_metrics(root: Path, minutes: float) -> dict[str, float]:
    """Train the benchmark scene for ``minutes`` and measure it."""
    scene = make_scene(SceneConfig())
    write_project(scene, root)
    config = root / "motion_masks.json"  # what the motion masks give, whatever models are cached
    config.write_text(json.dumps(MOTION_MASKS) + "\n")
    seconds, peak_gb = run_cli(
        "train", "-p", str(root), "-c", str(config), "--max-minutes", str(minutes), "--restart"
    )
    payload = read_checkpoint(root / "results" / "checkpoints" / "checkpoint.pt")
    state = payload["state"]
    return {
        **quality_metrics(root, scene, figure=root / "overview.png"),
        "mask_iou": made_masks_iou(Project(root), scene.alpha),
        "steps": float(state["step"]),
        "steps_per_second": state["step"] / max(state["seconds"], 1e-9),
        "wall_minutes": seconds / 60.0,
        "peak_memory_gb": peak_gb,
    }


def multi_metrics(root: Path, minutes: float) -> dict[str, float]:
    """Train the two-sprite scene (``configs/multi_layer.json``, its scribbles) for ``minutes``
    and measure each layer against its sprite: matte IoU, removal PSNR where the sprite was."""
    scene = make_scene(SceneConfig(sprites=2))
    write_project(scene, root)
    config = root / "multi_layer.json"
    settings = to_dict(PRESETS["multi_layer"])
    settings["preprocess"].update(MOTION_MASKS["preprocess"])
    config.write_text(json.dumps(settings, indent=2) + "\n")
    args = ("-p", str(root))
    seconds, peak_gb = run_cli("train", *args, "-c", str(config), "--max-minutes", str(minutes), "--restart")
    baked = load_trained(Project(root))
    state = read_checkpoint(root / "results" / "checkpoints" / "checkpoint.pt")["state"]
    renders = root / "results" / "bench"
    run_cli("render", *args, "--reconstruct", "-o", str(renders / "reconstruction"))
    run_cli("export", *args, "-o", str(renders / "export"))
    metrics = {"reconstruction_psnr": psnr(read_frames(renders / "reconstruction"), scene.frames)}
    for k in range(scene.config.sprites):
        name = f"foreground_{k}"
        run_cli("render", *args, "-r", name, "-o", str(renders / f"without_{name}"))
        truth = scene.sprite_alpha[k] > 0.5
        removed = read_frames(renders / f"without_{name}")
        mattes = read_masks(renders / "export" / "mattes" / name, *scene.frames.shape[:3]) > 0.5
        metrics[f"matte_iou_{k}"] = iou(np.asarray(baked.shares[..., k + 1]) > 0.5, truth)
        metrics[f"export_matte_iou_{k}"] = iou(mattes, truth)
        metrics[f"removal_psnr_{k}"] = psnr(removed, scene.without_sprite[k], truth)
    metrics.update(
        steps=float(state["step"]),
        steps_per_second=state["step"] / max(state["seconds"], 1e-9),
        wall_minutes=seconds / 60.0,
        peak_memory_gb=peak_gb,
    )
    return metrics


def multi_table(metrics: dict[str, float]) -> str:
    rows = [("reconstruction PSNR (dB)", "reconstruction_psnr", ">= 36")]
    for k in range(2):
        rows += [
            (f"sprite {k}: matte IoU against its visible share", f"matte_iou_{k}", ">= 0.85"),
            (f"sprite {k}: exported matte IoU", f"export_matte_iou_{k}", ""),
            (f"sprite {k}: `render -r foreground_{k}` PSNR where it was (dB)", f"removal_psnr_{k}", ">= 30"),
        ]
    rows += [
        ("training steps", "steps", ""),
        ("steps per second", "steps_per_second", ""),
        ("wall time, preprocessing included (min)", "wall_minutes", ""),
        ("peak memory of training (GB)", "peak_memory_gb", ""),
    ]
    return table(metrics, rows)


def render_speed(root: Path) -> float:
    """Frames per second of compositing an edited 768 x 432 video (encoding excluded)."""
    scene = make_scene(SceneConfig(width=768, height=432, frames=30))
    write_project(scene, root, masks=True)  # its own masks: no mask model runs for a timing
    run_cli("train", "-p", str(root), "-s", "20", "--restart")
    baked = load_trained(Project(root))
    splats = splat_frame_edit(scene.frames[0], scene.edited[0], 0, baked)
    edits = [static_edit(s) if s is not None else None for s in splats]
    renderer = Renderer(baked, edits)
    renderer.frame(0, scene.frames[0])  # warm up
    start = time.perf_counter()
    for t in range(scene.frames.shape[0]):
        renderer.frame(t, scene.frames[t])
    return scene.frames.shape[0] / (time.perf_counter() - start)


def table(metrics: dict[str, float], rows: list[tuple[str, str, str]] | None = None) -> str:
    rows = rows or [
        ("reconstruction PSNR (dB)", "reconstruction_psnr", ">= 40"),
        ("clean plate PSNR where the foreground was (dB)", "clean_plate_psnr", ">= 40"),
        ("edit PSNR in the edited region, frames 1..N (dB)", "edit_psnr", ">= 30"),
        ("  of which on the foreground (dB)", "edit_psnr_foreground", ""),
        ("  of which on the background (dB)", "edit_psnr_background", ""),
        ("  for scale: frames left unedited (dB)", "unedited_psnr", ""),
        ("alpha IoU", "alpha_iou", ""),
        ("reconstruction from the animated atlases (dB)", "animated_reconstruction_psnr", ">= 35"),
        ("exported matte IoU against the true alpha", "export_matte_iou", ">= 0.9"),
        ("atlas weave (checker), background", "checker_background", "<= 1.5"),
        ("atlas weave (checker), foreground", "checker_foreground_0", "<= 1.5"),
        ("clean plate fill roughness", "fill_roughness", "<= 1.2"),
        ("clean plate fill: share over-saturated", "fill_saturated", "<= 0.02"),
        ("motion masks IoU", "mask_iou", ">= 0.7"),
        ("training steps", "steps", ""),
        ("steps per second", "steps_per_second", ""),
        ("wall time, preprocessing included (min)", "wall_minutes", "<= 5"),
        ("peak memory of training (GB)", "peak_memory_gb", "<= 1"),
        ("render, edited 768x432 (frames/s)", "render_fps_768x432", ">= 100"),
    ]
    lines = ["| measure | value | target |", "|---|---|---|"]
    for name, key, target in rows:
        if key in metrics:
            lines.append(f"| {name} | {metrics[key]:.2f} | {target} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m neural_atlases.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--minutes", type=float, help="training budget (default 5; 10 with --compare or --multi)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("bench_results"), help="where projects and results go"
    )
    parser.add_argument("--skip-render-speed", action="store_true", help="skip the 768x432 render timing")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="the fast and the paper model side by side (bench.compare): compare.json and .md",
    )
    parser.add_argument(
        "--multi", action="store_true", help="the two-sprite scene with scribbles (default 10 minutes)"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.compare:
        compare(args.out, args.minutes or 10.0)
        return 0
    if args.multi:
        metrics = multi_metrics(args.out / "multi", args.minutes or 10.0)
        publish(args.out, "multi", multi_table(metrics), metrics)
        return 0
    metrics = spine_metrics(args.out / "spine", args.minutes or 5.0)
    if not args.skip_render_speed:
        metrics["render_fps_768x432"] = render_speed(args.out / "render_speed")
    publish(args.out, "spine", table(metrics), metrics)
    return 0


if __name__ == "__main__":
    sys.exit(main())
