"""Tests of what neural_atlases.pipeline.train says before training (``format_plan``)."""

from __future__ import annotations

from neural_atlases.pipeline.train import format_plan

PLAN = {
    "frames": 30,
    "resolution": "256x144",
    "device": "cpu",
    "steps": 20000,
    "start_step": 0,
    "budget_seconds": None,
    "estimate_seconds": 95.0,
    "estimate_method": "50.0 ms a step",
}


def test_plan_by_steps():
    assert format_plan(PLAN).splitlines() == [
        "training 30 frames of 256x144 on cpu: 20000 steps",
        "estimated training time: 01:35 (50.0 ms a step), then baking",
    ]


def test_plan_by_time_budget_when_resuming():
    text = format_plan({**PLAN, "start_step": 500, "budget_seconds": 240.0, "estimate_seconds": 40.5})
    assert text.splitlines() == [
        "training 30 frames of 256x144 on cpu: 19500 steps (resuming at step 500), "
        "or until its training time budget of 04:00 runs out",
        "estimated training time: 40.5 s (50.0 ms a step), then baking",
    ]
