"""Frequency: a template's (or a whole stream's) count per window spikes or drops.

Each ``(stream, template)`` pair, and each stream's total, keeps a :class:`RateBaseline`:
a fast EWMA level (the last minutes), a slow one (the last hours), their variances, and a
seasonal profile, the mean count per window in the same hour of day on previous days (weekdays
and weekends apart, UTC). A count is judged with a Poisson tail probability (a negative
binomial when the counts are over-dispersed), never a z-score, so low counts are handled.
A spike must be surprising against the *highest* of the three expectations and a drop against
the *lowest*: a daily 02:00 batch job stops looking like a spike on its second night, its end
is not a drop, and a template that comes in hourly bursts is not a spike at each burst.
Templates missing from a window count 0 (that is how drops are seen); one unseen for
``prune_after_seconds`` is forgotten. Flagged windows move the levels only
``anomaly_alpha_factor`` as fast, so a long incident does not become the baseline at once.

Sustained shifts: one window at ~10 lines cannot show a drop to a tenth with confidence, nor
one window at 0.1 lines a 20× spike; a few minutes can. So the counts of the last
``sustained_windows`` windows (default 6 and 30: 1 and 5 min) are also summed and judged by
the same rules against the sums of the slow and seasonal expectations (the fast level is left
out: the shift itself moves it within minutes), with each span's own dispersion, learned from
unremarkable windows (sums of neighbouring windows of a bursty source vary more than single
windows). Such a shift is reported once, until every span is back within ``min_ratio``.

Early (``peek``, on the stream's next window to close while it is still open): a template, or
the stream total, whose count so far is already a spike on its own is reported at once. A
count only grows while its window is open, and each condition of a spike (``min_count``,
``min_ratio`` times the highest expectation, the upper tail probability) stays true as it
grows; the window alone is judged before any sum, and nothing that sets the expectations
changes before the window closes, so the close reports the same anomaly. Drops and sustained
shifts wait for the close: more lines can undo a drop, and a sum's verdict depends on the
window's final count.

>>> from logradar.config import FrequencyConfig
>>> from logradar.detect.base import DetectContext, Window
>>> ctx = DetectContext(template_text=lambda t: "GET /api <*>", is_error_template=lambda t: False)
>>> det = FrequencyDetector(FrequencyConfig())
>>> step = 10 * 10**9
>>> for i in range(30):
...     _ = det.observe(Window("web", i * step, (i + 1) * step, {1: 5}, total=5), ctx)
>>> [(a.kind, a.observed) for a in det.observe(Window("web", 30 * step, 31 * step, {1: 80},
...     total=80), ctx)]
[('spike', 80.0), ('spike', 80.0)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from logradar.config import FrequencyConfig
from logradar.detect.base import DetectContext, Window
from logradar.detect.rates import BASES, Judged, RateBank, tail_probability
from logradar.schema import Anomaly

NS = 1_000_000_000
TOTAL = "total"
#: The key of a stream's total among its template ids in the columnar state.
TOTAL_ROW = -1


def format_duration(seconds: float) -> str:
    """A short human duration: ``10 s``, ``5 min``, ``2 h``, ``3 d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def _time_bucket(start_ns: int) -> tuple[str, int]:
    """(hour of day + 24 if weekend, as str; UTC day number) of a window start."""
    secs = start_ns // NS
    day = secs // 86400
    weekend = (day + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    return str((secs % 86400) // 3600 + 24 * weekend), day


class RateBaseline:
    """What a count per window usually is: two EWMA levels, their variances, an hourly profile.

    The *fast* level (weight ``alpha`` per window) follows the recent rate, the *slow* one
    (``slow_alpha``) the rate over hours, so a template that comes in hourly bursts keeps a
    non-zero expectation between them. ``season`` maps a time bucket to
    ``[mean, days, day, day_sum, day_n]``: ``mean`` is an EWMA over previous days (weight
    ``season_alpha`` for the newest) of that bucket's mean count; ``day_*`` accumulate the
    current day and are folded in by :meth:`roll` when the bucket is first visited on a later
    day. Call :meth:`roll`, then :meth:`judge`, then :meth:`update`.
    """

    __slots__ = ("alarmed", "fast", "last_seen", "n", "recent", "season", "slow", "spread")

    def __init__(self, count: int, start_ns: int) -> None:
        self.fast = [float(count), float(count)]  # level, variance
        self.slow = [float(count), float(count)]
        self.n = 0
        self.last_seen = start_ns
        self.season: dict[str, list[float]] = {}
        self.recent: list[list[float]] = []
        """``[count, high, low]`` of the last windows, newest last (for sustained shifts)."""
        self.alarmed = False
        """A sustained shift was reported and has not ended yet."""
        self.spread: dict[str, list[float]] = {}
        """Span -> ``[mean, variance, n]`` of the sums over that span in unremarkable windows."""

    def roll(self, start_ns: int, season_alpha: float) -> float | None:
        """Fold finished days into this window's hour; return its seasonal mean (or None)."""
        bucket, day = _time_bucket(start_ns)
        s = self.season.setdefault(bucket, [0.0, 0, day, 0.0, 0])
        if s[2] != day:
            s[:] = _folded(s, day, season_alpha)
        return s[0] if s[1] > 0 else None

    def seasonal(self, start_ns: int, season_alpha: float) -> float | None:
        """What :meth:`roll` returns for this window, changing nothing (for an open window)."""
        bucket, day = _time_bucket(start_ns)
        s = self.season.get(bucket)
        if s is None:
            return None
        s = _folded(s, day, season_alpha)
        return s[0] if s[1] > 0 else None

    def expectations(self, seasonal: float | None, *, recent: bool = True) -> Expectations:
        """The highest and lowest of the fast, slow and seasonal levels, and the dispersion.

        ``recent=False`` leaves the fast level out: a sustained shift is judged against the
        slower levels, which its own first minutes have barely moved.
        """
        levels = [("long-run level", self.slow[0])]
        if recent:
            levels.append(("recent level", self.fast[0]))
        if seasonal is not None:
            levels.append(("same hour on previous days", seasonal))
        return Expectations(
            high=max(levels, key=lambda x: x[1]),
            low=min(levels, key=lambda x: x[1]),
            dispersion=max(_dispersion(self.fast), _dispersion(self.slow), 1.0),
        )

    def assess(
        self, observed: int, seasonal: float | None, rules: Rules, alpha: float
    ) -> Verdict | None:
        """Judge this window's count, then (if that is unremarkable) the sums over the spans.

        A sustained shift is reported once: after it fires, sums do not fire again until every
        span is back within ``min_ratio`` of its expectation. Unremarkable windows teach each
        span's own dispersion (weight ``alpha``): sums of neighbouring windows of a bursty
        source vary more than single windows do.
        """
        verdict = rules.judge(observed, self.expectations(seasonal))
        sums = self.remember(observed, self.expectations(seasonal, recent=False), rules.spans)
        if verdict is None and not self.alarmed:
            verdict = next(
                (v for n, o, e in sums if (v := rules.judge(o, e, windows=n)) is not None), None
            )
        self.alarmed = verdict is not None or (
            self.alarmed and any(rules.beyond_ratio(o, e) for _, o, e in sums)
        )
        if verdict is None:
            for span, total, _ in sums:
                lv = self.spread.setdefault(str(span), [float(total), float(total), 0])
                # winsorized at 4 sigma: a shift that has not fired yet widens it only slowly
                limit = 4.0 * math.sqrt(max(lv[1], lv[0], 1.0))
                clipped = min(max(total, lv[0] - limit), lv[0] + limit)
                _ewma(lv, clipped, max(alpha, 1.0 / (lv[2] + 2)), variance=True)
                lv[2] += 1
        return verdict

    def remember(
        self, observed: int, exp: Expectations, spans: list[int]
    ) -> list[tuple[int, int, Expectations]]:
        """Keep this window's count and slow expectations; sum them over each span in ``spans``.

        Returns ``(windows, observed, expectations)`` per span that is already full, shortest
        first. Sums use the slow level's dispersion: the fast one is inflated by the very
        shift being measured.
        """
        self.recent.append([observed, exp.high[1], exp.low[1]])
        del self.recent[: -max(spans, default=1)]
        out = []
        for span in sorted(spans):
            if span > len(self.recent):
                break
            last = self.recent[-span:]
            out.append(
                (
                    span,
                    int(sum(r[0] for r in last)),
                    Expectations(
                        high=(exp.high[0], sum(r[1] for r in last)),
                        low=(exp.low[0], sum(r[2] for r in last)),
                        dispersion=max(
                            _dispersion(self.slow), _dispersion(self.spread.get(str(span))), 1.0
                        ),
                    ),
                )
            )
        return out

    def update(
        self,
        count: int,
        start_ns: int,
        alpha: float,
        slow_alpha: float,
        *,
        anomalous: bool = False,
        factor: float = 1.0,
    ) -> None:
        """Learn one window's count.

        ``anomalous`` windows move the levels by ``factor`` times the usual weight and leave
        the variances alone, so an incident neither becomes the norm at once nor widens the
        tails that judge the next windows. The hourly profile learns every window: that is
        how a daily job becomes normal, and it only speaks for the same hour on later days.
        """
        weight = factor if anomalous else 1.0
        warmup = 1.0 / (self.n + 2)  # a plain mean until the EWMA has seen 1/alpha windows
        _ewma(self.fast, count, max(alpha, warmup) * weight, variance=not anomalous)
        _ewma(self.slow, count, max(slow_alpha, warmup) * weight, variance=not anomalous)
        self.n += 1
        if count:
            self.last_seen = start_ns
        s = self.season[_time_bucket(start_ns)[0]]
        s[3] += count
        s[4] += 1

    def to_list(self) -> list[Any]:
        return [
            self.fast,
            self.slow,
            self.n,
            self.last_seen,
            self.season,
            self.recent,
            self.alarmed,
            self.spread,
        ]

    @classmethod
    def from_list(cls, data: list[Any]) -> RateBaseline:
        b = cls.__new__(cls)
        b.fast, b.slow, b.n, b.last_seen, b.season = data[:5]
        b.recent, b.alarmed, b.spread = data[5:8] if len(data) >= 8 else ([], False, {})
        return b


@dataclass(frozen=True, slots=True)
class Expectations:
    high: tuple[str, float]
    """(basis, count per window) a spike is judged against."""
    low: tuple[str, float]
    """(basis, count per window) a drop is judged against."""
    dispersion: float
    """variance / mean of the counts, at least 1."""


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: str
    """``spike`` or ``drop``."""
    observed: int
    expected: float
    p: float
    basis: str
    """Which expectation was used, in words (for the explanation)."""
    windows: int = 1
    """How many windows the counts cover (more than 1 for a sustained shift)."""


@dataclass(frozen=True, slots=True)
class Rules:
    """When a count (of one window or a sum over ``windows``) is a spike or a drop."""

    min_count: int
    min_ratio: float
    p_value: float
    drop_min_expected: float | None
    """None: drops are not reported."""
    spans: list[int]
    """Also judge the sums over this many recent windows (sustained shifts)."""

    def judge(self, observed: int, exp: Expectations, *, windows: int = 1) -> Verdict | None:
        """A spike must be surprising against the highest expectation, a drop the lowest."""
        spike = self.spike(observed, exp, windows=windows)
        return spike if spike is not None else self.drop(observed, exp, windows=windows)

    def spike(self, observed: int, exp: Expectations, *, windows: int = 1) -> Verdict | None:
        """At least ``min_count``, ``min_ratio`` times and improbably above ``exp.high``.

        Each condition stays true as ``observed`` grows (the upper tail only shrinks), so a
        spike found in a window still open is one at its close, given the same expectations.
        """
        basis, expected = exp.high
        if observed >= self.min_count and observed >= self.min_ratio * expected:
            p = tail_probability(observed, expected, exp.dispersion, upper=True)
            if p < self.p_value:
                return Verdict("spike", observed, expected, p, basis, windows)
        return None

    def drop(self, observed: int, exp: Expectations, *, windows: int = 1) -> Verdict | None:
        """At most ``1 / min_ratio`` of and improbably below ``exp.low`` (if drops are on)."""
        if self.drop_min_expected is None or (windows > 1 and observed == 0):
            # an empty span is a pause or a silence: the silence detector judges those,
            # knowing the source's normal pauses
            return None
        basis, expected = exp.low
        if expected >= self.drop_min_expected and observed <= expected / self.min_ratio:
            p = tail_probability(observed, expected, exp.dispersion, upper=False)
            if p < self.p_value:
                return Verdict("drop", observed, expected, p, basis, windows)
        return None

    def beyond_ratio(self, observed: int, exp: Expectations) -> bool:
        """Whether the count is still ``min_ratio`` away from its expectation (either way)."""
        spike = observed >= self.min_ratio * exp.high[1]
        return spike or (
            self.drop_min_expected is not None and observed <= exp.low[1] / self.min_ratio
        )


def _folded(s: list[Any], day: int, season_alpha: float) -> list[Any]:
    """A season entry with the days before ``day`` folded into its mean (a new list, or
    ``s`` itself when it is ``day``'s already)."""
    if s[2] == day:
        return s
    mean, days = s[0], s[1]
    if s[4] > 0:
        day_mean = s[3] / s[4]
        mean = day_mean if days == 0 else mean + season_alpha * (day_mean - mean)
        days += 1
    return [mean, days, day, 0.0, 0]


def _ewma(lv: list[float], x: float, alpha: float, *, variance: bool) -> None:
    diff = x - lv[0]
    lv[0] += alpha * diff
    if variance:
        lv[1] = (1 - alpha) * (lv[1] + alpha * diff * diff)


def _dispersion(lv: list[float] | None) -> float:
    return lv[1] / lv[0] if lv is not None and lv[0] > 0 else 1.0


class _Series:
    """One stream's series: template ids (and :data:`TOTAL_ROW`) by row of its bank."""

    __slots__ = ("bank", "index", "keys")

    def __init__(self, spans: list[int]) -> None:
        self.bank = RateBank(spans)
        self.keys: list[int] = []
        self.index: dict[int, int] = {}

    def add(self, keys: list[int], counts: list[int], start_ns: int) -> None:
        for key in keys:
            self.index[key] = len(self.keys)
            self.keys.append(key)
        self.bank.add(np.asarray(counts, np.int64), start_ns)

    def keep(self, mask: np.ndarray) -> None:
        self.bank.keep(mask)
        self.keys = [k for k, kept in zip(self.keys, mask.tolist(), strict=True) if kept]
        self.index = {k: i for i, k in enumerate(self.keys)}

    def observed(self, window: Window) -> np.ndarray:
        """The window's count per row (0 for series absent from it)."""
        obs = np.zeros(len(self.keys), np.int64)
        index = self.index
        for tid, c in window.counts.items():
            row = index.get(tid)
            if row is not None:
                obs[row] = c
        row = index.get(TOTAL_ROW)
        if row is not None:
            obs[row] = window.total
        return obs


class FrequencyDetector:
    """Spikes and drops per ``(stream, template)`` and per stream total; see module doc.

    Each stream's series live in a columnar :class:`~logradar.detect.rates.RateBank`: a
    closed window is judged for all of them in a few array operations, and a run of empty
    windows is learned in closed form (:meth:`skip`).
    """

    name = "frequency"

    def __init__(self, config: FrequencyConfig | None = None) -> None:
        self.config = cfg = config or FrequencyConfig()
        self.rules = Rules(
            cfg.min_count, cfg.min_ratio, cfg.p_value, cfg.drop_min_expected, cfg.sustained_windows
        )
        self._streams: dict[str, _Series] = {}

    def _series(self, stream: str) -> _Series:
        series = self._streams.get(stream)
        if series is None:
            series = self._streams[stream] = _Series(self.rules.spans)
        return series

    def observe(self, window: Window, ctx: DetectContext) -> list[Anomaly]:
        cfg = self.config
        series = self._series(window.stream)
        index = series.index
        new = [(t, c) for t, c in window.counts.items() if c > 0 and t not in index]
        if window.total > 0 and TOTAL_ROW not in index:
            new.append((TOTAL_ROW, window.total))
        if new:
            series.add([k for k, _ in new], [c for _, c in new], window.start)
        obs = series.observed(window)
        bank = series.bank
        horizon = window.start - int(cfg.prune_after_seconds * NS)
        stale = (obs == 0) & (bank.last_seen[: bank.size] < horizon)
        total_row = index.get(TOTAL_ROW)
        if total_row is not None:
            stale[total_row] = False
        if stale.any():
            series.keep(~stale)
            obs = obs[~stale]
        verdicts = bank.step(obs, window.start, self.rules, cfg, judge_from=cfg.min_history)
        return [self._anomaly(window, ctx, series.keys[j.row], _verdict(j)) for j in verdicts]

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
        """Learn ``windows`` empty windows of ``stream`` from ``start_ns`` in O(1) per series
        (closed form, no verdicts; see :meth:`RateBank.skip`)."""
        series = self._streams.get(stream)
        if series is None or not series.keys:
            return []
        horizon = start_ns + windows * step_ns - int(self.config.prune_after_seconds * NS)
        stale = series.bank.last_seen[: series.bank.size] < horizon
        total_row = series.index.get(TOTAL_ROW)
        if total_row is not None:
            stale[total_row] = False
        if stale.any():
            series.keep(~stale)
        series.bank.skip(start_ns, windows, step_ns, self.config)
        return []

    def peek(
        self, window: Window, ctx: DetectContext, *, next_to_close: bool, earlier: Sequence[Window]
    ) -> list[Anomaly]:
        """The one-window spikes ``observe`` will report for this open window (counts so far).

        Judged as ``observe`` judges a window before any sum, with the expectations it will
        use: only on the next window to close (no other window updates the baselines first),
        only for series past ``min_history`` (the count of windows seen changes only at a
        close). Changes nothing.
        """
        cfg = self.config
        series = self._streams.get(window.stream)
        if not next_to_close or series is None:
            return []
        bank = series.bank
        candidates = [
            (key, row, observed)
            for key, observed in (*window.counts.items(), (TOTAL_ROW, window.total))
            if observed >= self.rules.min_count
            and (row := series.index.get(key)) is not None
            and bank.n[row] >= cfg.min_history
        ]
        if not candidates:
            return []
        expectations = self._expectations(bank, window.start)
        out = []
        for key, row, observed in candidates:
            verdict = self.rules.spike(observed, expectations(row))
            if verdict is not None:
                out.append(self._anomaly(window, ctx, key, verdict))
        return out

    def expectations(self, stream: str, key: int, start_ns: int) -> Expectations | None:
        """What a window of ``stream`` starting at ``start_ns`` is judged against for series
        ``key`` (a template id, or :data:`TOTAL_ROW`), as things stand; None if not tracked."""
        series = self._streams.get(stream)
        row = None if series is None else series.index.get(key)
        if series is None or row is None:
            return None
        return self._expectations(series.bank, start_ns)(row)

    def _expectations(self, bank: RateBank, start_ns: int) -> Callable[[int], Expectations]:
        seasonal = bank.seasonal(start_ns, self.config.season_alpha, commit=False)
        high, hi_i, low, lo_i = bank.expectations(seasonal, recent=True)
        disp = bank.dispersion()
        return lambda row: Expectations(
            high=(BASES[hi_i[row]], float(high[row])),
            low=(BASES[lo_i[row]], float(low[row])),
            dispersion=float(disp[row]),
        )

    def _anomaly(self, window: Window, ctx: DetectContext, key: int, v: Verdict) -> Anomaly:
        cfg = self.config
        observed = v.observed
        start = window.end - v.windows * (window.end - window.start)
        span = format_duration((window.end - start) / NS)
        tail = f"expected about {v.expected:.3g} from the {v.basis} (p={v.p:.1e})"
        if key == TOTAL_ROW:
            tid, text = None, None
            examples = [line for lines in window.examples.values() for line in lines][:3]
            what = f"Stream {window.stream} had {observed} lines in {span}"
        else:
            tid = key
            text = ctx.template_text(tid)
            examples = window.examples.get(tid, [])[:3]
            what = (
                f"Template '{text}' appeared {observed} times in {span} on stream {window.stream}"
            )
        if v.windows > 1:
            tail += f", a sustained {v.kind}"
        severity = cfg.severity.lower() if window.learning else cfg.severity
        return Anomaly(
            detector=self.name,
            kind=v.kind,
            stream=window.stream,
            start=start,
            end=window.end,
            score=min(1.0, max(0.0, 1.0 - v.p)),
            severity=severity,
            explanation=f"{what}; {tail}.",
            template_id=tid,
            template=text,
            expected=v.expected,
            observed=float(observed),
            examples=examples,
        )

    def state_dict(self) -> dict[str, Any]:
        return {
            "columnar": 1,
            "streams": {
                stream: {"keys": s.keys, **s.bank.state_dict()}
                for stream, s in self._streams.items()
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._streams = {}
        for stream, saved in state["streams"].items():
            series = self._streams[stream] = _Series(self.rules.spans)
            if "keys" in saved:
                series.keys = list(saved["keys"])
                series.bank.load_state_dict(saved)
            else:  # a snapshot of the scalar detector: one RateBaseline list per series
                for key, data in saved.items():
                    series.keys.append(TOTAL_ROW if key == TOTAL else int(key))
                    series.bank.add_baseline(RateBaseline.from_list(data))
            series.index = {k: i for i, k in enumerate(series.keys)}


def _verdict(j: Judged) -> Verdict:
    return Verdict(j.kind, j.observed, j.expected, j.p, j.basis, j.windows)
