"""``make bench-compare``: the fast model and the paper's, side by side on the benchmark scene.

Both are trained, one after the other in one run on the same machine, through the real command
line (``train --max-minutes``, preprocessing included), from fresh projects of the synthetic
benchmark scene (``bench``), and every point is measured the user's way
(``bench.measure.quality_metrics``: reconstruction, clean plate and edit PSNR), in a copy of the project.

A point at ``m`` minutes is what a user with an ``m``-minute budget gets:

- the fast model's schedules follow its budget (learning rates decay and the foreground is
  realigned over the run's time; ``training_fraction``), so a snapshot of a longer run is not
  what a shorter run gives: it is trained once per point, with that budget;
- the paper model's schedules are in steps (a constant learning rate, the bootstrapping and
  global rigidity windows in steps), so one run serves every point: its snapshots (``train
  --snapshots``) are what shorter runs give, less the final bake, which a snapshot does not pay
  (in the paper model's favour).

Early snapshots of the shortest fast run (and of the paper run) time the early reconstruction
PSNR. Baking a snapshot is not counted in its time; baking at the end of a run is.

Reported: PSNR at 1, 2, 5 and 10 minutes of both models (the points scale with ``--minutes``),
the smallest lead of the fast model at equal time, and the time each model needs to reach the
paper model's final reconstruction PSNR (the first point of any of its runs that reaches it, the
early snapshots included), and their ratio. Written to ``compare.json`` and ``compare.md``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from neural_atlases.bench.measure import quality_metrics, run_cli
from neural_atlases.bench.results import publish
from neural_atlases.config import PRESETS, Config, to_dict
from neural_atlases.data.synthetic import Scene, SceneConfig, make_scene, write_project
from neural_atlases.io.project import Project
from neural_atlases.pipeline.trained import checkpoint_path, snapshot_path
from neural_atlases.training.checkpoint import read_checkpoint

POINTS = (1.0, 2.0, 5.0)
"""Minutes (of a 10-minute comparison) at which snapshots are measured for the table; the end of
the run is the last point."""
EARLY = (0.0, 0.25, 0.5)
"""Extra snapshots (minutes of a 10-minute comparison) that time the early reconstruction PSNR."""
COMPARED_PRESETS = {"fast": "single_layer", "paper": "paper"}
"""The compared models and their presets."""


def snapshot_minutes(minutes: float) -> tuple[float, ...]:
    """The snapshot times of a comparison with a ``minutes`` budget (10: the table's)."""
    scale = minutes / 10.0
    return tuple(sorted({round(m * scale, 6) for m in EARLY + POINTS}))


def budgets(minutes: float) -> tuple[float, ...]:
    """The table's points of a comparison with a ``minutes`` budget, the budget last."""
    scale = minutes / 10.0
    return (*(round(m * scale, 6) for m in POINTS), minutes)


def schedules_in_steps(config: Config) -> bool:
    """Whether a run's schedules are independent of its time budget (learning rate constant, no
    realignment, loss windows in steps): then a snapshot at ``m`` minutes is what an
    ``m``-minute run gives, less the final bake."""
    tc, lc = config.train, config.losses
    return (
        tc.lr_final_ratio == 1.0
        and not tc.realign_at
        and lc.bootstrap_steps > 0
        and lc.global_rigidity_steps > 0
    )


def run_model(out: Path, name: str, scene: Scene, minutes: float) -> list[dict[str, float]]:
    """Every point of one model on ``scene`` in a ``minutes`` comparison: one run with snapshots
    when its schedules are in steps, else one run per point (the first with the early snapshots).
    Returns one dict per point: ``minutes_asked``, ``wall_seconds``, ``steps`` and the quality
    metrics."""
    config = PRESETS[COMPARED_PRESETS[name]]
    if schedules_in_steps(config):
        return run_once(out / name, scene, config, minutes, snapshot_minutes(minutes))
    points: list[dict[str, float]] = []
    for i, budget in enumerate(budgets(minutes)):
        early = tuple(m for m in snapshot_minutes(minutes) if m < budget) if i == 0 else ()
        points += run_once(out / f"{name}_{budget:g}min", scene, config, budget, early)
    return points


def run_once(
    root: Path, scene: Scene, config: Config, minutes: float, asked: tuple[float, ...]
) -> list[dict[str, float]]:
    """Train ``config`` on ``scene`` in a fresh project ``root`` for ``minutes``, with snapshots at
    ``asked`` minutes; measure every snapshot and the end. Returns one dict per point, in time
    order."""
    shutil.rmtree(root, ignore_errors=True)
    write_project(scene, root)
    config_path = root.with_name(root.name + ".json")
    settings = to_dict(config)
    settings["preprocess"]["foreground_class"] = "motion"  # the synthetic sprites are no people
    config_path.write_text(json.dumps(settings, indent=2))
    seconds, _ = run_cli(
        "train",
        "-p",
        str(root),
        "-c",
        str(config_path),
        "--max-minutes",
        str(minutes),
        "--restart",
        *(("--snapshots", ",".join(f"{m:g}" for m in asked)) if asked else ()),
    )
    points: list[dict[str, float]] = []
    for m in asked:
        path = snapshot_path(Project(root), m)
        if not path.is_file():  # the run ended before this time
            continue
        payload = read_checkpoint(path)
        wall = float(payload["extra"]["wall_seconds"])
        if points and points[-1]["wall_seconds"] == wall:  # taken at the same moment as the last
            points.append({**points[-1], "minutes_asked": m})
            continue
        copy = root.with_name(f"{root.name}_at_{m:g}min")
        shutil.rmtree(copy, ignore_errors=True)
        write_project(scene, copy)
        checkpoint_path(Project(copy)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, checkpoint_path(Project(copy)))
        points.append(
            {
                "minutes_asked": m,
                "wall_seconds": wall,
                "steps": float(payload["state"]["step"]),
                **quality_metrics(copy, scene),
            }
        )
    final = read_checkpoint(checkpoint_path(Project(root)))
    points.append(
        {
            "minutes_asked": minutes,
            "wall_seconds": seconds,
            "steps": float(final["state"]["step"]),
            **quality_metrics(root, scene),
        }
    )
    return points


def time_to_reach(points: list[dict[str, float]], target: float, key: str = "reconstruction_psnr") -> float:
    """Wall seconds of the first point whose ``key`` reaches ``target`` (``inf`` if none does)."""
    return min((p["wall_seconds"] for p in points if p[key] >= target), default=float("inf"))


def at_minutes(points: list[dict[str, float]], minutes: float) -> dict[str, float] | None:
    """The point taken at ``minutes`` (as asked), or None."""
    return next((p for p in points if abs(p["minutes_asked"] - minutes) < 1e-9), None)


def summary(fast: list[dict[str, float]], paper: list[dict[str, float]], minutes: float) -> dict:
    """The comparison's figures: table rows at the table's points, the smallest lead, the times
    to the paper model's final reconstruction PSNR and their ratio."""
    rows: list[dict[str, Any]] = []
    for m in budgets(minutes):
        f, p = at_minutes(fast, m), at_minutes(paper, m)
        if f is not None and p is not None:
            rows.append({"minutes": m, "fast": f, "paper": p})
    target = paper[-1]["reconstruction_psnr"]
    t_fast, t_paper = time_to_reach(fast, target), time_to_reach(paper, target)
    leads = [r["fast"]["reconstruction_psnr"] - r["paper"]["reconstruction_psnr"] for r in rows]
    return {
        "minutes": minutes,
        "rows": rows,
        "paper_final_psnr": target,
        "fast_seconds_to_paper_final": t_fast,
        "paper_seconds_to_paper_final": t_paper,
        "speedup": t_paper / t_fast if t_fast > 0 else float("inf"),
        "smallest_lead_db": min(leads) if leads else float("nan"),
    }


def table(result: dict) -> str:
    """The comparison as Markdown: one row per point, then the time-to-PSNR line."""
    lines = [
        "| minutes (as measured: fast / paper) | reconstruction fast / paper (dB) "
        "| clean plate fast / paper (dB) "
        "| edit fast / paper (dB) | steps fast / paper |",
        "|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        f, p = r["fast"], r["paper"]
        cells = [
            f"{r['minutes']:g} ({f['wall_seconds'] / 60:.2f} / {p['wall_seconds'] / 60:.2f})",
            *(f"{f[k]:.2f} / {p[k]:.2f}" for k in ("reconstruction_psnr", "clean_plate_psnr", "edit_psnr")),
            f"{f['steps']:.0f} / {p['steps']:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Time to the paper model's {result['minutes']:g}-minute reconstruction PSNR "
        f"({result['paper_final_psnr']:.2f} dB): fast {result['fast_seconds_to_paper_final']:.1f} s, "
        f"paper {result['paper_seconds_to_paper_final']:.1f} s, "
        f"ratio {result['speedup']:.1f}. Smallest lead of the fast model at equal time: "
        f"{result['smallest_lead_db']:.2f} dB.",
    ]
    return "\n".join(lines)


def compare(out: Path, minutes: float = 10.0, scene_config: SceneConfig | None = None) -> dict:
    """Run the comparison into ``out/compare/`` and write ``out/compare.json`` and ``.md``
    (on the benchmark scene, or a smaller one to try the comparison out)."""
    scene = make_scene(scene_config or SceneConfig())
    work = out / "compare"
    work.mkdir(parents=True, exist_ok=True)
    points = {name: run_model(work, name, scene, minutes) for name in COMPARED_PRESETS}
    result = {**summary(points["fast"], points["paper"], minutes), "points": points}
    publish(out, "compare", table(result), result)
    return result
