"""Tests of neural_atlases.bench.compare's bookkeeping (the runs themselves are the benchmark's)."""

from __future__ import annotations

import math

import pytest

from neural_atlases.bench import compare as bench_compare
from neural_atlases.bench.compare import (
    budgets,
    schedules_in_steps,
    snapshot_minutes,
    summary,
    table,
    time_to_reach,
)
from neural_atlases.config import PRESETS


def _point(minutes: float, seconds: float, recon: float, steps: int = 0) -> dict[str, float]:
    return {
        "minutes_asked": minutes,
        "wall_seconds": seconds,
        "steps": float(steps),
        "reconstruction_psnr": recon,
        "clean_plate_psnr": recon - 3.0,
        "edit_psnr": recon - 6.0,
    }


def test_snapshot_minutes_scale_with_the_budget():
    assert snapshot_minutes(10.0) == (0.0, 0.25, 0.5, 1.0, 2.0, 5.0)
    assert snapshot_minutes(0.5) == (0.0, 0.0125, 0.025, 0.05, 0.1, 0.25)


def test_budgets_are_the_table_points_scaled():
    assert budgets(10.0) == (1.0, 2.0, 5.0, 10.0)
    assert budgets(0.5) == (0.05, 0.1, 0.25, 0.5)


def test_only_the_paper_preset_has_schedules_in_steps():
    assert schedules_in_steps(PRESETS["paper"])
    assert not schedules_in_steps(PRESETS["single_layer"])


def test_the_fast_model_is_trained_once_per_budget_and_the_paper_model_once(monkeypatch, tmp_path):
    calls = []

    def run_once(root, scene, config, minutes, asked):
        calls.append((root.name, minutes, asked))
        return [_point(minutes, minutes * 60.0, 30.0)]

    monkeypatch.setattr(bench_compare, "run_once", run_once)
    fast = bench_compare.run_model(tmp_path, "fast", None, 10.0)
    assert calls == [
        ("fast_1min", 1.0, (0.0, 0.25, 0.5)),  # the early snapshots, in the shortest run
        ("fast_2min", 2.0, ()),
        ("fast_5min", 5.0, ()),
        ("fast_10min", 10.0, ()),
    ]
    assert [p["minutes_asked"] for p in fast] == [1.0, 2.0, 5.0, 10.0]
    calls.clear()
    bench_compare.run_model(tmp_path, "paper", None, 10.0)
    assert calls == [("paper", 10.0, (0.0, 0.25, 0.5, 1.0, 2.0, 5.0))]


def test_time_to_reach_takes_the_first_point_at_or_above_the_target():
    points = [_point(0, 20.0, 30.0), _point(1, 61.0, 36.0), _point(2, 121.0, 35.0)]
    assert time_to_reach(points, 30.0) == 20.0
    assert time_to_reach(points, 35.5) == 61.0
    assert time_to_reach(points, 40.0) == math.inf


def test_summary_rows_lead_and_ratio():
    fast = [
        _point(0.0, 20.0, 30.0, 0),
        _point(1.0, 60.0, 36.0, 1000),
        _point(2.0, 120.0, 38.0, 2000),
        _point(5.0, 300.0, 41.0, 5000),
        _point(10.0, 600.0, 43.0, 10000),
    ]
    paper = [
        _point(0.0, 5.0, 10.0, 0),
        _point(1.0, 60.0, 11.0, 0),
        _point(2.0, 120.0, 12.0, 0),
        _point(5.0, 300.0, 15.0, 40),
        _point(10.0, 600.0, 17.0, 120),
    ]
    result = summary(fast, paper, 10.0)
    assert [r["minutes"] for r in result["rows"]] == [1.0, 2.0, 5.0, 10.0]
    assert result["paper_final_psnr"] == 17.0
    assert result["fast_seconds_to_paper_final"] == 20.0
    assert result["paper_seconds_to_paper_final"] == 600.0
    assert result["speedup"] == pytest.approx(30.0)
    assert result["smallest_lead_db"] == pytest.approx(25.0)  # 36 - 11 at one minute
    text = table(result)
    assert text.count("\n| ") == 4  # four rows below the header
    assert "| 1 (1.00 / 1.00) | 36.00 / 11.00 | 33.00 / 8.00 | 30.00 / 5.00 | 1000 / 0 |" in text
    assert "ratio 30.0" in text


def test_summary_of_a_scaled_run_skips_points_that_were_not_taken():
    fast = [_point(0.05, 3.0, 30.0), _point(0.5, 30.0, 33.0)]
    paper = [_point(0.5, 30.0, 9.0)]
    result = summary(fast, paper, 0.5)
    assert [r["minutes"] for r in result["rows"]] == [0.5]
    assert result["speedup"] == pytest.approx(10.0)
