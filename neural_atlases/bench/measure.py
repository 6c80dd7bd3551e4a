"""How the benchmarks measure (``bench.spine``, ``bench.compare``, ``bench.real``): the command
line run in a child process (its time, peak memory and stderr), and the quality of a trained
project of a synthetic scene, measured the user's way, through the command line."""

from __future__ import annotations

import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from neural_atlases.conventions import layer_name
from neural_atlases.data.synthetic import Scene
from neural_atlases.evaluation.evaluate import psnr
from neural_atlases.evaluation.image_quality import checker_ratio, fill_measures
from neural_atlases.evaluation.overlap import iou
from neural_atlases.io.images import read_frames, read_masks, write_image
from neural_atlases.io.project import Project
from neural_atlases.pipeline.trained import load_trained

MOTION_MASKS = {"preprocess": {"foreground_class": "motion"}}
"""The synthetic scenes are trained with motion masks (their sprites are no people for a matting
model), which the spine benchmark measures."""


def run_cli(*args: str, stderr_lines: list[str] | None = None) -> tuple[float, float]:
    """Run ``neural-atlases ARGS`` in a child process: ``(seconds, peak resident GB)``; with
    ``stderr_lines``, its stderr is a pipe (a log, not a terminal), passed on to ours and kept."""
    command = [sys.executable, "-m", "neural_atlases", *args]
    status, seconds, peak_gb = run_measured(command, stderr_lines)
    if status != 0:
        sys.exit(f"bench: neural-atlases {' '.join(args)} failed (see above)")
    return seconds, peak_gb


PEAK_POLL_S = 0.05
"""How often ``run_measured`` reads the child's peak resident size."""


def run_measured(command: list[str], stderr_lines: list[str] | None = None) -> tuple[int, float, float]:
    """Run ``command`` (its stdout discarded): ``(exit status, seconds, peak resident GB)``.

    The peak is the child's own high-water mark (``VmHWM`` in ``/proc/PID/status``, read every
    ``PEAK_POLL_S`` while it runs; it only grows). ``getrusage``'s ``ru_maxrss`` of a child is not:
    on Linux a child started by vfork + exec inherits the parent's mark, so it would be at least
    this process's own peak. Where there is no ``/proc``, ``ru_maxrss`` it is. With
    ``stderr_lines`` the child writes its stderr to a pipe, whose lines are appended there and
    written on to this process's stderr as they come.
    """
    start = time.monotonic()
    piped = stderr_lines is not None
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE if piped else None, text=piped
    )
    reader = None
    if stderr_lines is not None:
        reader = threading.Thread(target=_pass_on, args=(process.stderr, stderr_lines), daemon=True)
        reader.start()
    status_file = Path(f"/proc/{process.pid}/status")
    peak_kb = 0
    while process.poll() is None:
        peak_kb = max(peak_kb, _high_water_kb(status_file))
        time.sleep(PEAK_POLL_S)
    seconds = time.monotonic() - start
    if reader is not None:
        reader.join()
    if peak_kb == 0:
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return process.returncode, seconds, peak_kb / 1024**2


def _pass_on(stream, lines: list[str]) -> None:
    for line in stream:
        lines.append(line.rstrip("\n"))
        sys.stderr.write(line)
        sys.stderr.flush()


def _high_water_kb(status_file: Path) -> int:
    """``VmHWM`` of a ``/proc/PID/status`` in kB; 0 when it cannot be read (gone, or no /proc)."""
    try:
        for line in status_file.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def made_masks_iou(project: Project, alpha: np.ndarray) -> float:
    """IoU of the masks the tool made (``results/masks`` > 0.5) and the true alpha ``[T, H, W]`` > 0.5."""
    t, h, w = alpha.shape
    return iou(read_masks(project.masks_out_dir, t, h, w) > 0.5, alpha > 0.5)


def atlas_checker(atlases: list[np.ndarray], frames: np.ndarray) -> dict[str, float]:
    """``checker_<layer>``: each atlas's texel-level weave (``evaluation.image_quality``)."""
    return {f"checker_{layer_name(k)}": checker_ratio(a, frames) for k, a in enumerate(atlases)}


