"""A process killed inside ``atomic_write_path`` leaves only a hidden temporary file, never a torn
file under the real name; ``remove_partial_writes`` sweeps such leftovers away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from neural_atlases.io.images import read_image, remove_partial_writes, write_image

REPO = Path(__file__).resolve().parents[2]
DIE_MID_WRITE = """
import os, sys
from pathlib import Path
from neural_atlases.io.images import atomic_write_path
with atomic_write_path(Path(sys.argv[1])) as tmp:
    tmp.write_bytes(b"half an ima")
    os._exit(9)  # as a kill -9 would: no cleanup runs
"""


def test_a_write_killed_halfway_leaves_the_old_file_and_a_temporary_that_is_swept(tmp_path):
    path = tmp_path / "atlas.png"
    write_image(path, np.full((4, 6, 3), 7, np.uint8))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", DIE_MID_WRITE, str(path)], env=env, timeout=60)
    assert result.returncode == 9
    assert (read_image(path) == 7).all()  # the old file is whole
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name != "atlas.png")
    assert len(leftovers) == 1 and leftovers[0].startswith(".atlas.") and ".tmp" in leftovers[0]
    assert [p.name for p in remove_partial_writes(tmp_path)] == leftovers
    assert sorted(p.name for p in tmp_path.iterdir()) == ["atlas.png"]
    assert remove_partial_writes(tmp_path / "missing") == []


def test_written_files_get_the_usual_mode_not_mkstemps_0600(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = tmp_path / "atlas.png"
    write_image(path, np.zeros((2, 2, 3), np.uint8))
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
