"""Tests of neural_atlases.training.checkpoint: atomic writes, random-number states, torn writes."""

from __future__ import annotations

import os
import random
import tempfile

import numpy as np
import pytest
import torch

from neural_atlases.config import Config
from neural_atlases.errors import UserError
from neural_atlases.io.images import new_file_mode
from neural_atlases.training.checkpoint import (
    CHECKPOINT_NAME,
    TEMPORARY_PREFIX,
    read_checkpoint,
    remove_partial_checkpoints,
    rng_states,
    save_checkpoint,
    set_rng_states,
)
from neural_atlases.training.trainer import TrainState


class _Tiny(torch.nn.Module):
    """Stands in for an AtlasModel: weights and a ``meta``."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.full((1000,), value))

    def meta(self) -> dict:
        return {"tiny": True}


def _draws() -> tuple:
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)]


def test_rng_states_round_trip():
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    states = rng_states()
    first = _draws()
    _draws()
    set_rng_states(states)
    assert _draws() == first


def test_a_checkpoint_holds_the_rng_states(tmp_path):
    torch.manual_seed(5)
    path = tmp_path / CHECKPOINT_NAME
    save_checkpoint(path, _Tiny(1.0), Config(), TrainState(step=7))
    expected = _draws()
    payload = read_checkpoint(path)
    set_rng_states(payload["rng"])
    assert _draws() == expected
    assert payload["state"]["step"] == 7 and os.listdir(tmp_path) == [CHECKPOINT_NAME]
    assert path.stat().st_mode & 0o777 == new_file_mode()  # not mkstemp's 0600


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_disk_full_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / CHECKPOINT_NAME
    save_checkpoint(path, _Tiny(1.0), Config(), TrainState(step=1))
    before = path.read_bytes()
    real = tempfile.mkstemp

    def full(*args, **kwargs):  # the temporary file's writes go to /dev/full: ENOSPC
        fd, name = real(*args, **kwargs)
        os.close(fd)
        return os.open("/dev/full", os.O_WRONLY), name

    monkeypatch.setattr(tempfile, "mkstemp", full)
    with pytest.raises(UserError, match=f"cannot write checkpoint {path}: No space left on device"):
        save_checkpoint(path, _Tiny(2.0), Config(), TrainState(step=2))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [CHECKPOINT_NAME]


def test_an_error_that_is_not_the_disks_still_shows(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        save_checkpoint(tmp_path / CHECKPOINT_NAME, _Tiny(1.0), Config(), TrainState())
    assert os.listdir(tmp_path) == []


def test_remove_partial_checkpoints(tmp_path):
    torn = tmp_path / f"{TEMPORARY_PREFIX}abc.tmp"
    torn.write_bytes(b"half a checkpoint")
    keep = [tmp_path / CHECKPOINT_NAME, tmp_path / "notes.tmp"]
    for p in keep:
        p.write_bytes(b"x")
    assert remove_partial_checkpoints(tmp_path) == [torn]
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in keep)
    assert remove_partial_checkpoints(tmp_path / "missing") == []
