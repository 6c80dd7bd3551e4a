"""Tests of neural_atlases.bench's measures that do not need a trained project."""

from __future__ import annotations

import numpy as np

from neural_atlases.bench import mask_iou, table
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
    assert mask_iou(project, alpha) == 16 / 24
    assert "| motion masks IoU | 0.67 | >= 0.7 |" in table({"mask_iou": 16 / 24})
