"""The detail page's chart: one template's lines per window around an anomaly, the baseline
band (mean ± 2 standard deviations of the windows before it) and the anomaly's window.

Laid out server-side as SVG coordinates, like :mod:`.chart`; windows without a stored count
are drawn as 0.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from logradar.web.chart import Tick, nice_ceiling, time_label

WIDTH, HEIGHT = 960, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 28


@dataclass(frozen=True, slots=True)
class Baseline:
    mean: float
    low: float
    high: float
    windows: int
    """How many windows before the anomaly it is computed from."""


@dataclass(frozen=True, slots=True)
class BandChart:
    points: str
    """SVG polyline points of the counts."""
    band: tuple[float, float, float, float] | None
    """x, y, width, height of the baseline band."""
    window: tuple[float, float]
    """x and width of the anomaly's window."""
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    peak: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def baseline(counts: list[int]) -> Baseline | None:
    """Mean ± 2σ of ``counts`` (the windows before the anomaly); None without any."""
    if not counts:
        return None
    mean = statistics.fmean(counts)
    sd = statistics.pstdev(counts) if len(counts) > 1 else 0.0
    return Baseline(mean, max(0.0, mean - 2 * sd), mean + 2 * sd, len(counts))


def build_band_chart(
    counts: dict[int, int],
    since_ns: int,
    until_ns: int,
    window_ns: int,
    anomaly: tuple[int, int],
    band: Baseline | None,
) -> BandChart:
    """Lay out ``counts`` (window start -> lines) over ``[since_ns, until_ns)``."""
    starts = range(since_ns, until_ns, window_ns)
    values = [counts.get(s, 0) for s in starts]
    peak = max(values, default=0)
    y_max = nice_ceiling(max(peak, band.high if band else 0))
    plot_w, plot_h = WIDTH - RIGHT - LEFT, HEIGHT - BOTTOM - TOP

    def x_of(ns: int) -> float:
        return LEFT + plot_w * (ns - since_ns) / (until_ns - since_ns)

    def y_of(v: float) -> float:
        return TOP + plot_h * (1 - v / y_max)

    pts = []
    for s, v in zip(starts, values, strict=True):
        pts += [(x_of(s), y_of(v)), (x_of(min(s + window_ns, until_ns)), y_of(v))]
    rect = None
    if band is not None:
        top, bottom = y_of(band.high), y_of(band.low)
        rect = (LEFT, round(top, 1), plot_w, round(max(bottom - top, 1.0), 1))
    a_start, a_end = (max(since_ns, anomaly[0]), min(until_ns, anomaly[1]))
    with_date = until_ns - since_ns > 86400 * 10**9
    return BandChart(
        points=" ".join(f"{x:.1f},{y:.1f}" for x, y in pts),
        band=rect,
        window=(round(x_of(a_start), 1), round(max(x_of(a_end) - x_of(a_start), 2.0), 1)),
        x_ticks=[
            Tick(round(x_of(ns), 1), time_label(ns, with_date))
            for ns in (since_ns, (since_ns + until_ns) // 2, until_ns)
        ],
        y_ticks=[Tick(round(y_of(v), 1), f"{v:g}") for v in (0, y_max / 2, y_max)],
        peak=peak,
    )
