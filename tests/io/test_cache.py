"""Tests of neural_atlases.io.cache: a stale, torn or foreign cache is rebuilt, never trusted."""

from __future__ import annotations

import numpy as np
import pytest

from neural_atlases.io.cache import cache_key, cached, read_cache, write_cache


def _compute(counter: list) -> dict:
    counter.append(1)
    return {"flow": np.arange(12, dtype=np.float32).reshape(3, 4)}


def test_a_fresh_cache_is_read_and_not_recomputed(tmp_path):
    path, key, calls = tmp_path / "flow.npz", cache_key(frames="abc", gap=1), []
    first = cached(path, key, lambda: _compute(calls))
    second = cached(path, key, lambda: _compute(calls))
    assert len(calls) == 1 and np.array_equal(first["flow"], second["flow"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flow.npz"]  # no temporary file left


def test_cache_key_is_canonical():
    assert cache_key(a=1, b=[2, 3]) == cache_key(b=[2, 3], a=1)
    assert cache_key(a=1) != cache_key(a=2)


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),  # half-written
        lambda p: p.write_bytes(b""),
        lambda p: p.write_bytes(b"PK\x03\x04 not really a zip"),
        lambda p: np.savez(p, flow=np.zeros(3)),  # no key
        lambda p: write_cache(p, cache_key(frames="other", gap=1), {"flow": np.zeros(3)}),  # stale
    ],
    ids=["half", "empty", "garbage", "no key", "stale"],
)
def test_a_damaged_or_stale_cache_is_rebuilt(tmp_path, damage):
    path, key, calls = tmp_path / "flow.npz", cache_key(frames="abc", gap=1), []
    cached(path, key, lambda: _compute(calls))
    damage(path)
    assert read_cache(path, key) is None
    again = cached(path, key, lambda: _compute(calls))
    assert len(calls) == 2 and again["flow"].shape == (3, 4)
    assert read_cache(path, key) is not None
