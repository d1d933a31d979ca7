"""Columnar rate baselines: every series of a stream judged in a few numpy operations.

:class:`RateBank` holds, for the series of one stream (its templates and its total), what
:class:`~logradar.detect.frequency.RateBaseline` holds for one: fast and slow EWMA levels
with variances, the hour-of-day profile (48 buckets: 24 hours, weekday and weekend), the
recent counts and expectations of the sustained spans, each span's dispersion and the
"sustained shift reported" flag, as one row per series in arrays. :meth:`RateBank.step`
judges and learns one closed window for all rows at once, with the same arithmetic in the
same order as the scalar code, so it returns the same verdicts; tail probabilities are only
computed for the few rows whose counts pass the cheap ratio tests.

:meth:`RateBank.skip` learns a run of empty windows in closed form (the EWMA of ``k`` zeros,
the hourly profile over at most :data:`SKIP_SEASON_DAYS` days), so a gap of days or years
costs the same as a gap of a few hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

NS = 1_000_000_000
BUCKETS = 48
DAY_NS = 86400 * NS
HOUR_NS = 3600 * NS
#: A skipped gap teaches the hourly profile about its last this many days only: after a week
#: of zeros a bucket's mean is ``(1 - season_alpha) ** 7`` of what it was (≤ 1 % at 0.5).
SKIP_SEASON_DAYS = 14


def time_bucket(start_ns: int) -> tuple[int, int]:
    """(hour of day + 24 if weekend, UTC day number) of a window start."""
    secs = start_ns // NS
    day = secs // 86400
    weekend = (day + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    return int((secs % 86400) // 3600 + 24 * weekend), int(day)


@dataclass(frozen=True, slots=True)
class Judged:
    """One row's verdict: what :class:`~logradar.detect.frequency.Verdict` needs."""

    row: int
    kind: str
    observed: int
    expected: float
    p: float
    basis: str
    windows: int


SLOW, FAST, SEASON = "long-run level", "recent level", "same hour on previous days"
BASES = (SLOW, FAST, SEASON)

_FLOAT_COLUMNS = ("fast_l", "fast_v", "slow_l", "slow_v")
_INT_COLUMNS = ("n", "last_seen", "rec_len")


