"""Odd parameter values: a number in a log line far outside what that position usually holds.

The engine gives, per closed window, statistics of the numeric tokens of each template by
token position (count, sums of ``sign(v)·log1p(|v|)`` and its square, the extremes and the
lines that hold them). This detector keeps the running mean and spread of that log-scale value
per (stream, template, position) and fires when a window's maximum is clearly beyond the
largest value seen so far *and* either lies more than ``threshold`` spreads above the mean or
is ``max_ratio`` times that largest value.
The log scale makes a latency going from 20 ms to 900 ms stand out while ids, which vary
over orders of magnitude anyway, have a wide spread and stay quiet.
Positions whose values only grow (counters, sequence numbers) are recognised and skipped.

Example::

    >>> from logradar.config import ParamsConfig
    >>> from logradar.detect.base import DetectContext, ParamStats, Window
    >>> import math
    >>> d = ParamsDetector(ParamsConfig(min_values=20, min_windows=2))
    >>> ctx = DetectContext(lambda t: "took <*> ms", lambda t: False)
    >>> def w(i, v):
    ...     lv = math.log1p(v)
    ...     s = ParamStats(10, 10 * lv, 10 * lv * lv, v, v, f"took {v} ms", f"took {v} ms")
    ...     return Window("api", i, i + 1, counts={1: 10}, total=10, params={(1, 1): s})
    >>> [len(d.observe(w(i, 20 + i % 3), ctx)) for i in range(5)]
    [0, 0, 0, 0, 0]
    >>> d.observe(w(5, 5000), ctx)[0].kind
    'odd_value'
"""

from __future__ import annotations

import math
from typing import Any

from logradar.config import ParamsConfig
from logradar.detect.base import DetectContext, ParamStats, Window
from logradar.schema import Anomaly

#: A position counts as a counter when its window minimum exceeds the previous maximum in
#: at least this share of windows.
COUNTER_SHARE = 0.8
#: How far (log1p scale) a value must pass the largest value seen so far to be judged:
#: 0.5 is about 1.65x the previous maximum.
NEW_MAX_MARGIN = 0.5
#: Forget positions not seen for this many windows of their stream (checked every
#: ``FORGET_CHECK_EVERY`` windows observed).
FORGET_AFTER_WINDOWS = 8640
FORGET_CHECK_EVERY = 1000


def _fmt(x: float) -> str:
    return f"{x:.0f}" if abs(x) >= 100 or float(x).is_integer() else f"{x:.3g}"


class ParamsDetector:
    """Per (stream, template, position): running log-scale mean/spread of numeric values."""

    name = "params"

    def __init__(self, cfg: ParamsConfig) -> None:
        self.cfg = cfg
        #: "stream|template|position" -> [n, log_sum, log_sq_sum, windows, rising, last_max,
        #: historic_max, historic_min, last_window_end]
        self.state: dict[str, list[float]] = {}
        self._observed = 0

    def observe(self, window: Window, ctx: DetectContext) -> list[Anomaly]:
        found: dict[int, tuple[float, Anomaly]] = {}
        for (tid, pos), stats in sorted(window.params.items()):
            key = f"{window.stream}|{tid}|{pos}"
            st = self.state.get(key)
            if st is None:
                st = self.state[key] = [0, 0.0, 0.0, 0, 0, stats.max, stats.max, stats.min, 0]
            z, anomaly = self._score(window, tid, pos, stats, st, ctx)
            if anomaly is not None and (tid not in found or z > found[tid][0]):
                found[tid] = (z, anomaly)
            if anomaly is None:
                self._learn(stats, st, window.end)
        self._forget(window)
        return [a for _, a in (found[t] for t in sorted(found))]

    def _score(
        self,
        window: Window,
        tid: int,
        pos: int,
        stats: ParamStats,
        st: list[float],
        ctx: DetectContext,
    ) -> tuple[float, Anomaly | None]:
        n, total, total2, windows, rising = st[0], st[1], st[2], st[3], st[4]
        cfg = self.cfg
        if n < cfg.min_values or windows < cfg.min_windows or rising >= COUNTER_SHARE * windows:
            return 0.0, None
        mean = total / n
        spread = max(math.sqrt(max(total2 / n - mean * mean, 0.0)), cfg.min_spread)
        # Only a clearly new maximum can be odd: a value inside the range already seen is not,
        # nor one just past it. Low values are not judged: smaller ids and counts dip below
        # their history all the time, while incidents push latencies, sizes and codes up.
        beyond = _log(stats.max) - _log(st[6])
        if beyond < NEW_MAX_MARGIN:
            return 0.0, None
        z = (_log(stats.max) - mean) / spread
        # A value max_ratio times the largest ever seen is odd even where the history is
        # spread out (a position that is usually 240 and sometimes 0, say).
        jump = st[6] > 0 and stats.max >= cfg.max_ratio * st[6]
        if z <= cfg.threshold and not jump:
            return z, None
        value, bound = stats.max, st[6]
        typical = _unlog(mean)
        text = ctx.template_text(tid)
        severity = cfg.severity.lower() if window.learning else cfg.severity
        explanation = (
            f"Value {_fmt(value)} at parameter {pos} of '{text}' on stream {window.stream} is "
            f"far above its usual ≈{_fmt(typical)} "
            f"(max so far {_fmt(bound)}{_times(value, bound)}, {int(n)} values seen)."
        )
        z = max(z, cfg.threshold)
        return z, Anomaly(
            detector=self.name,
            kind="odd_value",
            stream=window.stream,
            start=window.start,
            end=window.end,
            score=min(1.0, 1.0 - math.exp(-(z - cfg.threshold) / cfg.threshold) * 0.5),
            severity=severity,
            explanation=explanation,
            template_id=tid,
            template=text,
            expected=typical,
            observed=value,
            examples=[stats.max_example],
        )

    @staticmethod
    def _learn(stats: ParamStats, st: list[float], end: int) -> None:
        if st[3] > 0 and stats.min > st[5]:
            st[4] += 1
        st[0] += stats.count
        st[1] += stats.log_sum
        st[2] += stats.log_sq_sum
        st[3] += 1
        st[5] = stats.max
        st[6] = max(st[6], stats.max)
        st[7] = min(st[7], stats.min)
        st[8] = end

    def _forget(self, window: Window) -> None:
        self._observed += 1
        if self._observed % FORGET_CHECK_EVERY:
            return
        horizon = window.end - FORGET_AFTER_WINDOWS * (window.end - window.start)
        prefix = f"{window.stream}|"
        stale = [k for k, st in self.state.items() if k.startswith(prefix) and 0 < st[8] < horizon]
        for key in stale:
            del self.state[key]

    def state_dict(self) -> dict[str, Any]:
        return {"state": self.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = {k: list(v) for k, v in state["state"].items()}


def _log(v: float) -> float:
    return math.copysign(math.log1p(abs(v)), v)


def _unlog(x: float) -> float:
    return math.copysign(math.expm1(abs(x)), x)


def _times(value: float, bound: float) -> str:
    """`` (12× that)`` when the value is far past the largest seen, else nothing."""
    return f", {value / bound:.3g}× that" if bound > 0 and value >= 10 * bound else ""
