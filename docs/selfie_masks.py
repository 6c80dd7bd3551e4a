"""Make docs/selfie_masks.png: frames of the carphone clip and their selfie masks.

Run from the repository root where the ``selfie`` extra is installed (``make install-selfie``):
``python docs/selfie_masks.py``. Each row: a frame | the mask over it (red) | the mask.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from neural_atlases.data.clips import packaged_clip
from neural_atlases.io.images import write_image
from neural_atlases.io.video import read_video
from neural_atlases.preprocess.backends import MaskOptions, mask_backend

FRAMES = (0, 60, 119)


def overlay(frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``frame`` ``uint8 [H, W, 3]`` tinted red by ``mask`` ``[H, W]`` in [0, 1]."""
    a = 0.55 * mask[..., None]
    return (frame * (1 - a) + np.array([255.0, 0.0, 0.0]) * a).astype(np.uint8)


def main(out: Path = Path("docs/selfie_masks.png")) -> None:
    frames, _ = read_video(packaged_clip("carphone_pristine.mp4"))
    picked = frames[list(FRAMES)]
    masks = mask_backend(MaskOptions(foreground_class="selfie")).run(picked, None)
    gap = np.full((picked.shape[1], 4, 3), 255, np.uint8)
    rows = []
    for frame, mask in zip(picked, masks, strict=True):
        grey = np.repeat((mask * 255).astype(np.uint8)[..., None], 3, axis=2)
        rows.append(np.concatenate([frame, gap, overlay(frame, mask), gap, grey], 1))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    write_image(out, np.concatenate(rows[:-1], 0))
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main(*[Path(a) for a in sys.argv[1:]])