class RateBank:
    """The rate baselines of one stream's series, one row each, in insertion order."""

    def __init__(self, spans: list[int]) -> None:
        self.spans = sorted(spans)
        self.depth = max(self.spans, default=1)
        self.size = 0
        cap = 8
        self.fast_l = np.zeros(cap)
        self.fast_v = np.zeros(cap)
        self.slow_l = np.zeros(cap)
        self.slow_v = np.zeros(cap)
        self.n = np.zeros(cap, np.int64)
        self.last_seen = np.zeros(cap, np.int64)
        self.rec_len = np.zeros(cap, np.int64)
        self.alarmed = np.zeros(cap, bool)
        # season: [mean, days, day, day_sum, day_n] per bucket; day -1 = never visited
        self.s_mean = np.zeros((cap, BUCKETS))
        self.s_days = np.zeros((cap, BUCKETS), np.int64)
        self.s_day = np.full((cap, BUCKETS), -1, np.int64)
        self.s_sum = np.zeros((cap, BUCKETS))
        self.s_cnt = np.zeros((cap, BUCKETS), np.int64)
        self.recent = np.zeros((cap, self.depth, 3))  # [count, high, low], newest last
        self.spread = np.zeros((cap, len(self.spans), 3))  # [mean, variance, n]
        self.spread_set = np.zeros((cap, len(self.spans)), bool)

    # Rows -------------------------------------------------------------------------------------
    def _arrays(self) -> list[str]:
        return [
            *_FLOAT_COLUMNS,
            *_INT_COLUMNS,
            "alarmed",
            "s_mean",
            "s_days",
            "s_day",
            "s_sum",
            "s_cnt",
            "recent",
            "spread",
            "spread_set",
        ]

    def add(self, counts: np.ndarray, start_ns: int) -> None:
        """Append rows for new series first seen with these counts (levels = count)."""
        k = len(counts)
        need = self.size + k
        if need > len(self.n):
            cap = max(need, 2 * len(self.n))
            for name in self._arrays():
                old = getattr(self, name)
                new = np.zeros((cap, *old.shape[1:]), old.dtype)
                if name == "s_day":
                    new.fill(-1)
                new[: self.size] = old[: self.size]
                setattr(self, name, new)
        rows = slice(self.size, need)
        c = counts.astype(float)
        self.fast_l[rows] = c
        self.fast_v[rows] = c
        self.slow_l[rows] = c
        self.slow_v[rows] = c
        self.n[rows] = 0
        self.last_seen[rows] = start_ns
        self.rec_len[rows] = 0
        self.alarmed[rows] = False
        self.s_mean[rows] = 0.0
        self.s_days[rows] = 0
        self.s_day[rows] = -1
        self.s_sum[rows] = 0.0
        self.s_cnt[rows] = 0
        self.recent[rows] = 0.0
        self.spread[rows] = 0.0
        self.spread_set[rows] = False
        self.size = need

    def add_baseline(self, base: Any) -> None:
        """Append one row holding a scalar ``RateBaseline`` (a snapshot of the old format)."""
        self.add(np.zeros(1, np.int64), base.last_seen)
        r = self.size - 1
        self.fast_l[r], self.fast_v[r] = base.fast
        self.slow_l[r], self.slow_v[r] = base.slow
        self.n[r] = base.n
        for bucket, (mean, days, day, day_sum, day_n) in base.season.items():
            b = int(bucket)
            self.s_mean[r, b], self.s_days[r, b], self.s_day[r, b] = mean, days, day
            self.s_sum[r, b], self.s_cnt[r, b] = day_sum, day_n
        recent = base.recent[-self.depth :]
        if recent:
            self.recent[r, self.depth - len(recent) :] = recent
        self.rec_len[r] = len(recent)
        self.alarmed[r] = base.alarmed
        for j, span in enumerate(self.spans):
            if (lv := base.spread.get(str(span))) is not None:
                self.spread[r, j] = lv
                self.spread_set[r, j] = True

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the rows where ``mask`` (of length ``size``) is True, in order."""
        kept = int(mask.sum())
        for name in self._arrays():
            arr = getattr(self, name)
            arr[:kept] = arr[: self.size][mask]
        self.size = kept

    # One window -------------------------------------------------------------------------------
    def seasonal(self, start_ns: int, season_alpha: float, *, commit: bool) -> np.ndarray:
        """Each row's seasonal mean for this window (NaN: none yet); ``commit`` folds
        finished days into the bucket (``roll``), else nothing changes (``seasonal``)."""
        b, day = time_bucket(start_ns)
        m = self.size
        mean = self.s_mean[:m, b]
        days = self.s_days[:m, b]
        stale = self.s_day[:m, b] != day
        with np.errstate(divide="ignore", invalid="ignore"):
            cnt = self.s_cnt[:m, b]
            fold = stale & (cnt > 0)
            day_mean = self.s_sum[:m, b] / cnt
            new_mean = np.where(days == 0, day_mean, mean + season_alpha * (day_mean - mean))
        mean = np.where(fold, new_mean, mean)
        days = days + fold
        if commit:
            self.s_mean[:m, b] = mean
            self.s_days[:m, b] = days
            self.s_day[:m, b] = np.where(stale, day, self.s_day[:m, b])
            self.s_sum[:m, b] = np.where(stale, 0.0, self.s_sum[:m, b])
            self.s_cnt[:m, b] = np.where(stale, 0, self.s_cnt[:m, b])
        return np.where(days > 0, mean, np.nan)

    def dispersion(self) -> np.ndarray:
        """``max(var/level of fast, of slow, 1)`` per row."""
        m = self.size
        return np.maximum(
            np.maximum(
                _disp(self.fast_l[:m], self.fast_v[:m]), _disp(self.slow_l[:m], self.slow_v[:m])
            ),
            1.0,
        )

    def expectations(self, seasonal: np.ndarray, *, recent: bool) -> tuple[np.ndarray, ...]:
        """(high, high basis index, low, low basis index) per row; bases index :data:`BASES`."""
        m = self.size
        has = ~np.isnan(seasonal)
        levels = np.stack(
            [
                self.slow_l[:m],
                self.fast_l[:m] if recent else np.full(m, -np.inf),
                np.where(has, seasonal, -np.inf),
            ]
        )
        hi_i = np.argmax(levels, axis=0)
        levels_low = levels.copy()
        if not recent:
            levels_low[1] = np.inf
        levels_low[2] = np.where(has, seasonal, np.inf)
        lo_i = np.argmin(levels_low, axis=0)
        cols = np.arange(m)
        return levels[hi_i, cols], hi_i, levels_low[lo_i, cols], lo_i

    def step(
        self,
        observed: np.ndarray,
        start_ns: int,
        rules: Any,
        cfg: Any,
        *,
        judge_from: int,
    ) -> list[Judged]:
        """Judge (rows with at least ``judge_from`` windows) and learn one window's counts.

        ``observed`` has one count per row. Returns the rows' verdicts in row order. Same
        rules as ``RateBaseline.roll``/``assess``/``update`` with ``cfg``'s weights.
        """
        m = self.size
        obs = observed.astype(np.int64)
        seasonal = self.seasonal(start_ns, cfg.season_alpha, commit=True)
        judged = self.n[:m] >= judge_from
        verdicts: dict[int, Judged] = {}
        if judged.any():
            verdicts = self._assess(obs, seasonal, judged, rules, cfg.slow_alpha)
        anomalous = np.zeros(m, bool)
        if verdicts:
            anomalous[list(verdicts)] = True
        self._update(obs, start_ns, cfg, anomalous)
        return [verdicts[r] for r in sorted(verdicts)]

    def _assess(
        self,
        obs: np.ndarray,
        seasonal: np.ndarray,
        judged: np.ndarray,
        rules: Any,
        alpha: float,
    ) -> dict[int, Judged]:
        m = self.size
        disp = self.dispersion()
        high, hi_i, low, lo_i = self.expectations(seasonal, recent=True)
        verdicts = _judge(rules, obs, high, hi_i, low, lo_i, disp, judged, windows=1)
        # remember: this window's count and slow expectations, then the sums over the spans
        s_high, s_hi_i, s_low, s_lo_i = self.expectations(seasonal, recent=False)
        rows = np.flatnonzero(judged)
        rec = self.recent[rows]
        rec[:, :-1] = rec[:, 1:]
        rec[:, -1, 0] = obs[rows]
        rec[:, -1, 1] = s_high[rows]
        rec[:, -1, 2] = s_low[rows]
        self.recent[rows] = rec
        self.rec_len[rows] = np.minimum(self.rec_len[rows] + 1, self.depth)
        slow_disp = _disp(self.slow_l[:m], self.slow_v[:m])
        sums = []
        for j, span in enumerate(self.spans):
            full = judged & (self.rec_len[:m] >= span)
            window = self.recent[:m, self.depth - span :, :]
            total = np.cumsum(window[:, :, 0], axis=1)[:, -1].astype(np.int64)
            hi_sum = np.cumsum(window[:, :, 1], axis=1)[:, -1]
            lo_sum = np.cumsum(window[:, :, 2], axis=1)[:, -1]
            spread = self.spread[:m, j]
            span_disp = np.where(self.spread_set[:m, j], _disp(spread[:, 0], spread[:, 1]), 1.0)
            d = np.maximum(np.maximum(slow_disp, span_disp), 1.0)
            sums.append((j, span, full, total, hi_sum, lo_sum, d))
        alarmed = self.alarmed[:m]
        for _, span, full, total, hi_sum, lo_sum, d in sums:
            free = full & ~alarmed
            free[list(verdicts)] = False
            if free.any():
                found = _judge(rules, total, hi_sum, s_hi_i, lo_sum, s_lo_i, d, free, windows=span)
                verdicts.update(found)
        beyond = np.zeros(m, bool)
        for _, _, full, total, hi_sum, lo_sum, _ in sums:
            b = total >= rules.min_ratio * hi_sum
            if rules.drop_min_expected is not None:
                b |= total <= lo_sum / rules.min_ratio
            beyond |= full & b
        fired = np.zeros(m, bool)
        if verdicts:
            fired[list(verdicts)] = True
        self.alarmed[:m] = np.where(judged, fired | (alarmed & beyond), alarmed)
        calm = judged & ~fired
        for j, _, full, total, _, _, _ in sums:
            rows = np.flatnonzero(calm & full)
            if not len(rows):
                continue
            lv = self.spread[rows, j]
            new = ~self.spread_set[rows, j]
            t = total[rows].astype(float)
            lv[new, 0] = t[new]
            lv[new, 1] = t[new]
            lv[new, 2] = 0
            limit = 4.0 * np.sqrt(np.maximum(np.maximum(lv[:, 1], lv[:, 0]), 1.0))
            clipped = np.minimum(np.maximum(t, lv[:, 0] - limit), lv[:, 0] + limit)
            a = np.maximum(alpha, 1.0 / (lv[:, 2] + 2))
            diff = clipped - lv[:, 0]
            lv[:, 0] = lv[:, 0] + a * diff
            lv[:, 1] = (1 - a) * (lv[:, 1] + a * diff * diff)
            lv[:, 2] += 1
            self.spread[rows, j] = lv
            self.spread_set[rows, j] = True
        return verdicts

    def _update(self, obs: np.ndarray, start_ns: int, cfg: Any, anomalous: np.ndarray) -> None:
        m = self.size
        weight = np.where(anomalous, cfg.anomaly_alpha_factor, 1.0)
        warmup = 1.0 / (self.n[:m] + 2)
        x = obs.astype(float)
        for level, var, a0 in (
            (self.fast_l, self.fast_v, cfg.alpha),
            (self.slow_l, self.slow_v, cfg.slow_alpha),
        ):
            a = np.maximum(a0, warmup) * weight
            diff = x - level[:m]
            level[:m] = level[:m] + a * diff
            var[:m] = np.where(anomalous, var[:m], (1 - a) * (var[:m] + a * diff * diff))
        self.n[:m] += 1
        self.last_seen[:m] = np.where(obs > 0, start_ns, self.last_seen[:m])
        b, _ = time_bucket(start_ns)
        self.s_sum[:m, b] += x
        self.s_cnt[:m, b] += 1

    # A run of empty windows -------------------------------------------------------------------
    def skip(self, start_ns: int, windows: int, step_ns: int, cfg: Any) -> None:
        """Learn ``windows`` empty windows from ``start_ns`` in closed form: no verdicts.

        Levels: ``k`` zeros move an EWMA level ``L`` to ``(1-a)^k L`` and its variance ``V``
        to ``(1-a)^k (V + L² (1 - (1-a)^k))`` (weight ``a`` as at the run's start). The hourly
        profile learns the zeros of the run's last :data:`SKIP_SEASON_DAYS` days, hour by hour.
        The recent counts become zeros against the current slow expectations; the span
        dispersions and the shift flags stay.
        """
        m = self.size
        if windows <= 0 or m == 0:
            return
        warmup = 1.0 / (self.n[:m] + 2)
        for level, var, a0 in (
            (self.fast_l, self.fast_v, cfg.alpha),
            (self.slow_l, self.slow_v, cfg.slow_alpha),
        ):
            keep = (1.0 - np.maximum(a0, warmup)) ** windows
            var[:m] = keep * (var[:m] + level[:m] ** 2 * (1.0 - keep))
            level[:m] = keep * level[:m]
        self.n[:m] += windows
        end_ns = start_ns + windows * step_ns
        first = max(start_ns, end_ns - SKIP_SEASON_DAYS * DAY_NS)
        first -= (first - start_ns) % step_ns  # a window start
        hour = first
        while hour < end_ns:
            nxt = min(end_ns, (hour // HOUR_NS + 1) * HOUR_NS)
            in_hour = -(-(nxt - hour) // step_ns)
            self.seasonal(hour, cfg.season_alpha, commit=True)
            b, _ = time_bucket(hour)
            self.s_cnt[:m, b] += in_hour
            hour += in_hour * step_ns
        depth = min(windows, self.depth)
        high, _, low, _ = self.expectations(np.full(m, np.nan), recent=False)
        self.recent[:m, :-depth] = self.recent[:m, depth:]
        self.recent[:m, -depth:, 0] = 0.0
        self.recent[:m, -depth:, 1] = high[:, None]
        self.recent[:m, -depth:, 2] = low[:, None]
        self.rec_len[:m] = np.minimum(self.rec_len[:m] + depth, self.depth)

    # State ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        m = self.size
        return {name: getattr(self, name)[:m].tolist() for name in self._arrays()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        m = len(state["n"])
        self.add(np.zeros(m, np.int64), 0)
        for name in self._arrays():
            arr = getattr(self, name)
            arr[:m] = np.asarray(state[name], arr.dtype).reshape(arr[:m].shape)


def _disp(level: np.ndarray, var: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(level > 0, var / level, 1.0)


def _judge(
    rules: Any,
    obs: np.ndarray,
    high: np.ndarray,
    hi_i: np.ndarray,
    low: np.ndarray,
    lo_i: np.ndarray,
    disp: np.ndarray,
    mask: np.ndarray,
    *,
    windows: int,
) -> dict[int, Judged]:
    """``Rules.judge`` for the rows in ``mask``: a spike first, else a drop."""
    out: dict[int, Judged] = {}
    spike = mask & (obs >= rules.min_count) & (obs >= rules.min_ratio * high)
    for r in np.flatnonzero(spike):
        p = tail_probability(int(obs[r]), float(high[r]), float(disp[r]), upper=True)
        if p < rules.p_value:
            out[int(r)] = Judged(
                int(r), "spike", int(obs[r]), float(high[r]), p, BASES[hi_i[r]], windows
            )
    if rules.drop_min_expected is None:
        return out
    drop = mask & (low >= rules.drop_min_expected) & (obs <= low / rules.min_ratio)
    if windows > 1:
        drop &= obs != 0
    for r in np.flatnonzero(drop):
        if int(r) in out:
            continue
        p = tail_probability(int(obs[r]), float(low[r]), float(disp[r]), upper=False)
        if p < rules.p_value:
            out[int(r)] = Judged(
                int(r), "drop", int(obs[r]), float(low[r]), p, BASES[lo_i[r]], windows
            )
    return out


def tail_probability(observed: int, mean: float, dispersion: float, *, upper: bool) -> float:
    """``P(X >= observed)`` (``upper``) or ``P(X <= observed)`` for a count with this mean.

    ``dispersion`` is variance / mean: at most 1 gives a Poisson, above 1 a negative binomial
    with that variance.
    """
    if dispersion <= 1.0:
        dist = stats.poisson(mean)
    else:
        dist = stats.nbinom(mean / (dispersion - 1.0), 1.0 / dispersion)
    return float(dist.sf(observed - 1) if upper else dist.cdf(observed))
