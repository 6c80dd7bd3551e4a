"""Tests of neural_atlases.report.page: the HTML of a report from its data."""

from __future__ import annotations

import base64
from html.parser import HTMLParser

from neural_atlases.report.media import MediaManifest
from neural_atlases.report.page import (
    ReportData,
    config_table,
    data_uri,
    loss_terms,
    render_page,
    status_line,
    timings_rows,
    worst_frames,
)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def _history() -> list[dict]:
    return [
        {
            "event": "loss",
            "step": 100,
            "seconds": 5.0,
            "total": 9.0,
            "rgb": 5.0,
            "flow": 4.0,
            "batch_psnr": 25.0,
        },
        {
            "event": "loss",
            "step": 200,
            "seconds": 10.0,
            "total": 6.0,
            "rgb": 3.0,
            "flow": 3.0,
            "batch_psnr": 28.0,
        },
        {"event": "loss", "step": 300, "seconds": 15.0, "total": 4.0, "rgb": 2.0, "flow": 2.0, "psnr": 31.0},
    ]


def _data(**changes) -> ReportData:
    manifest = MediaManifest(
        key="f:300", step=300, psnr=31.5, per_frame_psnr=[33.0, 29.0, 35.0, 28.0], fps=10, width=48, height=32
    )
    values = dict(
        title="clip <1>",
        root="/p/clip",
        generated="2026-01-01 00:00:00 UTC",
        plan={
            "event": "plan",
            "steps": 300,
            "start_step": 0,
            "frames": 4,
            "resolution": "48x32",
            "device": "cpu",
            "budget_seconds": None,
            "estimate_seconds": 14.0,
            "estimate_method": "timed",
        },
        history=_history(),
        done={"event": "done", "step": 300, "prepare": 1.0, "train": 15.5, "bake": 0.5, "total": 17.0},
        config={"train": {"steps": 300, "lr_atlas": 0.02}, "model": {"residual_cells": [32, 8]}},
        manifest=manifest,
        videos=[("input | reconstruction", b"\x1aE\xdf\xa3webm")],
        images=[("background atlas", b"RIFFxxxxWEBP")],
        frame_names=["a.png", "b.png", "c.png", "d.png"],
        renders=[
            {
                "href": "renders/x.mp4",
                "path": "/p/clip/results/renders/x.mp4",
                "what": "foreground removed",
                "time": "t",
                "exists": True,
            }
        ],
    )
    values.update(changes)
    return ReportData(**values)


def test_data_uri_round_trip():
    uri = data_uri(b"\x00\xffabc", "video/webm")
    head, payload = uri.split(",", 1)
    assert head == "data:video/webm;base64" and base64.b64decode(payload) == b"\x00\xffabc"


def test_worst_frames_and_loss_terms():
    assert worst_frames([33.0, 29.0, float("nan"), 28.0, 40.0], 2) == [3, 1]
    assert loss_terms(_history()) == ["total", "rgb", "flow"]


def test_page_embeds_every_video_and_image_and_draws_the_plots():
    html = render_page(_data())
    tags = _tags(html)
    videos = [a for t, a in tags if t == "video"]
    images = [a for t, a in tags if t == "img"]
    assert len(videos) == 1 and videos[0]["src"].startswith("data:video/webm;base64,")
    assert len(images) == 1 and images[0]["src"].startswith("data:image/webp;base64,")
    assert not [a for t, a in tags if t in ("script", "link")]  # nothing to fetch
    series = [a for t, a in tags if t == "path" and a.get("class") == "series"]
    # loss plot: total, rgb, flow; PSNR against step and time: batches, evaluation; per frame: one
    assert len(series) == 3 + 2 + 2 + 1
    assert all(a["d"].startswith("M") for a in series)
    assert "clip &lt;1&gt;" in html
    assert "frame 3 (d.png): 28.00 dB" in html and "frame 1 (b.png): 29.00 dB" in html
    assert 'href="renders/x.mp4"' in html
    assert "lr_atlas" in html and "32, 8" in html


def test_page_before_any_media_says_when_they_come():
    html = render_page(_data(manifest=None, videos=[], images=[], done=None))
    assert "appear when training ends" in html
    assert "<video" not in html and "<img" not in html


def test_status_line():
    assert status_line(_data()) == "Trained for 300 steps."
    assert status_line(_data(done=None)).startswith("Training: step 300 of at most 300")
    empty = _data(done=None, history=[], manifest=None)
    assert "Not trained yet" in status_line(empty)
    assert "Not trained yet" in render_page(empty) and "no data yet" in render_page(empty)


def test_timings_and_config_tables():
    rows = dict(timings_rows(_data()))
    assert rows["training, final realignment included (last run)"] == "15.5 s" and rows["steps"] == 300
    assert rows["steps per second"] == "20.0" and rows["estimated training time"] == "14.0 s"
    table = config_table({"train": {"steps": 3, "scribble": 10000.0}})
    assert '<th rowspan="2">train</th>' in table and "10000" in table
