"""Silence: a stream, or a usually steady template, stops.

Each stream's total and each of its templates keep an EWMA of the count per window and of
*presence* (the share of windows with at least one line). A source is judged once it has
``min_history`` windows: a stream expected to send ``min_expected`` lines per window, or a
template that is also steady (present in ``steady_share`` of windows), is silent when it shows
0 lines for ``windows`` consecutive windows, and for more than twice its longest gap so far
(the longest run of empty windows that ended by itself, fading slowly), so a bursty source
with normal pauses is not reported at every pause. Each episode fires once, spanning the empty
windows so far, and ends when the source sends again. Empty runs are learned only when they
end and did not fire, so the baseline describes the source before the silence. While the
whole stream is silent its templates are not reported separately.

>>> from logradar.config import SilenceConfig
>>> from logradar.detect.base import DetectContext, Window
>>> ctx = DetectContext(template_text=str, is_error_template=lambda t: False)
>>> det = SilenceDetector(SilenceConfig(windows=3))
>>> step = 10 * 10**9
>>> for i in range(40):
...     _ = det.observe(Window("gw", i * step, (i + 1) * step, {1: 20}, total=20), ctx)
>>> [len(det.observe(Window("gw", i * step, (i + 1) * step), ctx)) for i in range(40, 45)]
[0, 0, 1, 0, 0]
"""

from __future__ import annotations

import math
from typing import Any

from logradar.config import SilenceConfig
from logradar.detect.base import DetectContext, Window
from logradar.detect.frequency import NS, TOTAL, format_duration
from logradar.schema import Anomaly

# A source's state: [rate, presence, windows seen, empty run, start of the run, fired, examples,
# longest empty run that ended by itself]
RATE, PRESENCE, N, RUN, SINCE, FIRED, EXAMPLES, LONGEST = range(8)
GAP_MEMORY = 0.99999
"""The longest normal gap fades by this factor per window (half-life ~8 days at 10 s)."""


