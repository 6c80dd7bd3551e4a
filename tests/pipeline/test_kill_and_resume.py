"""``train`` killed with SIGKILL at random moments (and stopped once with Ctrl-C), resumed each
time, ends where an uninterrupted run of the same steps and seed ends.

Each run is ``python -m neural_atlases train`` in a subprocess on a tiny synthetic project. The
config checkpoints after every step, so a kill that waits for a checkpoint's temporary file lands
inside a checkpoint write. Where each kill landed is read back from the project afterwards (no
checkpoint yet: preprocessing; a ``.checkpoint-*.tmp`` left behind: mid-write), not assumed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from neural_atlases.data.synthetic import SceneConfig, make_scene, write_project
from neural_atlases.io.images import read_frames
from neural_atlases.training.checkpoint import CHECKPOINT_NAME, TEMPORARY_PREFIX, load_checkpoint

STEPS, SEED = 30, 3
CONFIG = {
    "train": {"batch_size": 512, "eval_every": 10, "checkpoint_every": 1},
    "preprocess": {"flow_gaps": [1, 2]},
}
REPO = Path(__file__).resolve().parents[2]


def _start(root: Path, config: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    args = ["train", "-p", str(root), "-s", str(STEPS), "-c", str(config), "--seed", str(SEED)]
    return subprocess.Popen(
        [sys.executable, "-m", "neural_atlases", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    """A child of a shell without job control (``cmd &`` in a script, as a CI runner may start
    the suite) inherits SIGINT ignored, and Python then keeps ignoring it: give the child the
    default, as a terminal's Ctrl-C finds it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _lines(process: subprocess.Popen) -> queue.Queue:
    """stderr's lines as they come (None at the end), read on a thread so the pipe never fills."""
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in process.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue, prefix: str, timeout: float = 60.0) -> bool:
    """Wait until a stderr line starts with ``prefix``; False when the process ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if line is None:
            return False
        if line.startswith(prefix):
            return True
    raise AssertionError(f"no stderr line starting with {prefix!r} in {timeout} s")


def _rest(lines: queue.Queue) -> list[str]:
    """The remaining stderr lines, once the process has ended."""
    rest = []
    while (line := lines.get(timeout=30)) is not None:
        rest.append(line.rstrip("\n"))
    return rest


def _partial_checkpoints(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(f"{TEMPORARY_PREFIX}*.tmp")) if folder.is_dir() else []


def _kill(process: subprocess.Popen) -> bool:
    """SIGKILL, if it is still running; whether it was."""
    if process.poll() is not None:
        return False
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return True


def _finish(process: subprocess.Popen) -> None:
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err


def _psnr(root: Path) -> float:
    """Reconstruction PSNR (dB) of the checkpoint's model over every frame."""
    model, _, payload = load_checkpoint(root / "results" / "checkpoints" / CHECKPOINT_NAME)
    assert payload["state"]["step"] == STEPS
    frames = torch.from_numpy(read_frames(root / "frames")).float() / 255.0
    with torch.no_grad():
        mse = sum(float((model.render_frame(t).clamp(0, 1) - frames[t]).square().mean()) for t in range(5))
    return 10.0 * math.log10(len(frames) / mse)


def _inputs_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted((root / "frames").rglob("*")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    base = tmp_path_factory.mktemp("kill")
    scene = make_scene(SceneConfig(width=48, height=32, frames=5))
    for name in ("reference", "killed", "interrupted"):
        write_project(scene, base / name)
    config = base / "config.json"
    config.write_text(json.dumps(CONFIG))
    # the reference checkpoints once, at the end: checkpoints change nothing but the time taken
    once = base / "config_once.json"
    once.write_text(json.dumps({**CONFIG, "train": {**CONFIG["train"], "checkpoint_every": STEPS}}))
    return base / "reference", base / "killed", config, once, base / "interrupted"


def test_sigkill_at_random_moments_then_resume_matches_an_uninterrupted_run(projects):
    reference, killed, config, config_once, interrupted = projects
    inputs = _inputs_hash(killed)
    rng = random.Random(7)
    checkpoints = killed / "results" / "checkpoints"
    landed = []
    uninterrupted_run = _start(reference, config_once)  # alongside: each run uses one thread

    # 1. during preprocessing: as soon as the optical flow starts
    process = _start(killed, config)
    lines = _lines(process)
    assert _wait_for(lines, "optical flow")
    time.sleep(rng.uniform(0.0, 0.02))
    if _kill(process):
        landed.append("preprocessing" if not (checkpoints / CHECKPOINT_NAME).exists() else "training")

    # 2. mid-checkpoint: the moment a checkpoint's temporary file appears, early in training (again
    # if the write was over before the signal arrived)
    for _ in range(5):
        process = _start(killed, config)
        deadline = time.monotonic() + 120.0
        while (
            process.poll() is None and time.monotonic() < deadline and not _partial_checkpoints(checkpoints)
        ):
            time.sleep(0.0005)
        if not _kill(process):
            break
        landed.append("checkpoint write" if _partial_checkpoints(checkpoints) else "training")
        if landed[-1] == "checkpoint write":
            break

    # 3. mid-step: a random moment once training runs
    process = _start(killed, config)
    lines = _lines(process)
    if _wait_for(lines, "training:"):
        time.sleep(rng.uniform(0.0, 0.1))
        if _kill(process):
            landed.append("training")

    # resume to the end
    _finish(_start(killed, config))

    # 4. Ctrl-C (SIGINT) as training starts, on a fresh copy (a resumed run may have too few steps
    # left for the signal to land in training): a checkpoint is saved, one line says how to resume
    process = _start(interrupted, config)
    lines = _lines(process)
    assert _wait_for(lines, "training:")
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=300) == 2
    last = _rest(lines)[-1]
    assert last.startswith("error: interrupted at step ") and f"train -p {interrupted}` to resume" in last, (
        last
    )
    step = int(last.split()[4].rstrip(";"))
    interrupted_checkpoints = interrupted / "results" / "checkpoints"
    assert load_checkpoint(interrupted_checkpoints / CHECKPOINT_NAME)[2]["state"]["step"] == step
    _finish(_start(interrupted, config))
    _finish(uninterrupted_run)

    assert not _partial_checkpoints(checkpoints)  # the resumed run swept the torn write away
    assert not list((killed / "results" / "cache").glob(".*.tmp*"))
    assert _inputs_hash(killed) == inputs
    assert step < STEPS
    assert "preprocessing" in landed and "checkpoint write" in landed, landed
    assert abs(_psnr(interrupted) - _psnr(reference)) < 0.5
    resumed, uninterrupted = _psnr(killed), _psnr(reference)
    print(f"kills landed in {landed}; PSNR resumed {resumed:.3f} dB, uninterrupted {uninterrupted:.3f} dB")
    assert abs(resumed - uninterrupted) < 0.5
    assert uninterrupted > 20.0

    # the sampler and the global generators continued exactly: the weights match the
    # uninterrupted run's to float precision
    a = load_checkpoint(reference / "results" / "checkpoints" / CHECKPOINT_NAME)[0].state_dict()
    b = load_checkpoint(checkpoints / CHECKPOINT_NAME)[0].state_dict()
    assert a.keys() == b.keys()
    worst = max(float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].numel())
    print(f"largest weight difference {worst:.3g}")
    assert worst < 1e-3, worst
