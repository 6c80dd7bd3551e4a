"""The studio in headless Chromium (selenium; skipped where chromium or chromedriver is missing) on
a trained 24-frame project: a stroke painted with the mouse on frame 5 shows on frame 20 where the
video took it, as ``atlases -cf`` + ``render`` of the same stroke put it; save writes what the
command line writes."""

from __future__ import annotations

import base64
import io
import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from neural_atlases.cli.main import main
from neural_atlases.conventions import atlas_file_name, frame_file_name
from neural_atlases.io.images import read_frames, read_image, write_image
from neural_atlases.io.project import Project
from neural_atlases.io.video import read_video
from neural_atlases.studio.app import open_session
from neural_atlases.studio.edits import paint_over
from neural_atlases.studio.server import StudioServer

CHROME_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--use-angle=swiftshader",  # WebGL 2 without a GPU
    "--enable-unsafe-swiftshader",
    "--window-size=1400,1000",
)


def chrome():
    """A headless Chromium with WebGL 2 (software), or a skip."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (dev extra)")
    from selenium.webdriver.chrome.service import Service

    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip("chromium and chromedriver are not installed (make browser installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in CHROME_FLAGS:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(driver))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def trained24(tmp_path_factory, tiny_config) -> Path:
    """A 24-frame 64x48 synthetic clip (a camera pan and a moving sprite) trained for 30 steps."""
    from neural_atlases.data.synthetic import SceneConfig, make_scene, write_project

    root = tmp_path_factory.mktemp("studio") / "clip"
    write_project(make_scene(SceneConfig(width=64, height=48, frames=24)), root, masks=True)
    assert main(["train", "-p", str(root), "-s", "30", "-c", str(tiny_config)]) == 0
    return root


def wait_for(browser, script: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = browser.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {script}: {browser.get_log('browser')}")


def scrub(browser, t: int) -> None:
    """Move the scrubber to frame ``t`` as a user drags it, and wait for the frame."""
    browser.execute_script(
        "const s = document.getElementById('scrubber'); s.value = arguments[0];"
        "s.dispatchEvent(new Event('input'));",
        t,
    )
    wait_for(
        browser,
        f"return studio.t === {t} && document.getElementById('frame-label').textContent.startsWith('{t} ')",
    )
    time.sleep(0.3)
    browser.execute_script("return studio.show(arguments[0])", t)  # drawn (awaited by selenium)


def preview(browser, h: int, w: int) -> np.ndarray:
    data = base64.b64decode(browser.execute_script("return studio.readPreview()"))
    return np.frombuffer(data, np.uint8).reshape(h, w, 4)[..., :3]


def test_a_stroke_on_frame_5_follows_the_video_to_frame_20_as_the_command_line_renders_it(
    trained24, tmp_path
):
    from selenium.webdriver.common.action_chains import ActionChains

    project = Project(shutil.copytree(trained24, tmp_path / "clip"))
    server = StudioServer(open_session(project), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    frames = read_frames(project.frames_dir)
    _, h, w, _ = frames.shape
    browser = chrome()
    try:
        browser.get(server.url)
        wait_for(browser, "return window.studio && (studio.ready || studio.failed)")
        assert browser.execute_script("return studio.failed || null") is None
        scrub(browser, 5)
        np.testing.assert_array_equal(preview(browser, h, w), frames[5])  # no edit: the frame itself
        browser.execute_script(
            "const s = document.getElementById('size'); s.value = 7; s.dispatchEvent(new Event('input'));"
        )
        canvas = browser.find_element("id", "frame-stroke")  # 640 px wide: 10 px a frame pixel
        ActionChains(browser).move_to_element_with_offset(canvas, -160, -90).click_and_hold().move_by_offset(
            120, 40
        ).move_by_offset(120, 60).release().perform()
        wait_for(browser, "return studio.stats.strokes.length === 1")
        stroke = browser.execute_script("return studio.lastStroke")
        on_5 = preview(browser, h, w)
        scrub(browser, 20)
        on_20 = preview(browser, h, w)
        browser.find_element("id", "save").click()
        wait_for(browser, "return document.getElementById('save-status').textContent.startsWith('done')", 120)
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        browser.quit()
        server.shutdown()
        server.server_close()
    assert errors == [], errors

    # the same stroke through the command line: painted on frame 5, `atlases -cf`, `render`
    overlay = np.asarray(Image.open(io.BytesIO(base64.b64decode(stroke.split(",", 1)[1]))).convert("RGBA"))
    assert overlay[..., 3].any()
    edited = tmp_path / frame_file_name(5)
    write_image(edited, paint_over(frames[5], overlay))
    cli_atlases = tmp_path / "cli_atlases"
    assert main(["atlases", "-p", str(project.root), "-cf", str(edited), "-o", str(cli_atlases)]) == 0
    given = ["-b", str(cli_atlases / atlas_file_name(0)), "-f", str(cli_atlases / atlas_file_name(1))]
    assert main(["render", "-p", str(project.root), *given, "-o", str(tmp_path / "cli_frames")]) == 0
    assert main(["render", "-p", str(project.root), *given, "-o", str(tmp_path / "cli.mp4")]) == 0
    cli = read_frames(tmp_path / "cli_frames")

    # the stroke moved with the video: where frame 20 changed is not where frame 5 did
    changed_5 = np.abs(cli[5].astype(int) - frames[5]).max(-1) > 10
    changed_20 = np.abs(cli[20].astype(int) - frames[20]).max(-1) > 10
    assert changed_5.sum() > 20 and changed_20.sum() > 20, (changed_5.sum(), changed_20.sum())
    centre = [np.argwhere(c).mean(0) for c in (changed_5, changed_20)]
    assert np.linalg.norm(centre[0] - centre[1]) > 2.0, centre
    seen_20 = np.abs(on_20.astype(int) - frames[20]).max(-1) > 10
    assert (seen_20 & changed_20).sum() >= 0.9 * max(seen_20.sum(), changed_20.sum())
    # the preview as the command line renders it: within 1 dB, and close outright
    figures = {
        "psnr_preview_vs_original_20": psnr(on_20, frames[20]),
        "psnr_cli_vs_original_20": psnr(cli[20], frames[20]),
        "psnr_preview_vs_cli_5": psnr(on_5, cli[5]),
        "psnr_preview_vs_cli_20": psnr(on_20, cli[20]),
    }
    (tmp_path / "figures.json").write_text(json.dumps(figures))
    print(figures)
    assert abs(figures["psnr_preview_vs_original_20"] - figures["psnr_cli_vs_original_20"]) < 1.0, figures
    assert figures["psnr_preview_vs_cli_5"] > 40 and figures["psnr_preview_vs_cli_20"] > 40, figures

    # save wrote the command line's atlases and its render
    for k in range(2):
        saved = read_image(project.studio_dir / "atlases" / atlas_file_name(k))
        np.testing.assert_array_equal(saved, read_image(cli_atlases / atlas_file_name(k)))
        assert (project.studio_dir / "atlases" / atlas_file_name(k)).read_bytes() == (
            cli_atlases / atlas_file_name(k)
        ).read_bytes()
    # the same frames, encoded apart: x264's threads code them a little differently run to run, so
    # both videos are held to the exact frames (`render` to PNG) and must be as close as each other
    studio_video = read_video(project.studio_dir / "render.mp4")[0]
    cli_video = read_video(tmp_path / "cli.mp4")[0]
    assert studio_video.shape == cli_video.shape == cli.shape
    assert abs(psnr(studio_video, cli) - psnr(cli_video, cli)) < 0.5
