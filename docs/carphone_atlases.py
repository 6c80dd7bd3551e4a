"""Make docs/carphone_atlases.png: the atlases of carphone trained with motion and selfie masks.

The projects come from (the selfie one where the ``selfie`` extra is installed):

    neural-atlases init -p /tmp/cp_motion --video carphone_pristine.mp4 --frames 0:40
    neural-atlases train -p /tmp/cp_motion -s 3000                  # motion masks (the default)
    neural-atlases init -p /tmp/cp_selfie --video carphone_pristine.mp4 --frames 0:40
    neural-atlases train -p /tmp/cp_selfie -s 3000 -c selfie.json    # selfie masks

with ``selfie.json`` holding ``{"preprocess": {"foreground_class": "selfie"}}``.

``python docs/carphone_atlases.py /tmp/cp_motion /tmp/cp_selfie``: one row per project, its
background atlas then its foreground atlas, on grey where the video does not use them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from neural_atlases.io.images import read_rgba, write_image

HEIGHT = 200


def on_grey(path: Path) -> np.ndarray:
    """An RGBA atlas over grey, scaled to ``HEIGHT`` rows."""
    rgba = read_rgba(path).astype(np.float32)
    alpha = rgba[..., 3:4] / 255.0
    rgb = (rgba[..., :3] * alpha + 128 * (1 - alpha)).astype(np.uint8)
    width = round(rgb.shape[1] * HEIGHT / rgb.shape[0])
    return cv2.resize(rgb, (width, HEIGHT), interpolation=cv2.INTER_AREA)


def main(projects: list[Path], out: Path = Path("docs/carphone_atlases.png")) -> None:
    rows = []
    for project in projects:
        atlases = project / "results" / "atlases"
        gap = np.full((HEIGHT, 4, 3), 255, np.uint8)
        background, foreground = (
            on_grey(atlases / "background_atlas.png"),
            on_grey(atlases / "foreground_atlas_0.png"),
        )
        rows.append(np.concatenate([background, gap, foreground], 1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    write_image(out, np.concatenate(rows, 0)[:-4])
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main([Path(a) for a in sys.argv[1:]])
