"""The training log: one JSON object a line, appended while ``train`` runs.

Three kinds of record, told apart by ``"event"``:

- ``"plan"``: what the run will do, written before the first step (``describe_plan``'s fields);
- ``"loss"``: every ``LOSS_EVERY`` steps and at each evaluation: ``step``, ``seconds`` (training
  seconds so far, over every resumed run), ``time`` (Unix time), the weighted loss terms and
  their ``total`` averaged over the steps since the last record, ``batch_psnr`` (PSNR of the
  training batches over those steps) and, at an evaluation, ``psnr`` (the trainer's evaluation
  PSNR in dB);
- ``"done"``: the run's timings in seconds (``prepare``, ``train``, ``bake``, ``total``) and the
  last ``step``.

Appending a line costs microseconds; a run that is killed leaves at most one torn last line,
which ``read_log`` skips.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

LOSS_EVERY = 100
"""Steps between two ``"loss"`` records (evaluations add their own)."""


class LossMeter:
    """Running means of the values ``Trainer.step`` returns, between two records."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, values: dict[str, float]) -> None:
        """Add one step's values; ``rgb_psnr`` is kept as its mean squared error, so that
        ``batch_psnr`` is the PSNR of the mean error, not the mean of the PSNRs."""
        for key, value in values.items():
            if key == "rgb_psnr":
                key, value = "_mse", 10.0 ** (-value / 10.0)
            self.sums[key] = self.sums.get(key, 0.0) + float(value)
        self.count += 1

    def means(self) -> dict[str, float]:
        """The mean of each value since the last ``reset``; ``{}`` when nothing was added."""
        if self.count == 0:
            return {}
        out = {k: v / self.count for k, v in self.sums.items() if k != "_mse"}
        if "_mse" in self.sums:
            out["batch_psnr"] = 10.0 * math.log10(1.0 / max(self.sums["_mse"] / self.count, 1e-12))
        return out

    def reset(self) -> None:
        self.sums.clear()
        self.count = 0


def _clean(value: object) -> object:
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def append_record(path: Path, record: dict) -> None:
    """Append one record as a line of JSON (the folder is made if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(_clean({k: v for k, v in record.items() if not k.startswith("_")}), sort_keys=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_log(path: Path) -> list[dict]:
    """The records of a log, oldest first; ``[]`` when there is none. Lines that are not a JSON
    object (a torn last line of a killed run) are skipped."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def loss_history(records: list[dict]) -> list[dict]:
    """The ``"loss"`` records of the model as it is now, in step order.

    A run resumed from a checkpoint older than its last records (it was killed between two
    checkpoints) logs those steps again: the later records replace the earlier ones from the
    step where the resumed run started.
    """
    history: list[dict] = []
    for record in records:
        if record.get("event") != "loss" or not isinstance(record.get("step"), (int, float)):
            continue
        while history and history[-1]["step"] >= record["step"]:
            history.pop()
        history.append(record)
    return history
