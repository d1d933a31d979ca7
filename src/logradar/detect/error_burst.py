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

import numpy as np

from logradar.config import ErrorBurstConfig
from logradar.detect.base import DetectContext, Window
from logradar.detect.frequency import (
    NS,
    Expectations,
    RateBaseline,
    Rules,
    Verdict,
    format_duration,
)
from logradar.detect.rates import BASES, RateBank
from logradar.schema import Anomaly


class ErrorBurstDetector:
    """Bursts of error lines per stream; see module doc. Each stream's baseline is a
    one-row :class:`~logradar.detect.rates.RateBank` (closed-form gaps, :meth:`skip`)."""

    name = "error_burst"

    def __init__(self, config: ErrorBurstConfig | None = None) -> None:
        self.config = cfg = config or ErrorBurstConfig()
        self.rules = Rules(cfg.min_count, cfg.min_ratio, cfg.p_value, None, cfg.sustained_windows)
        self._streams: dict[str, RateBank] = {}

    def observe(self, window: Window, ctx: DetectContext) -> list[Anomaly]:
        bank = self._streams.get(window.stream)
        if bank is None:
            bank = self._streams[window.stream] = RateBank(self.rules.spans)
            bank.add(np.asarray([window.errors]), window.start)
        found = bank.step(
            np.asarray([window.errors]),
            window.start,
            self.rules,
            self.config,
            judge_from=self.config.min_history,
        )
        return [
            self._anomaly(window, Verdict(j.kind, j.observed, j.expected, j.p, j.basis, j.windows))
            for j in found
        ]

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
        """Learn ``windows`` empty windows of ``stream`` in closed form (no verdicts)."""
        bank = self._streams.get(stream)
        if bank is not None:
            bank.skip(start_ns, windows, step_ns, self.config)
        return []

    def peek(
        self, window: Window, ctx: DetectContext, *, next_to_close: bool, earlier: Sequence[Window]
    ) -> list[Anomaly]:
        """The one-window burst ``observe`` will report for this open window, if certain."""
        cfg = self.config
        bank = self._streams.get(window.stream)
        if not next_to_close or bank is None or bank.n[0] < cfg.min_history:
            return []
        seasonal = bank.seasonal(window.start, cfg.season_alpha, commit=False)
        high, hi_i, low, lo_i = bank.expectations(seasonal, recent=True)
        exp = Expectations(
            high=(BASES[hi_i[0]], float(high[0])),
            low=(BASES[lo_i[0]], float(low[0])),
            dispersion=float(bank.dispersion()[0]),
        )
        verdict = self.rules.spike(window.errors, exp)
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
        return {"streams": {s: b.state_dict() for s, b in self._streams.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._streams = {}
        for stream, saved in state["streams"].items():
            bank = self._streams[stream] = RateBank(self.rules.spans)
            if isinstance(saved, dict):
                bank.load_state_dict(saved)
            else:  # a snapshot of the scalar detector
                bank.add_baseline(RateBaseline.from_list(saved))
