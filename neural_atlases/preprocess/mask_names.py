"""The mask backends' registry: each backend registered once, by name, with a line of help and
where its factory lives. Imports neither torch nor OpenCV (the factory's module is imported when
the backend is built), so a config's ``foreground_class`` is checked before any heavy import.

``preprocess.backends.mask_backend`` builds what ``foreground_class`` names; a new backend is a
factory ``factory(options, motion_flow) -> MaskBackend`` in its own module and one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass

from neural_atlases.errors import UserError


@dataclass(frozen=True)
class MaskBackendEntry:
    name: str
    help: str
    factory: str
    """``"module:function"``, imported when the backend is built."""


_BACKENDS = "neural_atlases.preprocess.backends"

MASK_BACKENDS: dict[str, MaskBackendEntry] = {
    entry.name: entry
    for entry in (
        MaskBackendEntry(
            "auto",
            "the best that can be had: Robust Video Matting where it finds a person that ISNet agrees "
            "with, else ISNet where it finds an object, else motion; it says which it used",
            f"{_BACKENDS}:auto_backend",
        ),
        MaskBackendEntry(
            "motion", "class-agnostic motion segmentation, no weights", f"{_BACKENDS}:motion_backend"
        ),
        MaskBackendEntry(
            "rvm", "Robust Video Matting (people), fetched on first use", f"{_BACKENDS}:rvm_backend"
        ),
        MaskBackendEntry(
            "isnet",
            "ISNet general-object segmentation on keyframes, carried by flow between them; "
            "fetched on first use",
            f"{_BACKENDS}:isnet_backend",
        ),
        MaskBackendEntry(
            "modnet",
            "MODNet portrait matting from its ONNX export (modnet_onnx)",
            f"{_BACKENDS}:modnet_backend",
        ),
        MaskBackendEntry(
            "selfie", "MediaPipe's person segmentation (make install-selfie)", f"{_BACKENDS}:selfie_backend"
        ),
        MaskBackendEntry(
            "maskrcnn",
            "Mask R-CNN: 'anything', or a COCO class name such as 'person' or 'dog'",
            f"{_BACKENDS}:maskrcnn_backend",
        ),
    )
}
"""Every mask backend, by name."""

CLASS_BACKEND = "maskrcnn"
"""The backend that serves ``anything`` and COCO class names (which are not backend names)."""

KEYWORD_CLASSES = tuple(name for name in MASK_BACKENDS if name != CLASS_BACKEND) + ("anything",)
"""``foreground_class`` values that are not COCO class names."""


def mask_backend_name(foreground_class: str) -> str:
    """The registry name serving ``foreground_class``; a misspelt class is a ``UserError`` that
    lists the valid ones. Only a COCO class name imports torchvision (its list of classes)."""
    if foreground_class in MASK_BACKENDS and foreground_class != CLASS_BACKEND:
        return foreground_class
    from neural_atlases.preprocess.detection import class_label

    try:
        class_label(foreground_class)
    except UserError as exc:
        raise UserError(f"{exc}; or one of: {', '.join(KEYWORD_CLASSES)}") from None
    return CLASS_BACKEND


def check_foreground_class(foreground_class: str) -> None:
    """``UserError`` naming the config key when no mask backend serves ``foreground_class``."""
    try:
        mask_backend_name(foreground_class)
    except UserError as exc:
        raise UserError(f"config: 'preprocess.foreground_class': {exc}") from None
