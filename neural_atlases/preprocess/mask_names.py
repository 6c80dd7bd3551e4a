"""Which mask backend a ``foreground_class`` names; imports neither torch nor OpenCV, so that a
config is checked before any heavy import (the command line's fail-fast checks)."""

from __future__ import annotations

from neural_atlases.errors import UserError

KEYWORD_CLASSES = ("auto", "motion", "anything", "modnet", "selfie", "rvm", "isnet")
"""``foreground_class`` values that are not COCO class names."""


def mask_backend_name(foreground_class: str) -> str:
    """The registry name serving ``foreground_class``; a misspelt class is a ``UserError`` that
    lists the valid ones. Only a COCO class name imports torchvision (its list of classes)."""
    if foreground_class in ("auto", "motion", "modnet", "selfie", "rvm", "isnet"):
        return foreground_class
    from neural_atlases.preprocess.detection import class_label

    try:
        class_label(foreground_class)
    except UserError as exc:
        raise UserError(f"{exc}; or one of: {', '.join(KEYWORD_CLASSES)}") from None
    return "maskrcnn"


def check_foreground_class(foreground_class: str) -> None:
    """``UserError`` naming the config key when no mask backend serves ``foreground_class``."""
    try:
        mask_backend_name(foreground_class)
    except UserError as exc:
        raise UserError(f"config: 'preprocess.foreground_class': {exc}") from None
