import json
import os
from pathlib import Path

import numpy as np
import pytest

from neural_atlases.errors import UserError
from neural_atlases.io.images import write_image
from neural_atlases.io.project import Project, frames_fingerprint, resolve_project
from neural_atlases.io.video import write_video


def make_video(path, t=6, h=24, w=40):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (h // 4, w // 4, 3), dtype=np.uint8).repeat(4, 0).repeat(4, 1)
    write_video(path, np.stack([np.roll(base, i, axis=1) for i in range(t)]), fps=12)
    return path


def test_paths():
    p = Project("projects/cat")
    assert p.root == p.frames_dir.parent
    assert p.frames_dir.as_posix() == "projects/cat/frames"
    assert p.masks_dir.as_posix() == "projects/cat/masks"
    assert p.scribbles_dir.as_posix() == "projects/cat/scribbles"
    results = p.results_dir
    assert results.as_posix() == "projects/cat/results"
    for attr, name in [
        ("cache_dir", "cache"),
        ("checkpoints_dir", "checkpoints"),
        ("evaluation_dir", "evaluation"),
        ("atlases_dir", "atlases"),
        ("edited_atlases_dir", "edited_atlases"),
        ("animated_atlases_dir", "animated_atlases"),
        ("baked_dir", "baked"),
        ("renders_dir", "renders"),
        ("masks_out_dir", "masks"),
        ("meta_path", "project.json"),
        ("log_path", "log.txt"),
    ]:
        assert getattr(p, attr) == results / name
    assert p.name == "cat"
    with pytest.raises(AttributeError):
        p.root = "elsewhere"  # frozen


def test_resolve_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "projects" / "cat").mkdir(parents=True)
    (tmp_path / "elsewhere" / "dog").mkdir(parents=True)
    assert resolve_project("cat") == Path("projects", "cat")
    assert resolve_project("elsewhere/dog") == Path("elsewhere", "dog")
    assert resolve_project(str(tmp_path / "elsewhere" / "dog")) == tmp_path / "elsewhere" / "dog"
    (tmp_path / "cat").mkdir()  # an existing folder path wins over a project name
    assert resolve_project("cat") == Path("cat")
    with pytest.raises(UserError, match=r"project not found: bird \(looked in bird and projects/bird\)"):
        resolve_project("bird")
    with pytest.raises(UserError, match=r"project not found: a/b \(looked in a/b\)"):
        resolve_project("a/b")
    assert resolve_project("bird", must_exist=False) == Path("projects", "bird")
    assert resolve_project("new/place", must_exist=False) == Path("new", "place")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        resolve_project("afile")


def test_meta(tmp_path):
    p = Project(tmp_path)
    assert p.load_meta() == {}
    assert p.fps() == 30.0
    p.save_meta({"fps": 25.0})
    assert p.update_meta(source="a.mp4") == {"fps": 25.0, "source": "a.mp4"}
    assert json.loads(p.meta_path.read_text()) == {"fps": 25.0, "source": "a.mp4"}
    assert p.fps() == 25.0
    p.meta_path.write_text("{broken")
    with pytest.raises(UserError, match="project.json"):
        p.load_meta()


def test_user_masks_and_fingerprint(tmp_path):
    p = Project(tmp_path)
    assert not p.has_user_masks()
    p.masks_dir.mkdir()
    assert not p.has_user_masks()
    write_image(p.masks_dir / "00000.png", np.zeros((4, 4), np.uint8))
    assert p.has_user_masks()

    for i in range(2):
        write_image(p.frames_dir / f"{i:05d}.png", np.full((4, 4, 3), i, np.uint8))
    fp = frames_fingerprint(p)
    assert len(fp) == 16 and fp == frames_fingerprint(tmp_path)
    write_image(p.frames_dir / "00002.png", np.zeros((4, 4, 3), np.uint8))
    assert frames_fingerprint(p) != fp
    (p.frames_dir / "00002.png").unlink()
    assert frames_fingerprint(p) == fp
    os.utime(p.frames_dir / "00001.png", ns=(1, 1))
    assert frames_fingerprint(p) != fp