def quality_metrics(root: Path, scene: Scene, figure: Path | None = None) -> dict[str, float]:
    """Reconstruction, clean plate, edit PSNR and alpha IoU of a trained project of ``scene``,
    measured through the command line (and the README's picture, when ``figure`` is given)."""
    project = Project(root)
    baked = load_trained(project)
    frames = scene.frames
    renders = root / "results" / "bench"
    # everything goes the user's way, through the command line
    run_cli("render", "-p", str(root), "--reconstruct", "-o", str(renders / "reconstruction"))
    run_cli("render", "-p", str(root), "-r", "foreground", "-o", str(renders / "clean_plate"))
    edited_frame = renders / "edited_frame" / "00000.png"
    write_image(edited_frame, scene.edited[0])
    run_cli("atlases", "-p", str(root), "-cf", str(edited_frame), "-o", str(renders / "edited_atlases"))
    run_cli(
        "render",
        "-p",
        str(root),
        "-b",
        str(renders / "edited_atlases" / "background_atlas.png"),
        "-f",
        str(renders / "edited_atlases" / "foreground_atlas_0.png"),
        "-o",
        str(renders / "edited"),
    )
    animated = renders / "animated_atlases"
    run_cli("atlases", "-p", str(root), "-a", "-o", str(animated))
    run_cli(
        "render",
        "-p",
        str(root),
        "-b",
        str(animated / "background_atlas"),
        "-f",
        str(animated / "foreground_atlas_0"),
        "--reconstruct",
        "-o",
        str(renders / "animated_reconstruction"),
    )
    run_cli("export", "-p", str(root), "-o", str(renders / "export"))
    mattes = read_masks(renders / "export" / "mattes" / "foreground_0", *frames.shape[:3]) > 0.5
    recon = read_frames(renders / "reconstruction")
    removed = read_frames(renders / "clean_plate")
    edited = read_frames(renders / "edited")
    if figure is not None:
        overview_figure(figure, frames, recon, removed, baked.atlases, edited)
    region = scene.edit_region[1:]
    on_fg = region & (scene.alpha[1:] > 0.5)
    share = np.asarray(baked.shares[..., 1]) > 0.5
    truth = scene.alpha > 0.5
    rough, saturated = fill_measures(removed, frames)
    return {
        **atlas_checker(baked.atlases, frames),
        "fill_roughness": rough,
        "fill_saturated": saturated,
        "reconstruction_psnr": psnr(recon, frames),
        "clean_plate_psnr": psnr(removed, scene.background, truth),
        "edit_psnr": psnr(edited[1:], scene.edited[1:], region),
        "edit_psnr_foreground": psnr(edited[1:], scene.edited[1:], on_fg),
        "edit_psnr_background": psnr(edited[1:], scene.edited[1:], region & ~on_fg),
        "unedited_psnr": psnr(frames[1:], scene.edited[1:], region),
        "alpha_iou": iou(share, truth),
        "animated_reconstruction_psnr": psnr(read_frames(renders / "animated_reconstruction"), frames),
        "export_matte_iou": iou(mattes, truth),
    }


def overview_figure(
    path: Path, frames: np.ndarray, recon: np.ndarray, removed: np.ndarray, atlases: list, edited: np.ndarray
) -> None:
    """The README's picture: a frame, its reconstruction, the foreground removed; the atlases (on
    grey where unused) and the edited frame."""
    t = frames.shape[0] * 2 // 3
    h = frames.shape[1]

    def fit(image: np.ndarray) -> np.ndarray:
        if image.shape[2] == 4:
            a = image[..., 3:4].astype(np.float32) / 255.0
            image = (image[..., :3] * a + 128 * (1 - a)).astype(np.uint8)
        w = max(1, round(image.shape[1] * h / image.shape[0]))
        return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)

    gap = np.full((h, 4, 3), 255, np.uint8)
    top = np.concatenate([frames[t], gap, recon[t], gap, removed[t]], 1)
    bottom = np.concatenate([fit(atlases[0]), gap, fit(atlases[1]), gap, edited[t]], 1)
    width = max(top.shape[1], bottom.shape[1])
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in (top, bottom)]
    write_image(path, np.concatenate([rows[0], np.full((4, width, 3), 255, np.uint8), rows[1]], 0))
