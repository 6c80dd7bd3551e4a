"""The report end to end: ``train`` writes it, ``render`` and ``evaluate`` feed it, ``report``
rebuilds it; and the page, opened in headless Chromium, shows every picture, video and plot."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from neural_atlases.cli.main import main
from neural_atlases.data.synthetic import SceneConfig, make_scene, write_project
from neural_atlases.io.project import Project
from neural_atlases.report.media import read_manifest
from neural_atlases.training.log import read_log

SMALL_CONFIG = {
    "train": {"batch_size": 512, "eval_every": 10, "checkpoint_every": 10},
    "preprocess": {"flow_gaps": [1, 2]},
}


def run(args: list, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    """A tiny project trained for 20 steps, with one render, evaluated."""
    base = tmp_path_factory.mktemp("report")
    config = base / "small.json"
    config.write_text(json.dumps(SMALL_CONFIG))
    root = base / "clip"
    write_project(make_scene(SceneConfig(width=48, height=32, frames=5)), root, masks=True)
    assert main(["train", "-p", str(root), "-s", "20", "-c", str(config)]) == 0
    assert (
        main(["render", "-p", str(root), "-r", "foreground", "-o", str(root / "results/renders/no_fg.mp4")])
        == 0
    )
    assert main(["evaluate", "-p", str(root)]) == 0
    return Project(root)


def test_train_logs_losses_and_writes_the_report(project):
    records = read_log(project.training_log_path)
    events = [r["event"] for r in records]
    assert events[0] == "plan" and events[-1] == "done"
    plan = records[0]
    assert plan["resolution"] == "48x32" and plan["frames"] == 5 and plan["device"] == "cpu"
    assert (
        plan["steps"] == 20 and plan["estimate_seconds"] > 0 and plan["config"]["train"]["batch_size"] == 512
    )
    losses = [r for r in records if r["event"] == "loss"]
    assert [r["step"] for r in losses] == [10, 20]  # the evaluations (eval_every 10)
    assert all(r["psnr"] > 10 and r["rgb"] > 0 and r["total"] > 0 and r["seconds"] > 0 for r in losses)
    assert records[-1]["step"] == 20 and records[-1]["train"] > 0 and records[-1]["bake"] > 0
    manifest = read_manifest(project.report_media_dir)
    assert manifest is not None and manifest.step == 20 and len(manifest.per_frame_psnr) == 5
    assert project.report_path.is_file()


def test_render_is_recorded_and_evaluate_refreshes_the_report(project):
    renders = json.loads(project.renders_record_path.read_text())
    assert [Path(r["path"]).name for r in renders] == ["no_fg.mp4"]
    assert renders[0]["what"] == "foreground removed"
    html = project.report_path.read_text()
    assert "no_fg.mp4" in html and "foreground removed" in html  # written by evaluate, after render


def test_report_command_prints_the_path_and_rebuilds_stale_media(project, capsys):
    (project.report_media_dir / "media.json").unlink()
    status, out, err = run(["report", "-p", project.root], capsys)
    assert status == 0, err
    assert out.strip() == str(project.report_path)
    assert read_manifest(project.report_media_dir).step == 20


def test_train_prints_its_plan_before_training(project, capsys):
    status, _, err = run(["train", "-p", project.root, "-s", "24"], capsys)
    assert status == 0, err
    assert "training 5 frames of 48x32 on cpu: 4 steps (resuming at step 20)" in err
    assert "estimated training time:" in err and "ms a step" in err
    assert err.index("estimated training time") < err.index("training: ")  # before the first step
    assert read_manifest(project.report_media_dir).step == 24


def test_report_of_an_untrained_project_is_a_user_error(tmp_path, capsys):
    write_project(make_scene(SceneConfig(width=48, height=32, frames=3)), tmp_path / "new")
    status, _, err = run(["report", "-p", tmp_path / "new"], capsys)
    assert status == 2 and err.startswith("error: nothing to report") and "Traceback" not in err


# -- in a browser ---------------------------------------------------------------------------------
def _chrome():
    """A headless Chromium driven by chromedriver (skips when either is missing)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (dev extra)")
    from selenium.webdriver.chrome.service import Service

    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip("chromium and chromedriver are not installed (make browser installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=1400,1000")
    options.add_argument("--autoplay-policy=no-user-gesture-required")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(driver))


LOADED = """
const videos = [...document.querySelectorAll('video')];
const images = [...document.images];
return {
  ready: videos.every(v => v.readyState >= 1 || v.error) && images.every(i => i.complete),
  videos: videos.map(v => ({duration: v.duration, error: v.error ? v.error.code : null,
                            width: v.videoWidth, src: v.currentSrc.slice(0, 20)})),
  images: images.map(i => ({width: i.naturalWidth, src: i.currentSrc.slice(0, 20)})),
  paths: [...document.querySelectorAll('svg path.series')].map(p => p.getAttribute('d')),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  height: document.body.scrollHeight,
};
"""


def test_the_report_opens_in_chromium_with_every_picture_video_and_plot(project, tmp_path):
    browser = _chrome()
    try:
        browser.get(project.report_path.resolve().as_uri())
        deadline = time.monotonic() + 30
        state = browser.execute_script(LOADED)
        while not state["ready"] and time.monotonic() < deadline:
            time.sleep(0.2)
            state = browser.execute_script(LOADED)
        browser.set_window_size(1400, min(state["height"] + 40, 6000))
        shot = tmp_path / "report.png"
        assert browser.save_screenshot(str(shot))
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        browser.quit()
    assert state["ready"], state
    assert errors == [], errors  # nothing failed to load or run
    # 1 input | reconstruction, 2 layers, 2 checkerboards; 2 atlases
    assert len(state["videos"]) == 5 and len(state["images"]) == 2
    for video in state["videos"]:
        assert video["error"] is None and video["duration"] > 0 and video["width"] > 0, video
        assert video["src"].startswith("data:video/webm")
    for image in state["images"]:
        assert image["width"] > 0 and image["src"].startswith("data:image/webp"), image
    # loss terms, PSNR against step and time (2 lines each), per-frame PSNR: every series has
    # points; terms logged once (bootstrapping, early rigidity) are a single point
    assert len(state["paths"]) >= 6 and all(d.startswith("M") for d in state["paths"]), state["paths"]
    assert sum(d.count("L") >= 1 for d in state["paths"]) >= 6, state["paths"]
    for link in state["links"]:  # the renders: no broken link
        assert Path(unquote(urlparse(link).path)).is_file(), link
    assert state["links"], "the render is linked"
    assert shot.stat().st_size > 10_000
