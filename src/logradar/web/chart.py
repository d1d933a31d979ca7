"""The per-stream volume chart of the UI, laid out server-side as plain SVG coordinates.

Windows are summed into at most ``max_bins`` equal bins over the data's time span; a window
with no stored count is drawn as 0, so a stream that stops shows as a drop. Each stream is a
step line (one flat segment per bin), so a single bin still draws.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

#: Okabe-Ito colours (colour-blind safe), without yellow, which is unreadable on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
SEVERITY_COLORS = {
    "info": "#6b7280",
    "low": "#2563eb",
    "medium": "#d97706",
    "high": "#dc2626",
    "critical": "#7f1d1d",
}

WIDTH, HEIGHT = 960, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 28


@dataclass(frozen=True, slots=True)
class Series:
    stream: str
    color: str
    points: str
    """SVG ``polyline`` points."""
    total: int
    peak: int


@dataclass(frozen=True, slots=True)
class Mark:
    """An anomaly drawn as a tick at the top of the plot."""

    x: float
    color: str
    label: str


@dataclass(frozen=True, slots=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    series: list[Series]
    marks: list[Mark]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    bin_seconds: float
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def nice_ceiling(value: float) -> int:
    """Smallest of 1, 2, 3, 4, 5, 6, 8 x 10^k that is >= ``value`` (at least 1)."""
    if value <= 1:
        return 1
    exp = 10 ** math.floor(math.log10(value))
    return next(int(m * exp) for m in (1, 2, 3, 4, 5, 6, 8, 10) if m * exp >= value)


def time_label(ns: int, with_date: bool) -> str:
    dt = datetime.fromtimestamp(ns / 1e9, UTC)
    return dt.strftime("%m-%d %H:%M" if with_date else "%H:%M:%S")


def build_chart(
    rows: Iterable[tuple[str, int, int]],
    window_ns: int,
    *,
    anomalies: Iterable[tuple[int, str, str]] = (),
    streams: list[str] | None = None,
    max_bins: int = 240,
) -> Chart | None:
    """Lay out ``(stream, window_start_ns, lines)`` rows; ``anomalies`` are
    ``(window_start_ns, severity, label)`` marks; a stream's colour comes from its place in
    ``streams`` (all known streams), so it stays the same when the page is filtered.
    None when there are no rows."""
    rows = list(rows)
    if not rows:
        return None
    start = min(r[1] for r in rows)
    end = max(r[1] for r in rows) + window_ns
    per_bin = math.ceil(math.ceil((end - start) / window_ns) / max_bins)
    bin_ns = window_ns * per_bin
    n_bins = math.ceil((end - start) / bin_ns)
    sums: dict[str, list[int]] = {}
    for stream, window_start, lines in rows:
        sums.setdefault(stream, [0] * n_bins)[(window_start - start) // bin_ns] += lines
    y_max = nice_ceiling(max(max(v) for v in sums.values()))
    plot_w, plot_h = WIDTH - RIGHT - LEFT, HEIGHT - BOTTOM - TOP

    def x_of(ns: int) -> float:
        return LEFT + plot_w * (ns - start) / (n_bins * bin_ns)

    def y_of(v: float) -> float:
        return TOP + plot_h * (1 - v / y_max)

    order = {s: i for i, s in enumerate(streams or sorted(sums))}
    series = []
    for stream, values in sorted(sums.items()):
        pts = []
        for b, v in enumerate(values):
            y = y_of(v)
            pts += [(x_of(start + b * bin_ns), y), (x_of(start + (b + 1) * bin_ns), y)]
        series.append(
            Series(
                stream=stream,
                color=PALETTE[order.get(stream, len(order)) % len(PALETTE)],
                points=" ".join(f"{x:.1f},{y:.1f}" for x, y in pts),
                total=sum(values),
                peak=max(values),
            )
        )
    marks = [
        Mark(x_of(ns), SEVERITY_COLORS.get(sev, "#6b7280"), label)
        for ns, sev, label in anomalies
        if start <= ns < end
    ]
    with_date = end - start > 86400 * 10**9
    x_ticks = [
        Tick(round(x_of(ns), 1), time_label(ns, with_date))
        for ns in (start, (start + end) // 2, end)
    ]
    y_ticks = [Tick(round(y_of(v), 1), f"{v:g}") for v in (0, y_max / 2, y_max)]
    return Chart(series, marks, x_ticks, y_ticks, bin_ns / 1e9)
