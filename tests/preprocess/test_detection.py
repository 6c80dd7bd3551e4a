"""Tests of neural_atlases.preprocess.detection: the class filter and the union on made-up
detections, class names, and Mask R-CNN built with random weights, saved to a file and loaded
through the same path a user's weights take."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neural_atlases.errors import UserError
from neural_atlases.preprocess.backends import MaskOptions, mask_backend, mask_backend_name
from neural_atlases.preprocess.detection import (
    class_label,
    coco_categories,
    coco_classes,
    union_of_detections,
)


def boxes(h: int, w: int, rects: list[tuple[int, int, int, int]]) -> np.ndarray:
    """Instance masks ``float32 [N, h, w]``: probability 0.9 inside each ``(y0, y1, x0, x1)``."""
    out = np.zeros((len(rects), h, w), np.float32)
    for i, (y0, y1, x0, x1) in enumerate(rects):
        out[i, y0:y1, x0:x1] = 0.9
    return out


def test_union_keeps_the_class_above_the_threshold():
    bird, dog = class_label("bird"), class_label("dog")
    labels = np.array([bird, dog, bird, bird])
    scores = np.array([0.9, 0.95, 0.3, 0.6])
    masks = boxes(10, 12, [(0, 3, 0, 3), (5, 8, 5, 8), (0, 10, 0, 12), (7, 10, 9, 12)])
    out = union_of_detections(labels, scores, masks, bird, 0.5)
    expected = np.zeros((10, 12), np.float32)
    expected[0:3, 0:3] = expected[7:10, 9:12] = 1  # the dog and the low-scoring bird are out
    np.testing.assert_array_equal(out, expected)
    anything = union_of_detections(labels, scores, masks, None, 0.5)
    expected[5:8, 5:8] = 1
    np.testing.assert_array_equal(anything, expected)


def test_union_of_nothing_is_empty():
    out = union_of_detections(np.zeros(0, int), np.zeros(0), np.zeros((0, 4, 5), np.float32), None, 0.5)
    assert out.shape == (4, 5) and not out.any()
    masks = boxes(4, 5, [(0, 4, 0, 5)])
    masks[0] = 0.4  # below the mask probability
    assert not union_of_detections(np.array([1]), np.array([0.99]), masks, 1, 0.5).any()


def test_class_names_and_misspellings():
    assert coco_categories()[class_label("person")] == "person"
    assert class_label("anything") is None
    assert len(coco_classes()) == 80 and "N/A" not in coco_classes()
    with pytest.raises(UserError) as info:
        mask_backend_name("brid")
    message = str(info.value)
    assert "'brid'" in message and "did you mean 'bird'" in message
    assert "teddy bear" in message and "motion" in message and "\n" not in message
    for name, backend in [("motion", "motion"), ("modnet", "modnet"), ("selfie", "selfie")]:
        assert mask_backend_name(name) == backend
    assert mask_backend_name("anything") == mask_backend_name("dog") == "maskrcnn"


@pytest.fixture(scope="module")
def random_maskrcnn(tmp_path_factory):
    """A state dict of ``maskrcnn_resnet50_fpn_v2`` with random values, saved with torch.save."""
    from torchvision.models.detection import maskrcnn_resnet50_fpn_v2

    with torch.device("meta"):
        shapes = maskrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None, num_classes=91).state_dict()
    generator = torch.Generator().manual_seed(0)
    state = {}
    for name, tensor in shapes.items():
        if not tensor.is_floating_point():
            state[name] = torch.zeros(tensor.shape, dtype=tensor.dtype)
        elif name.endswith("running_var"):
            state[name] = torch.ones(tensor.shape)
        else:
            state[name] = 0.05 * torch.randn(tensor.shape, generator=generator)
    path = tmp_path_factory.mktemp("weights") / "maskrcnn.pth"
    torch.save(state, path)
    return path


def test_maskrcnn_with_random_weights_runs_through_the_users_path(random_maskrcnn):
    options = MaskOptions(
        foreground_class="anything",
        mask_weights=str(random_maskrcnn),
        score_threshold=0.0,
        detection_side=64,
        detection_proposals=50,
    )
    backend = mask_backend(options)
    assert backend.name == "maskrcnn" and backend.settings["class"] == "anything"
    frames = np.random.default_rng(0).integers(0, 256, (1, 32, 48, 3), dtype=np.uint8)
    calls = []
    masks = backend.run(frames, lambda d, n: calls.append((d, n)))
    assert masks.shape == (1, 32, 48) and masks.dtype == np.float32
    assert set(np.unique(masks)) <= {0.0, 1.0}
    assert calls == [(1, 1)]


def test_maskrcnn_weights_that_do_not_fit(tmp_path):
    wrong = tmp_path / "wrong.pth"
    torch.save(torch.nn.Linear(2, 2).state_dict(), wrong)
    backend = mask_backend(MaskOptions(foreground_class="person", mask_weights=str(wrong)))
    with pytest.raises(UserError, match="Mask R-CNN weights .* do not fit the model"):
        backend.run(np.zeros((1, 32, 32, 3), np.uint8), None)


def test_maskrcnn_without_weights_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("NEURAL_ATLASES_OFFLINE", "1")
    with pytest.raises(UserError) as info:
        mask_backend(MaskOptions(foreground_class="bird"))
    message = str(info.value)
    assert "maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth" in message
    assert "preprocess.mask_weights" in message and '"motion"' in message
