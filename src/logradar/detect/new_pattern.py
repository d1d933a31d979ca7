"""New pattern: a template never seen before on a stream.

Each stream remembers, per template, the end of the last window it appeared in. A template
with no entry is new (score 1). By default a template once seen is never new again; with
``forget_after_seconds`` one that has not been seen for that long (event time) is reported
again (score 0.8), which suits systems where old code paths coming back is news. Error
templates get ``error_severity``. When many new templates appear in one window (a *flood*:
at least ``flood_min_new``, or at least 2 making up ``flood_share`` of the window's distinct
templates) it is most likely a deploy, so they are still recorded but one step less severe;
a new version's patterns do not page anyone at 3 am.

Early (``peek``, on a window still open): a template is new from its first line, given the
windows closed so far and the stream's earlier open windows. Only the count rule of a flood
can be known before the window closes (the number of new templates only grows; their share
may still fall), so an early report is one step less severe only once ``flood_min_new`` new
templates are in the window so far.

>>> from logradar.config import NewPatternConfig
>>> from logradar.detect.base import DetectContext, Window
>>> ctx = DetectContext(template_text=lambda t: f"template {t}", is_error_template=lambda t: t == 9)
>>> det = NewPatternDetector(NewPatternConfig())
>>> det.observe(Window("app", 0, 10**10, {1: 40, 2: 3}), ctx) and None
>>> [(a.template_id, str(a.severity)) for a in det.observe(Window("app", 10**10, 2 * 10**10,
...     {1: 38, 2: 4, 9: 2}), ctx)]
[(9, 'high')]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from logradar.config import NewPatternConfig
from logradar.detect.base import DetectContext, Window
from logradar.detect.frequency import NS, format_duration
from logradar.schema import Anomaly

RETURNING_SCORE = 0.8


class NewPatternDetector:
    """Reports templates a stream has never shown (or not for a long time); see module doc."""

    name = "new_pattern"

    def __init__(self, config: NewPatternConfig | None = None) -> None:
        self.config = config or NewPatternConfig()
        self._first: dict[str, int] = {}
        """Start of the first window seen per stream."""
        self._seen: dict[str, dict[str, int]] = {}
        """Per stream: template id (as str) -> end of the last window it appeared in."""

    def observe(self, window: Window, ctx: DetectContext) -> list[Anomaly]:
        cfg = self.config
        first = self._first.setdefault(window.stream, window.start)
        seen = self._seen.setdefault(window.stream, {})
        present = [(tid, c) for tid, c in window.counts.items() if c > 0]
        new = self._new(window, present, lambda tid: seen.get(str(tid)))
        for tid, _ in present:
            seen[str(tid)] = window.end
        flood = len(new) >= cfg.flood_min_new or (
            len(new) >= 2 and len(new) >= cfg.flood_share * len(present)
        )
        return self._report(window, ctx, new, flood, first)

    def peek(
        self, window: Window, ctx: DetectContext, *, next_to_close: bool, earlier: Sequence[Window]
    ) -> list[Anomaly]:
        """The templates ``observe`` will report as new in this open window (so far)."""
        seen = self._seen.get(window.stream, {})
        in_earlier: dict[int, int] = {}  # template id -> end of the last earlier open window
        for other in earlier:
            for tid, count in other.counts.items():
                if count > 0:
                    in_earlier[tid] = other.end
        present = [(tid, c) for tid, c in window.counts.items() if c > 0]
        new = self._new(window, present, lambda tid: in_earlier.get(tid, seen.get(str(tid))))
        first = self._first.get(window.stream, earlier[0].start if earlier else window.start)
        return self._report(window, ctx, new, len(new) >= self.config.flood_min_new, first)

    def _new(
        self,
        window: Window,
        present: list[tuple[int, int]],
        last_seen: Callable[[int], int | None],
    ) -> list[tuple[int, int, int | None]]:
        """(template id, count, end of the window it was last seen in) of the new ones."""
        forget = self.config.forget_after_seconds
        forget_ns = None if forget is None else forget * NS
        new = []
        for tid, count in present:
            last = last_seen(tid)
            if last is None or (forget_ns is not None and window.start - last >= forget_ns):
                new.append((tid, count, last))
        return new

    def _report(
        self,
        window: Window,
        ctx: DetectContext,
        new: list[tuple[int, int, int | None]],
        flood: bool,
        first: int,
    ) -> list[Anomaly]:
        cfg = self.config
        baseline = format_duration((window.start - first) / NS)
        span = format_duration((window.end - window.start) / NS)
        out = []
        for tid, count, last in new:
            text = ctx.template_text(tid)
            severity = cfg.error_severity if ctx.is_error_template(tid) else cfg.severity
            if flood:
                severity = severity.lower()
            if window.learning:
                severity = severity.lower()
            if last is not None:
                why = f"it was last seen {format_duration((window.start - last) / NS)} earlier"
            elif window.start == first:
                why = "it is among the first lines of the stream"
            else:
                why = f"it was never seen in the {baseline} baseline"
            if flood:
                why += f", and is one of {len(new)} new templates in this window (likely a deploy)"
            out.append(
                Anomaly(
                    detector=self.name,
                    kind="new_pattern",
                    stream=window.stream,
                    start=window.start,
                    end=window.end,
                    score=1.0 if last is None else RETURNING_SCORE,
                    severity=severity,
                    explanation=f"Template '{text}' appeared {count} times in {span} on stream "
                    f"{window.stream}; {why}.",
                    template_id=tid,
                    template=text,
                    expected=0.0,
                    observed=float(count),
                    examples=window.examples.get(tid, [])[:3],
                )
            )
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"first": dict(self._first), "seen": {s: dict(d) for s, d in self._seen.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._first = dict(state["first"])
        self._seen = {s: dict(d) for s, d in state["seen"].items()}
