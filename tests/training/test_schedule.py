"""Tests of the trainer's schedules: by steps alone unless the run has a time budget."""

from __future__ import annotations

import pytest

from neural_atlases.training.trainer import TrainState, cosine_ratio, training_fraction


def test_without_a_budget_the_fraction_is_the_steps_alone():
    # however long it took (a resumed run has gaps and restarts), only the step counts
    for seconds in (0.0, 1.0, 1e9):
        assert training_fraction(TrainState(step=25, seconds=seconds), 100) == 0.25
    assert training_fraction(TrainState(step=0), 100) == 0.0
    assert training_fraction(TrainState(step=150), 100) == 1.0


def test_with_a_budget_the_further_of_steps_and_time():
    assert training_fraction(TrainState(step=25, seconds=60.0, budget_seconds=120.0), 100) == 0.5
    assert training_fraction(TrainState(step=75, seconds=60.0, budget_seconds=120.0), 100) == 0.75
    assert training_fraction(TrainState(step=1, seconds=500.0, budget_seconds=120.0), 100) == 1.0


@pytest.mark.parametrize("final", [0.05, 0.5, 1.0])
def test_cosine_ratio_ends(final):
    assert cosine_ratio(0.0, final) == pytest.approx(1.0)
    assert cosine_ratio(1.0, final) == pytest.approx(final)
    assert cosine_ratio(0.5, final) == pytest.approx((1.0 + final) / 2)
