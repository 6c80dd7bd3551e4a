"""Tests of neural_atlases.report.plots: ticks and SVG line plots."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from neural_atlases.report.plots import (
    Marker,
    PlotSpec,
    Series,
    format_tick,
    line_plot,
    log_ticks,
    nice_ticks,
)

SVG = "{http://www.w3.org/2000/svg}"


def _paths(svg: str) -> list[str]:
    root = ET.fromstring(svg)  # well-formed XML
    return [p.get("d") for p in root.iter(f"{SVG}path") if p.get("class") == "series"]


def _points(d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"[ML]([-\d.]+) ([-\d.]+)", d)]


@pytest.mark.parametrize(
    "low, high, expected",
    [
        (0, 10, [0, 2, 4, 6, 8, 10]),
        (0.3, 0.95, [0.4, 0.6, 0.8]),
        (17.2, 44.9, [20, 30, 40]),
        (-3, 3, [-2, 0, 2]),
        (0, 1000, [0, 200, 400, 600, 800, 1000]),
        (5, 5, [5]),
    ],
)
def test_nice_ticks(low, high, expected):
    assert nice_ticks(low, high) == pytest.approx(expected)


def test_nice_ticks_of_nothing_finite():
    assert nice_ticks(math.nan, 1.0) == []


def test_log_ticks_and_labels():
    assert log_ticks(0.5, 2000) == [0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0]
    assert [format_tick(v) for v in (0, 0.001, 2.5, 1000, 20000, 3e6)] == [
        "0",
        "0.001",
        "2.5",
        "1k",
        "20k",
        "3M",
    ]


def test_line_plot_draws_one_point_per_value_inside_the_axes():
    xs = list(range(10))
    svg = line_plot([Series("a", xs, [float(x * x) for x in xs])], PlotSpec(title="t", width=400, height=200))
    (d,) = _paths(svg)
    points = _points(d)
    assert len(points) == 10 and d.startswith("M") and d.count("L") == 9
    # x grows, y (screen, downwards) falls as the value grows
    assert all(b[0] > a[0] for a, b in zip(points, points[1:], strict=False))
    assert all(b[1] < a[1] for a, b in zip(points, points[1:], strict=False))
    for x, y in points:
        assert 0 <= x <= 400 and 0 <= y <= 200


def test_line_plot_breaks_the_line_at_missing_values_and_skips_non_positive_on_a_log_axis():
    svg = line_plot([Series("a", [0, 1, 2, 3, 4], [1.0, None, 2.0, math.nan, 3.0])], PlotSpec())
    assert _paths(svg)[0].count("M") == 3
    log = line_plot([Series("a", [0, 1, 2], [0.0, 10.0, 100.0])], PlotSpec(log_y=True))
    assert len(_points(_paths(log)[0])) == 2


def test_line_plot_of_no_data_says_so_and_escapes_text():
    svg = line_plot([Series("<a>", [], [])], PlotSpec(title="x < y & z"))
    ET.fromstring(svg)
    assert "no data yet" in svg and "x &lt; y &amp; z" in svg


def test_line_plot_markers_are_labelled():
    spec = PlotSpec(markers=(Marker(2, 20.0, "2"), Marker(5, 30.0, "5")))
    svg = line_plot([Series("psnr", list(range(8)), [30.0, 31, 20, 33, 34, 30, 35, 36])], spec)
    root = ET.fromstring(svg)
    markers = [c for c in root.iter(f"{SVG}circle") if c.get("class") == "marker"]
    assert len(markers) == 2
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "marker-label"]
    assert labels == ["2", "5"]


def test_several_series_get_a_legend_each():
    series = [Series(f"s{i}", [0, 1], [1.0 + i, 2.0 + i]) for i in range(3)]
    root = ET.fromstring(line_plot(series, PlotSpec()))
    legend = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "legend"]
    assert legend == ["s0", "s1", "s2"]
    assert len(_paths(line_plot(series, PlotSpec()))) == 3
