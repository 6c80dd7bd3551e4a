import numpy as np
import pytest

from neural_atlases.evaluation.overlap import iou, mask_iou


def test_iou_on_exact_answers():
    a = np.array([[True, True], [False, False]])
    b = np.array([[True, False], [True, False]])
    assert iou(a, b) == pytest.approx(1 / 3)
    assert iou(a, a) == 1.0
    assert iou(a, ~a) == 0.0


def test_two_empty_masks_agree():
    """One answer for the empty case everywhere (the benchmarks and ``auto``'s agreement check)."""
    empty = np.zeros((4, 4), bool)
    assert iou(empty, empty) == 1.0
    assert iou(empty, ~empty) == 0.0


def test_mask_iou_thresholds_soft_mattes():
    a = np.array([0.2, 0.6, 0.9])
    b = np.array([0.7, 0.4, 0.8])
    assert mask_iou(a, b) == pytest.approx(1 / 3)
    assert mask_iou(a, b, threshold=0.1) == 1.0
