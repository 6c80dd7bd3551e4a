"""The report page: pure functions from a ``ReportData`` to one self-contained HTML document.

Every picture and video is carried inline as a ``data:`` URI, so the page opens from disk in any
browser with no server and can be copied or mailed alone. Plots are inline SVG (``plots``). Only
the renders are links (files the user made, possibly large), relative to the page.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from html import escape

from neural_atlases.progress import format_duration
from neural_atlases.report.media import MediaManifest
from neural_atlases.report.plots import Marker, PlotSpec, Series, line_plot

NON_LOSS_KEYS = frozenset({"event", "step", "seconds", "time", "psnr", "batch_psnr"})
"""Keys of a ``"loss"`` log record that are not loss terms."""
WORST_FRAMES = 3
"""How many of the worst frames the per-frame plot names."""


@dataclass
class ReportData:
    """Everything the page shows, already read from the project."""

    title: str
    root: str
    generated: str
    """When the page was written (UTC, ISO 8601)."""
    plan: dict | None = None
    """The last ``"plan"`` record of the training log."""
    history: list[dict] = field(default_factory=list)
    """``"loss"`` records in step order (``training.log.loss_history``)."""
    done: dict | None = None
    """The last ``"done"`` record of the training log."""
    config: dict | None = None
    manifest: MediaManifest | None = None
    videos: list[tuple[str, bytes]] = field(default_factory=list)
    """(title, WebM bytes), in the order shown."""
    images: list[tuple[str, bytes]] = field(default_factory=list)
    """(title, WebP bytes), in the order shown."""
    frame_names: list[str] = field(default_factory=list)
    """Input frame file names, by index."""
    renders: list[dict] = field(default_factory=list)
    """``{"href", "path", "what", "time", "exists"}`` per recorded render, oldest first."""


def data_uri(payload: bytes, mime: str) -> str:
    """``data:MIME;base64,...`` for ``payload``."""
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


def worst_frames(per_frame: list[float], count: int = WORST_FRAMES) -> list[int]:
    """Indices of the ``count`` lowest finite values, worst first.

    >>> worst_frames([30.0, 20.0, 40.0, 25.0], 2)
    [1, 3]
    """
    finite = [(v, i) for i, v in enumerate(per_frame) if v is not None and math.isfinite(v)]
    return [i for _, i in sorted(finite)[:count]]


def loss_terms(history: list[dict]) -> list[str]:
    """The loss-term names that occur in the records, ``total`` first, then by first appearance."""
    names: list[str] = []
    for record in history:
        for key in record:
            if key not in NON_LOSS_KEYS and key not in names:
                names.append(key)
    return sorted(names, key=lambda k: (k != "total", names.index(k)))


def training_plots(history: list[dict]) -> list[str]:
    """SVG plots of the training log: loss terms against step (log scale), and PSNR (training
    batches and evaluations) against step and against training time."""
    steps = [r["step"] for r in history]
    losses = [Series(k, steps, [r.get(k) for r in history]) for k in loss_terms(history)]
    evals = [r for r in history if r.get("psnr") is not None]

    def psnr_series(x_key: str) -> list[Series]:
        scale = 60.0 if x_key == "seconds" else 1.0

        def x(record: dict) -> float:
            value = record.get(x_key)
            return value / scale if isinstance(value, (int, float)) else math.nan

        return [
            Series("training batches", [x(r) for r in history], [r.get("batch_psnr") for r in history]),
            Series("evaluation", [x(r) for r in evals], [r["psnr"] for r in evals]),
        ]

    return [
        line_plot(losses, PlotSpec(title="weighted loss terms", x_label="step", y_label="loss", log_y=True)),
        line_plot(psnr_series("step"), PlotSpec(title="PSNR against step", x_label="step", y_label="dB")),
        line_plot(
            psnr_series("seconds"),
            PlotSpec(title="PSNR against training time", x_label="minutes", y_label="dB"),
        ),
    ]


def frame_label(index: int, names: list[str]) -> str:
    return f"{index} ({names[index]})" if index < len(names) else str(index)


def per_frame_plot(per_frame: list[float], names: list[str]) -> tuple[str, list[int]]:
    """The per-frame PSNR plot with the worst frames marked; returns (svg, worst frame indices)."""
    worst = worst_frames(per_frame)
    markers = tuple(Marker(i, per_frame[i], str(i)) for i in worst)
    svg = line_plot(
        [Series("reconstruction", list(range(len(per_frame))), per_frame)],
        PlotSpec(title="PSNR per frame", x_label="frame", y_label="dB", markers=markers, width=720),
    )
    return svg, worst


def duration(seconds: float | None) -> str:
    """``4.21`` -> ``"4.2 s"``; a minute or more as ``progress.format_duration`` writes it.

    >>> duration(4.21), duration(75.0)
    ('4.2 s', '01:15')
    """
    if seconds is not None and math.isfinite(seconds) and 0 <= seconds < 60:
        return f"{seconds:.1f} s"
    return format_duration(seconds)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _table(rows: list[tuple[str, object]]) -> str:
    body = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(_fmt(v))}</td></tr>" for k, v in rows if v is not None
    )
    return f'<table class="kv">{body}</table>'


def config_table(config: dict) -> str:
    """The config in force, one row per key: ``section | key | value``."""
    rows = []
    for section, values in config.items():
        if isinstance(values, dict):
            for i, (key, value) in enumerate(values.items()):
                head = f'<th rowspan="{len(values)}">{escape(section)}</th>' if i == 0 else ""
                rows.append(f"<tr>{head}<td>{escape(key)}</td><td>{escape(_fmt(value))}</td></tr>")
        else:
            rows.append(f"<tr><th>{escape(section)}</th><td></td><td>{escape(_fmt(values))}</td></tr>")
    return f'<table class="config">{"".join(rows)}</table>'


def status_line(data: ReportData) -> str:
    """One sentence on where the project stands."""
    last = data.history[-1] if data.history else None
    planned = (data.plan or {}).get("steps")
    if data.done is not None and (last is None or last["step"] <= data.done.get("step", 0)):
        return f"Trained for {data.done.get('step')} steps."
    if last is not None:
        of = f" of at most {planned}" if planned else ""
        return f"Training: step {last['step']}{of} ({duration(last.get('seconds', math.nan))} so far)."
    if data.manifest is not None:
        return f"Trained for {data.manifest.step} steps."
    return "Not trained yet: run `neural-atlases train`."


def timings_rows(data: ReportData) -> list[tuple[str, object]]:
    """Rows of the timings table (plan, the last run's measured times, the media)."""
    rows: list[tuple[str, object]] = []
    plan, done = data.plan or {}, data.done or {}
    if plan:
        rows.append(("estimated training time", duration(plan.get("estimate_seconds", math.nan))))
        rows.append(("estimate from", plan.get("estimate_method")))
    titles = {  # the final realignments and checkpoint come after the budget's clock stops
        "prepare": "preprocessing (last run)",
        "train": "training, final realignment included (last run)",
        "bake": "baking (last run)",
        "total": "total (last run)",
    }
    rows += [(title, duration(done[key])) for key, title in titles.items() if key in done]
    if data.history:
        last = data.history[-1]
        seconds = last.get("seconds") or 0.0
        rows.append(("training time counted against the budget, all runs", duration(seconds)))
        rows.append(("steps", last["step"]))
        if seconds > 0:
            rows.append(("steps per second", f"{last['step'] / seconds:.1f}"))
    if data.manifest is not None:
        rows.append(("making these videos", duration(data.manifest.seconds)))
    return rows


def _figure(title: str, inner: str) -> str:
    return f"<figure>{inner}<figcaption>{escape(title)}</figcaption></figure>"


def media_section(data: ReportData) -> str:
    """Videos and atlases, or a note saying when they will be there."""
    m = data.manifest
    if m is None:
        return (
            '<p class="note">The videos and atlases appear when training ends '
            "(or run <code>neural-atlases evaluate</code>).</p>"
        )
    head = (
        f"<p>Model at step {m.step}: reconstruction PSNR <b>{m.psnr:.2f} dB</b> over "
        f"{len(m.per_frame_psnr)} frames of {m.width}x{m.height}.</p>"
    )
    videos = "".join(
        _figure(
            title,
            f'<video src="{data_uri(payload, "video/webm")}" controls loop muted autoplay playsinline>'
            "</video>",
        )
        for title, payload in data.videos
    )
    images = "".join(
        _figure(title, f'<img class="atlas" src="{data_uri(payload, "image/webp")}" alt="{escape(title)}">')
        for title, payload in data.images
    )
    return (
        f'{head}<h2>Videos</h2><div class="grid">{videos}</div>'
        f'<h2>Atlases</h2><div class="grid">{images}</div>'
    )


def per_frame_section(data: ReportData) -> str:
    m = data.manifest
    if m is None or not m.per_frame_psnr:
        return ""
    svg, worst = per_frame_plot(m.per_frame_psnr, data.frame_names)
    named = ", ".join(
        f"frame {frame_label(i, data.frame_names)}: {m.per_frame_psnr[i]:.2f} dB" for i in worst
    )
    return f"<h2>PSNR per frame</h2>{svg}<p>Worst frames: {escape(named)}.</p>"


def renders_section(renders: list[dict]) -> str:
    if not renders:
        return '<h2>Renders</h2><p class="note">None yet (<code>neural-atlases render</code>).</p>'
    rows = []
    for r in reversed(renders):  # newest first
        link = (
            f'<a href="{escape(r["href"])}">{escape(r["path"])}</a>'
            if r.get("exists")
            else f"{escape(r['path'])} (missing)"
        )
        rows.append(
            f"<tr><td>{link}</td><td>{escape(str(r.get('what', '')))}</td>"
            f"<td>{escape(str(r.get('time', '')))}</td></tr>"
        )
    head = "<tr><th>output</th><th>what</th><th>when</th></tr>"
    return f'<h2>Renders</h2><table class="renders">{head}{"".join(rows)}</table>'


CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1500px}
h1{margin:0 0 4px}h2{margin:28px 0 8px;border-bottom:1px solid #ddd}
.grid{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
figure{margin:0}figcaption{color:#555;font-size:12px}
video{height:160px;max-width:100%;display:block;outline:1px solid #ccc}
img.atlas{height:200px;max-width:100%;display:block;
 background:repeating-conic-gradient(#ccc 0 25%,#fff 0 50%) 0 0/16px 16px}
table{border-collapse:collapse}
td,th{padding:2px 8px;text-align:left;vertical-align:top;border-bottom:1px solid #eee}
.plot text{font-size:11px;fill:#333}.plot .title{font-size:13px;font-weight:600}
.plot .grid{stroke:#eee}.plot .legend{font-size:10px}.note{color:#777}.marker-label{fill:#d62728}
"""


def render_page(data: ReportData) -> str:
    """The whole HTML document."""
    plan = data.plan or {}
    summary = _table(
        [
            ("project", data.root),
            ("frames", plan.get("frames")),
            ("resolution", plan.get("resolution")),
            ("device", plan.get("device")),
            ("steps asked", plan.get("steps")),
            ("time budget", duration(plan["budget_seconds"]) if plan.get("budget_seconds") else None),
            ("reconstruction PSNR", f"{data.manifest.psnr:.2f} dB" if data.manifest else None),
            ("page written", data.generated),
        ]
    )
    plots = "".join(training_plots(data.history))
    config = config_table(data.config) if data.config else '<p class="note">Not known yet.</p>'
    body = (
        f"<h1>{escape(data.title)}</h1><p>{escape(status_line(data))}</p>{summary}"
        f"{media_section(data)}"
        f'<h2>Training</h2><div class="grid">{plots}</div>'
        f"{per_frame_section(data)}"
        f"<h2>Timings</h2>{_table(timings_rows(data))}"
        f"{renders_section(data.renders)}"
        f"<h2>Config in force</h2>{config}"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(data.title)}: NeuralAtlases report</title><style>{CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )
