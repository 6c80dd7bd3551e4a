"""Tests of neural_atlases.io.importing: a project made from a video, one shot or all."""

from __future__ import annotations

import os

import numpy as np
import pytest

from neural_atlases.errors import UserError
from neural_atlases.io.images import list_frame_files, read_frames
from neural_atlases.io.importing import init_project, read_clip, shot_project_dir, write_project
from neural_atlases.io.project import Project, check_single_shot, project_cuts
from neural_atlases.io.video import write_video


def make_video(path, t=6, h=24, w=40):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (h // 4, w // 4, 3), dtype=np.uint8).repeat(4, 0).repeat(4, 1)
    write_video(path, np.stack([np.roll(base, i, axis=1) for i in range(t)]), fps=12)
    return path


def test_init_project(tmp_path):
    video = make_video(tmp_path / "in.mp4", t=6, h=24, w=40)
    calls = []
    p = init_project(
        tmp_path / "proj",
        video,
        max_side=20,
        frame_range=(1, 5),
        progress=lambda d, t: calls.append((d, t)),
    )
    assert isinstance(p, Project)
    assert [f.name for f in list_frame_files(p.frames_dir)] == [f"{i:05d}.png" for i in range(4)]
    assert read_frames(p.frames_dir).shape == (4, 12, 20, 3)
    meta = p.load_meta()
    assert meta["fps"] == pytest.approx(12.0)
    assert meta["source"] == str(video.resolve())
    assert meta["size"] == [20, 12] and meta["num_frames"] == 4 and meta["frame_range"] == [1, 5]
    assert calls[-1] == (4, 4)
    assert sorted(x.name for x in p.root.iterdir()) == ["frames", "results"]  # no temp folders

    with pytest.raises(UserError, match="already holds 4 file.*--overwrite"):
        init_project(p.root, video)
    with pytest.raises(UserError, match="nope.mp4"):  # a bad video leaves the project alone
        init_project(p.root, tmp_path / "nope.mp4", overwrite=True)
    assert len(list_frame_files(p.frames_dir)) == 4

    p2 = init_project(p.root, video, size=(16, 8), overwrite=True)
    assert read_frames(p2.frames_dir).shape == (6, 8, 16, 3)
    assert p2.load_meta()["frame_range"] == [0, 6]
    assert sorted(x.name for x in p.root.iterdir()) == ["frames", "results"]


def test_init_into_an_empty_frames_folder(tmp_path):
    video = make_video(tmp_path / "in.mp4", t=2)
    (tmp_path / "proj" / "frames").mkdir(parents=True)
    p = init_project(tmp_path / "proj", video)
    assert len(list_frame_files(p.frames_dir)) == 2


def test_a_clip_of_two_shots(tmp_path, two_shot_video):
    video = two_shot_video(tmp_path / "cut.mp4")
    clip = read_clip(video)
    assert clip.cuts == [8] and clip.shots == [(0, 8), (8, 15)]
    assert "2 shots, 1: frames 0:8, 2: frames 8:15" in clip.describe()
    with pytest.raises(UserError, match="--shot 3: there is no such shot"):
        clip.check_shot(3)

    whole = write_project(tmp_path / "whole", clip)
    assert project_cuts(whole) == [8]
    with pytest.raises(UserError, match="spans 2 shots .*frames 8.*--shot all"):
        check_single_shot(whole)

    second = write_project(tmp_path / "second", clip, shot=2)
    assert read_frames(second.frames_dir).shape == (7, 48, 64, 3)
    meta = second.load_meta()
    assert meta["frame_range"] == [8, 15] and meta["shot"] == 2 and meta["cuts"]["at"] == []
    check_single_shot(second)  # one shot: no error

    # --frames 2: then shot 2: frame numbers stay the video's
    part = read_clip(video, frame_range=(2, None))
    assert part.cuts == [6] and "1: frames 2:8, 2: frames 8:15" in part.describe()
    assert write_project(tmp_path / "part", part, shot=2).load_meta()["frame_range"] == [8, 15]
    assert shot_project_dir(tmp_path / "bikes", 3) == tmp_path / "bikes_shot3"


def test_cuts_of_frames_given_by_hand_are_found_and_recorded(tmp_path, two_shot_video):
    clip = read_clip(two_shot_video(tmp_path / "cut.mp4"))
    project = write_project(tmp_path / "p", clip)
    project.meta_path.unlink()  # as if the frames had been copied in by hand
    assert project_cuts(project) == [8]
    assert project.load_meta()["cuts"]["at"] == [8]
    # a rewritten frame makes the record stale: found again
    frame = project.frame_files()[9]
    os.utime(frame, ns=(frame.stat().st_atime_ns, frame.stat().st_mtime_ns + 10**9))
    project.update_meta(cuts={"frames": "stale", "at": [3]})
    assert project_cuts(project) == [8]
