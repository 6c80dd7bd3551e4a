"""Tests of neural_atlases.io.lock: one ``train`` per project, and no lock outlives its process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from neural_atlases.cli.main import main
from neural_atlases.errors import UserError
from neural_atlases.io import lock
from neural_atlases.io.lock import LOCK_NAME, pid_is_running, project_lock

REPO = Path(__file__).resolve().parents[2]
HOLDER = """
import sys, time
from neural_atlases.io.lock import project_lock
with project_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_lock_is_taken_released_and_taken_again(tmp_path):
    with project_lock(tmp_path / "results") as path:
        assert path == tmp_path / "results" / LOCK_NAME
        assert path.read_text().strip() == str(os.getpid())
        with pytest.raises(UserError, match=f"process {os.getpid()} is already running `train`"):
            with project_lock(tmp_path / "results"):
                pass
    assert path.read_text() == ""
    with project_lock(tmp_path / "results"):
        pass


def test_a_second_train_refuses_while_the_first_holds_the_lock(tiny_trained, capsys):
    with project_lock(tiny_trained / "results"):
        capsys.readouterr()
        status = main(["train", "-p", str(tiny_trained), "-s", "25"])
        err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("error:"), err
    assert f"process {os.getpid()} is already running `train`" in err and str(tiny_trained) in err


def test_a_lock_held_by_a_killed_process_is_taken_over(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(UserError, match=f"process {holder.pid} is already running"):
            with project_lock(tmp_path):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert (tmp_path / LOCK_NAME).read_text().strip() == str(holder.pid)  # its pid stays behind
    with project_lock(tmp_path):  # but the kernel dropped its flock
        assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())


@pytest.mark.parametrize("holder,free", [(None, True), ("dead", True), ("live", False)])
def test_without_flock_the_pid_decides(tmp_path, monkeypatch, holder, free):
    monkeypatch.setattr(lock, "_flock", lambda fd: None)
    tmp_path.joinpath(LOCK_NAME).write_text(
        "" if holder is None else f"{_dead_pid() if holder == 'dead' else 1}\n"
    )
    if free:
        with project_lock(tmp_path):
            assert tmp_path.joinpath(LOCK_NAME).read_text().strip() == str(os.getpid())
    else:
        with pytest.raises(UserError, match="process 1 is already running"):
            with project_lock(tmp_path):
                pass


def test_pid_is_running():
    assert pid_is_running(os.getpid())
    assert pid_is_running(1)
    assert not pid_is_running(_dead_pid())
    assert not pid_is_running(0) and not pid_is_running(-5)


def test_a_lock_that_cannot_be_made_is_a_user_error(tmp_path):
    (tmp_path / "results").write_text("a file where the results folder should be")
    with pytest.raises(UserError, match="cannot write"):
        with project_lock(tmp_path / "results"):
            pass
