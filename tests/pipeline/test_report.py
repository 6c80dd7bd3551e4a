"""Tests of neural_atlases.pipeline.report without training: the page from a training log alone
(what ``train`` writes at an evaluation), and the record of renders."""

from __future__ import annotations

from neural_atlases.cli.main import main
from neural_atlases.data.synthetic import SceneConfig, make_scene, write_project
from neural_atlases.io.project import Project
from neural_atlases.pipeline.report import collect, read_renders, record_render, write_report
from neural_atlases.training.log import append_record


def _project(tmp_path) -> Project:
    root = tmp_path / "clip"
    write_project(make_scene(SceneConfig(width=32, height=24, frames=3)), root)
    return Project(root)


def test_a_page_from_the_log_of_a_run_in_progress(tmp_path):
    project = _project(tmp_path)
    log = project.training_log_path
    append_record(
        log,
        {
            "event": "plan",
            "steps": 500,
            "start_step": 0,
            "frames": 3,
            "resolution": "32x24",
            "device": "cpu",
            "budget_seconds": None,
            "estimate_seconds": 9.0,
            "estimate_method": "timed",
            "config": {"train": {"steps": 500}},
        },
    )
    append_record(log, {"event": "loss", "step": 100, "seconds": 2.0, "total": 3.0, "batch_psnr": 25.0})
    append_record(log, {"event": "loss", "step": 200, "seconds": 4.0, "total": 2.0, "psnr": 28.0})
    data = collect(project)
    assert [r["step"] for r in data.history] == [100, 200]
    assert data.config == {"train": {"steps": 500}} and data.manifest is None
    assert data.frame_names == ["00000.png", "00001.png", "00002.png"]
    html = write_report(project).read_text()
    assert "Training: step 200 of at most 500" in html and "appear when training ends" in html


def test_the_report_command_with_a_log_and_no_checkpoint_yet(tmp_path, capsys):
    project = _project(tmp_path)
    append_record(project.training_log_path, {"event": "loss", "step": 100, "seconds": 2.0, "total": 3.0})
    assert main(["report", "-p", str(project.root)]) == 0
    assert capsys.readouterr().out.strip() == str(project.report_path)
    assert project.report_path.is_file()


def test_renders_are_recorded_once_per_path(tmp_path):
    project = _project(tmp_path)
    assert read_renders(project) == []
    out = project.renders_dir / "a.mp4"
    record_render(project, out, "foreground removed")
    record_render(project, project.renders_dir / "b", "the original video")
    record_render(project, out, "edited background (bg.png)")  # written again: the newer one counts
    renders = read_renders(project)
    assert [(r["path"], r["what"]) for r in renders] == [
        (str((project.renders_dir / "b").resolve()), "the original video"),
        (str(out.resolve()), "edited background (bg.png)"),
    ]
    rows = collect(project).renders
    assert [r["href"] for r in rows] == ["renders/b", "renders/a.mp4"] and not any(r["exists"] for r in rows)
    assert "(missing)" in write_report(project).read_text()


def test_an_unreadable_renders_record_reads_as_empty(tmp_path):
    project = _project(tmp_path)
    project.renders_record_path.parent.mkdir(parents=True, exist_ok=True)
    project.renders_record_path.write_text("[{broken")
    assert read_renders(project) == []
