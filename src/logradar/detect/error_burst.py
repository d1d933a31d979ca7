"""Error burst: a stream logs more error lines in a window than its baseline explains.

The count of error lines per window (``Window.errors``) of each stream gets the same
:class:`~logradar.detect.frequency.RateBaseline` as a template count in the frequency detector:
fast and slow EWMA levels, an hour-of-day profile, and a Poisson / negative-binomial tail
probability. A burst needs ``p < p_value``, at least ``min_count`` errors and ``min_ratio``
times the highest expectation. Sums over the last ``sustained_windows`` are judged the same
way, for bursts too thin for one window. Only bursts are reported: fewer errors is good news.

Early (``peek``, on the stream's next window to close while it is still open): a window whose
error count so far is already a burst on its own is reported at once. A count only grows and
the window alone is judged before any sum, so the close reports the same anomaly.

>>> from logradar.config import ErrorBurstConfig
>>> from logradar.detect.base import DetectContext, Window
>>> ctx = DetectContext(template_text=str, is_error_template=lambda t: False)
>>> det = ErrorBurstDetector(ErrorBurstConfig())
>>> step = 10 * 10**9
>>> for i in range(30):
...     _ = det.observe(Window("db", i * step, (i + 1) * step, errors=1), ctx)
>>> [a.observed for a in det.observe(Window("db", 30 * step, 31 * step, errors=40,
...     error_examples=["ERROR deadlock detected"]), ctx)]
[40.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from logradar.config import ErrorBurstConfig
from logradar.detect.base import DetectContext, Window
from logradar.detect.frequency import NS, RateBaseline, Rules, Verdict, format_duration
from logradar.schema import Anomaly


class ErrorBurstDetector:
    """Bursts of error lines per stream; see module doc."""

    name = "error_burst"

    def __init__(self, config: ErrorBurstConfig | None = None) -> None:
        self.config = cfg = config or ErrorBurstConfig()
        self.rules = Rules(cfg.min_count, cfg.min_ratio, cfg.p_value, None, cfg.sustained_windows)
        self._streams: dict[str, RateBaseline] = {}

    def observe(self, window: Window, ctx: DetectContext) -> list[Anomaly]:
        cfg = self.config
        base = self._streams.get(window.stream)
        if base is None:
            base = self._streams[window.stream] = RateBaseline(window.errors, window.start)
        seasonal = base.roll(window.start, cfg.season_alpha)
        verdict = None
        if base.n >= cfg.min_history:
            verdict = base.assess(window.errors, seasonal, self.rules, cfg.slow_alpha)
        base.update(
            window.errors,
            window.start,
            cfg.alpha,
            cfg.slow_alpha,
            anomalous=verdict is not None,
            factor=cfg.anomaly_alpha_factor,
        )
        return [] if verdict is None else [self._anomaly(window, verdict)]

    def peek(
        self, window: Window, ctx: DetectContext, *, next_to_close: bool, earlier: Sequence[Window]
    ) -> list[Anomaly]:
        """The one-window burst ``observe`` will report for this open window, if certain."""
        cfg = self.config
        base = self._streams.get(window.stream)
        if not next_to_close or base is None or base.n < cfg.min_history:
            return []
        seasonal = base.seasonal(window.start, cfg.season_alpha)  # what roll() will return
        verdict = self.rules.spike(window.errors, base.expectations(seasonal))
        return [] if verdict is None else [self._anomaly(window, verdict)]

    def _anomaly(self, window: Window, verdict: Verdict) -> Anomaly:
        cfg = self.config
        start = window.end - verdict.windows * (window.end - window.start)
        span = format_duration((window.end - start) / NS)
        sustained = ", a sustained burst" if verdict.windows > 1 else ""
        return Anomaly(
            detector=self.name,
            kind="error_burst",
            stream=window.stream,
            start=start,
            end=window.end,
            score=min(1.0, max(0.0, 1.0 - verdict.p)),
            severity=cfg.severity.lower() if window.learning else cfg.severity,
            explanation=f"Stream {window.stream} logged {verdict.observed} error lines in "
            f"{span}; expected about {verdict.expected:.3g} from the {verdict.basis} "
            f"(p={verdict.p:.1e}){sustained}.",
            expected=verdict.expected,
            observed=float(verdict.observed),
            examples=window.error_examples[:3],
        )

    def state_dict(self) -> dict[str, Any]:
        return {"streams": {s: b.to_list() for s, b in self._streams.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._streams = {s: RateBaseline.from_list(b) for s, b in state["streams"].items()}
