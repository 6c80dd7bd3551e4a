"""Tests of neural_atlases.training.log: the training log's records, reading and history."""

from __future__ import annotations

import json
import math

import pytest

from neural_atlases.training.log import LossMeter, append_record, loss_history, read_log


def test_loss_meter_means_and_batch_psnr_of_the_mean_error():
    meter = LossMeter()
    assert meter.means() == {}
    meter.add({"rgb": 1.0, "total": 3.0, "rgb_psnr": 20.0})  # mse 0.01
    meter.add({"rgb": 3.0, "total": 5.0, "rgb_psnr": 30.0})  # mse 0.001
    means = meter.means()
    assert means["rgb"] == pytest.approx(2.0) and means["total"] == pytest.approx(4.0)
    assert means["batch_psnr"] == pytest.approx(10 * math.log10(1 / 0.0055))  # not the mean, 25
    assert "rgb_psnr" not in means and "_mse" not in means
    meter.reset()
    assert meter.means() == {} and meter.count == 0


def test_append_and_read_round_trip_with_nan_as_null(tmp_path):
    path = tmp_path / "results" / "log.jsonl"
    assert read_log(path) == []
    append_record(path, {"event": "loss", "step": 1, "rgb": 0.5})
    append_record(path, {"event": "loss", "step": 2, "rgb": float("nan"), "_private": 1})
    records = read_log(path)
    assert records == [{"event": "loss", "step": 1, "rgb": 0.5}, {"event": "loss", "step": 2, "rgb": None}]
    assert all(json.loads(line) for line in path.read_text().splitlines())  # strict JSON lines


def test_a_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "log.jsonl"
    append_record(path, {"event": "loss", "step": 1})
    with open(path, "a") as f:
        f.write('{"event": "loss", "st')  # killed mid-write
    assert read_log(path) == [{"event": "loss", "step": 1}]


def test_loss_history_keeps_the_resumed_run_where_steps_were_logged_twice():
    records = [
        {"event": "plan", "steps": 400},
        {"event": "loss", "step": 100, "rgb": 4.0},
        {"event": "loss", "step": 200, "rgb": 3.0},
        {"event": "loss", "step": 300, "rgb": 2.0},  # killed after this; checkpoint at 200
        {"event": "plan", "steps": 400},
        {"event": "loss", "step": 300, "rgb": 2.5},
        {"event": "loss", "step": 400, "rgb": 1.5},
        {"event": "done", "step": 400},
    ]
    history = loss_history(records)
    assert [(r["step"], r["rgb"]) for r in history] == [(100, 4.0), (200, 3.0), (300, 2.5), (400, 1.5)]
