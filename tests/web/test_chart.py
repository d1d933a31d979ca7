"""Layout of the volume chart: binning, gaps, scale and anomaly marks."""

from __future__ import annotations

import pytest

from logradar.web.chart import build_chart, nice_ceiling

S = 10**9
W = 10 * S


def _xy(points: str) -> list[tuple[float, float]]:
    return [tuple(map(float, p.split(","))) for p in points.split()]


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [
        (0, 1),
        (1, 1),
        (7, 8),
        (9, 10),
        (10, 10),
        (11, 20),
        (40, 40),
        (41, 50),
        (295, 300),
        (801, 1000),
    ],
)
def test_nice_ceiling(value, ceiling):
    assert nice_ceiling(value) == ceiling


def test_no_rows_no_chart():
    assert build_chart([], W) is None


def test_one_step_per_window_and_missing_windows_are_zero():
    rows = [("a", 0, 4), ("a", W, 6), ("a", 3 * W, 9), ("b", W, 2)]
    chart = build_chart(rows, W)
    assert chart is not None
    assert chart.bin_seconds == 10
    a, b = chart.series
    assert (a.stream, a.total, a.peak) == ("a", 19, 9)
    assert (b.stream, b.total, b.peak) == ("b", 2, 2)
    assert a.color != b.color
    height = chart.bottom - chart.top
    expected_a = [chart.top + height * (1 - v / 10) for v in (4, 6, 0, 9)]  # y axis up to 10
    pts = _xy(a.points)
    assert len(pts) == 8  # two points (left and right edge) per window
    assert [y for _, y in pts[::2]] == pytest.approx(expected_a, abs=0.05)
    assert pts[0][0] == pytest.approx(chart.left)
    assert pts[-1][0] == pytest.approx(chart.right)
    assert [t.label for t in chart.y_ticks] == ["0", "5", "10"]


def test_many_windows_are_summed_into_at_most_max_bins():
    rows = [("a", i * W, i + 1) for i in range(5)]  # counts 1..5
    chart = build_chart(rows, W, max_bins=2)
    assert chart is not None
    assert chart.bin_seconds == 30  # 5 windows in 2 bins: 3 windows per bin
    (a,) = chart.series
    assert (a.total, a.peak) == (15, 9)  # bins: 1+2+3 and 4+5


def test_only_anomalies_inside_the_time_span_are_marked():
    rows = [("a", 0, 1), ("a", 5 * W, 1)]
    chart = build_chart(rows, W, anomalies=[(2 * W, "high", "inside"), (10 * W, "low", "after")])
    assert chart is not None
    assert [m.label for m in chart.marks] == ["inside"]
    assert chart.left < chart.marks[0].x < chart.right


def test_a_stream_keeps_its_colour_when_others_are_filtered_out():
    both = build_chart([("a", 0, 1), ("b", 0, 1)], W, streams=["a", "b"])
    only_b = build_chart([("b", 0, 1)], W, streams=["a", "b"])
    assert both is not None and only_b is not None
    assert only_b.series[0].color == both.series[1].color != both.series[0].color