class SilenceDetector:
    """Reports streams and steady templates that stop sending; see module doc."""

    name = "silence"

    def __init__(self, config: SilenceConfig | None = None) -> None:
        self.config = config or SilenceConfig()
        self._streams: dict[str, dict[str, list[Any]]] = {}

    def observe(self, window: Window, ctx: DetectContext) -> list[Anomaly]:
        cfg = self.config
        sources = self._streams.setdefault(window.stream, {})
        counts = {str(t): c for t, c in window.counts.items() if c > 0}
        if window.total > 0:
            counts[TOTAL] = window.total
        for key, c in counts.items():
            if key not in sources:
                sources[key] = [float(c), 1.0, 0, 0, 0, False, [], 0.0]
        horizon = cfg.prune_after_seconds * NS
        out: list[Anomaly] = []
        for key in list(sources):
            s = sources[key]
            count = counts.get(key, 0)
            s[LONGEST] *= GAP_MEMORY
            if count:
                if s[RUN] and not s[FIRED]:
                    self._learn_zeros(s, s[RUN], self._alpha(key))
                    s[LONGEST] = max(s[LONGEST], float(s[RUN]))
                s[RUN], s[FIRED] = 0, False
                self._learn(s, count, self._alpha(key))
                s[EXAMPLES] = _examples(window, key)
                continue
            if s[RUN] == 0:
                s[SINCE] = window.start
            s[RUN] += 1
            if window.end - s[SINCE] > horizon:
                del sources[key]
            elif s[RUN] >= self._needed(s) and not s[FIRED] and self._judged(key, s):
                s[FIRED] = True
                if key == TOTAL or window.total > 0:
                    out.append(self._anomaly(window, ctx, key, s))
        return out

    def skip(
        self,
        stream: str,
        start_ns: int,
        windows: int,
        step_ns: int,
        ctx: DetectContext,
        *,
        learning: bool = False,
    ) -> list[Anomaly]:
        """``windows`` empty windows of ``stream`` from ``start_ns`` in O(1) per source.

        The same as observing them one by one: each source's empty run grows by ``windows``
        and its longest gap fades by ``GAP_MEMORY ** windows``; a source that becomes silent
        in the run fires once, at the window where its run first reaches what it needs
        (found by bisection: the run grows and the need only shrinks).
        """
        cfg = self.config
        sources = self._streams.get(stream)
        if not sources or windows <= 0:
            return []
        horizon = cfg.prune_after_seconds * NS
        end_ns = start_ns + windows * step_ns
        out: list[Anomaly] = []
        for key in list(sources):
            s = sources[key]
            if s[RUN] == 0:
                s[SINCE] = start_ns
            run0, longest0 = s[RUN], s[LONGEST]
            if not s[FIRED] and self._judged(key, s):
                i = self._first_silent(run0, longest0, windows)
                fire_end = start_ns + i * step_ns if i is not None else None
                if fire_end is not None and fire_end - s[SINCE] <= horizon:
                    s[RUN], s[LONGEST], s[FIRED] = run0 + i, longest0 * GAP_MEMORY**i, True
                    if key == TOTAL:
                        window = Window(stream, fire_end - step_ns, fire_end, learning=learning)
                        out.append(self._anomaly(window, ctx, key, s))
            s[RUN], s[LONGEST] = run0 + windows, longest0 * GAP_MEMORY**windows
            if end_ns - s[SINCE] > horizon:
                del sources[key]
        return out

    def _first_silent(self, run0: int, longest0: float, windows: int) -> int | None:
        """The first ``i`` in ``1..windows`` whose run ``run0 + i`` is a silence, or None."""

        def silent(i: int) -> bool:
            needed = max(self.config.windows, int(2 * longest0 * GAP_MEMORY**i) + 1)
            return run0 + i >= needed

        if not silent(windows):
            return None
        lo, hi = 1, windows
        while lo < hi:
            mid = (lo + hi) // 2
            if silent(mid):
                hi = mid
            else:
                lo = mid + 1
        return lo

    def _judged(self, key: str, s: list[Any]) -> bool:
        cfg = self.config
        if s[N] < cfg.min_history or s[RATE] < cfg.min_expected:
            return False
        return key == TOTAL or s[PRESENCE] >= cfg.steady_share

    def _needed(self, s: list[Any]) -> int:
        """Empty windows that make a silence: ``windows``, and more than twice the longest gap."""
        return max(self.config.windows, int(2 * s[LONGEST]) + 1)

    def _alpha(self, key: str) -> float:
        """Templates learn slowly, so a burst of minutes does not make one look steady."""
        return self.config.alpha if key == TOTAL else self.config.template_alpha

    @staticmethod
    def _learn(s: list[Any], count: int, a: float) -> None:
        s[RATE] += a * (count - s[RATE])
        s[PRESENCE] += a * (1.0 - s[PRESENCE])
        s[N] += 1

    @staticmethod
    def _learn_zeros(s: list[Any], n: int, a: float) -> None:
        keep = (1.0 - a) ** n
        s[RATE] *= keep
        s[PRESENCE] *= keep
        s[N] += n

    def _anomaly(self, window: Window, ctx: DetectContext, key: str, s: list[Any]) -> Anomaly:
        cfg = self.config
        run, step = s[RUN], window.end - window.start
        span = format_duration(run * step / NS)
        per = format_duration(step / NS)
        p_silent = max(math.exp(-run * s[RATE]), (1.0 - s[PRESENCE]) ** run)
        if key == TOTAL:
            tid, text, severity = None, None, cfg.severity
            explanation = (
                f"Stream {window.stream} sent nothing for {span} ({run} windows); it usually "
                f"sends about {s[RATE]:.3g} lines per {per}{_longest(s, step)}."
            )
        else:
            tid = int(key)
            text, severity = ctx.template_text(tid), cfg.template_severity
            explanation = (
                f"Template '{text}' has not appeared for {span} ({run} windows) on stream "
                f"{window.stream}; it usually appears about {s[RATE]:.3g} times per {per} "
                f"and in {s[PRESENCE]:.0%} of windows{_longest(s, step)}."
            )
        return Anomaly(
            detector=self.name,
            kind="silence",
            stream=window.stream,
            start=s[SINCE],
            end=window.end,
            score=min(1.0, max(0.0, 1.0 - p_silent)),
            severity=severity.lower() if window.learning else severity,
            explanation=explanation,
            template_id=tid,
            template=text,
            expected=s[RATE] * run,
            observed=0.0,
            examples=list(s[EXAMPLES]),
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "streams": {
                stream: {
                    key: [*s[:EXAMPLES], list(s[EXAMPLES]), *s[LONGEST:]]
                    for key, s in sources.items()
                }
                for stream, sources in self._streams.items()
            }
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._streams = {
            stream: {key: [*s, 0.0][: LONGEST + 1] for key, s in sources.items()}
            for stream, sources in state["streams"].items()
        }


def _examples(window: Window, key: str) -> list[str]:
    """The last lines a source sent (shown with its silence)."""
    if key == TOTAL:
        return [line for lines in window.examples.values() for line in lines][:3]
    return window.examples.get(int(key), [])[:3]


def _longest(s: list[Any], step: int) -> str:
    """``, and its longest gap so far was ...`` when it had one."""
    if s[LONGEST] < 1:
        return ""
    return f", and its longest pause so far was {format_duration(round(s[LONGEST]) * step / NS)}"
