"""Foreground masks from Mask R-CNN (torchvision ``maskrcnn_resnet50_fpn_v2``, COCO classes).

A frame's mask is the union of the instance masks of one class (or of every detection, for
``anything``) whose score reaches a threshold, as the original tool made them. The selection is
a pure function of the detections (``union_of_detections``) so it can be tested on made-up ones;
``maskrcnn_masks`` runs the model over a clip.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from neural_atlases.errors import UserError
from neural_atlases.preprocess.weights import WeightsSpec, load_into
from neural_atlases.progress import ProgressFn

ANYTHING = "anything"
"""The ``foreground_class`` that keeps every detection, whatever its class."""

MASKRCNN_WEIGHTS = WeightsSpec(
    what="Mask R-CNN",
    url="https://download.pytorch.org/models/maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth",
    config_key="preprocess.mask_weights",
    offline_options='use foreground_class "motion" (no weights), "selfie" (MediaPipe) or "modnet"',
)

MASK_PROBABILITY = 0.5
"""An instance mask covers a pixel where its probability is above this (torchvision's custom)."""


@lru_cache(maxsize=1)
def coco_categories() -> tuple[str, ...]:
    """The model's label names by index (``0`` is ``__background__``, ``N/A`` are unused ids),
    from torchvision's weights metadata: the one place they are written."""
    from torchvision.models.detection import MaskRCNN_ResNet50_FPN_V2_Weights

    return tuple(MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1.meta["categories"])


def coco_classes() -> list[str]:
    """The class names a user may ask for (``person``, ``bird``, ...), in the model's order."""
    return [name for name in coco_categories()[1:] if name != "N/A"]


def class_label(name: str) -> int | None:
    """The model's label index of COCO class ``name``; ``None`` for ``anything``.

    An unknown name raises ``UserError`` with the nearest class and the list of valid ones.
    """
    if name == ANYTHING:
        return None
    valid = coco_classes()
    if name not in valid:
        near = difflib.get_close_matches(name, valid, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        raise UserError(f"unknown foreground class '{name}'{hint}; valid COCO classes: {', '.join(valid)}")
    return coco_categories().index(name)


def union_of_detections(
    labels: np.ndarray, scores: np.ndarray, masks: np.ndarray, label: int | None, threshold: float
) -> np.ndarray:
    """One frame's foreground from its detections.

    labels: ``int [N]``; scores: ``float [N]``; masks: ``float [N, H, W]`` instance mask
    probabilities. Keeps detections of ``label`` (all of them when ``None``) with
    ``score >= threshold``. Returns ``float32 [H, W]`` in {0, 1}: 1 where any kept mask is above
    ``MASK_PROBABILITY``; all zeros when none is kept.
    """
    keep = scores >= threshold
    if label is not None:
        keep &= labels == label
    if not keep.any():
        return np.zeros(masks.shape[1:], np.float32)
    return np.asarray((masks[keep] > MASK_PROBABILITY).any(axis=0), np.float32)


def build_maskrcnn(
    weights: Path, min_side: int = 800, score_threshold: float = 0.05, proposals: int = 1000
) -> torch.nn.Module:
    """``maskrcnn_resnet50_fpn_v2`` with the weights in ``weights`` (a state dict), in eval mode.

    ``min_side``: frames are scaled so that their shorter side is this many pixels (torchvision's
    default 800, what the weights were trained at; smaller is faster and coarser).
    ``score_threshold``: detections scoring at most this are dropped before the mask head.
    ``proposals``: region proposals per frame given to the box head (torchvision's 1000; on a
    CPU the box head costs about 6 s a frame at 1000, whatever the frame size).
    The model is built on the meta device and takes the file's tensors as they are: no time is
    spent initialising weights that are then overwritten.
    """
    from torchvision.models.detection import maskrcnn_resnet50_fpn_v2

    with torch.device("meta"):
        model = maskrcnn_resnet50_fpn_v2(
            weights=None,
            weights_backbone=None,
            num_classes=len(coco_categories()),
            min_size=min_side,
            max_size=max(1333, min_side * 2),
            box_score_thresh=score_threshold,
            rpn_post_nms_top_n_test=proposals,
        )
    return load_into(model, weights, MASKRCNN_WEIGHTS, assign=True).eval()


@torch.no_grad()
def maskrcnn_masks(
    frames: np.ndarray,
    model: torch.nn.Module,
    label: int | None,
    threshold: float,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Masks ``float32 [T, H, W]`` in {0, 1} of frames ``uint8 [T, H, W, 3]`` (one frame at a time).

    ``label``/``threshold`` as in ``union_of_detections``. ``progress(done, total)`` after each frame.
    """
    device = next(model.parameters()).device
    t = frames.shape[0]
    out = np.empty(frames.shape[:3], np.float32)
    for i in range(t):
        image = torch.from_numpy(np.ascontiguousarray(frames[i])).to(device)
        image = image.permute(2, 0, 1).float() / 255.0  # [3, H, W] in [0, 1]
        found = model([image])[0]
        out[i] = union_of_detections(
            found["labels"].cpu().numpy(),
            found["scores"].cpu().numpy(),
            found["masks"][:, 0].cpu().numpy(),  # [N, 1, H, W] -> [N, H, W]
            label,
            threshold,
        )
        if progress is not None:
            progress(i + 1, t)
    return out
