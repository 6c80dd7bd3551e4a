"""Tests of neural_atlases.bench.spine's and bench.measure's measures that do not need a trained project."""

from __future__ import annotations

import sys

import numpy as np

from neural_atlases.bench.measure import made_masks_iou, run_measured
from neural_atlases.bench.spine import table
from neural_atlases.conventions import frame_file_name
from neural_atlases.io.images import write_image
from neural_atlases.io.project import Project


def test_mask_iou_of_written_masks_against_the_true_alpha(tmp_path):
    project = Project(tmp_path)
    alpha = np.zeros((2, 8, 10), np.float32)
    alpha[:, 2:6, 2:6] = 0.8  # 16 pixels a frame
    for t in range(2):
        mask = np.zeros((8, 10), np.uint8)
        mask[2:6, 2:8] = 255  # 24 pixels, 16 of them right
        write_image(project.masks_out_dir / frame_file_name(t), mask)
    assert made_masks_iou(project, alpha) == 16 / 24
    assert "| motion masks IoU | 0.67 | >= 0.7 |" in table({"mask_iou": 16 / 24})


def test_run_measured_reads_the_childs_own_peak():
    """A child that holds 300 MB peaks above 300 MB; a child that holds nothing peaks far below
    this process (whose torch alone is hundreds of MB), which ``ru_maxrss`` would not show."""
    status, seconds, big = run_measured(
        [sys.executable, "-c", "import time; b = bytearray(300 << 20); time.sleep(0.3)"]
    )
    assert status == 0 and seconds > 0.3
    assert 0.29 < big < 0.5
    status, _, small = run_measured([sys.executable, "-c", "import time; time.sleep(0.3)"])
    assert status == 0 and small < 0.1
    status, _, _ = run_measured([sys.executable, "-c", "raise SystemExit(3)"])
    assert status == 3


def test_run_measured_keeps_the_childs_stderr_lines(capfd):
    lines: list[str] = []
    code = "import sys; print('a', file=sys.stderr); print(sys.stderr.isatty(), file=sys.stderr)"
    status, _, _ = run_measured([sys.executable, "-c", code], lines)
    assert status == 0
    assert lines == ["a", "False"]  # a pipe: the child writes its log, not a bar
    assert capfd.readouterr().err == "a\nFalse\n"  # and they are passed on
