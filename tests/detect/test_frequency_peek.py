"""FrequencyDetector.peek: one-window spikes already certain in the next window to close."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from logradar.config import FrequencyConfig
from logradar.detect.base import DetectContext, Window
from logradar.detect.frequency import FrequencyDetector
from logradar.schema import Anomaly

NS = 1_000_000_000
T0 = 1_764_028_800 * NS  # a Tuesday, midnight UTC
IDENTITY = ("detector", "kind", "stream", "start", "end", "template_id")
UNSEEN = 99
"""A template id the history never has: no baseline, so nothing to judge early."""
CTX = DetectContext(template_text=lambda t: f"template {t} <*>", is_error_template=lambda t: False)


def state(det: FrequencyDetector) -> str:
    return json.dumps(det.state_dict(), sort_keys=True)


def peek(det: FrequencyDetector, window: Window, ctx, next_to_close: bool = True) -> list[Anomaly]:
    return det.peek(window, ctx, next_to_close=next_to_close, earlier=[])


def so_far(window: Window, counts: dict[int, int]) -> Window:
    """``window`` as seen while open: ``counts`` so far, examples among the final ones."""
    counts = {t: c for t, c in counts.items() if c}
    return replace(
        window,
        counts=counts,
        total=sum(counts.values()),
        examples={t: window.examples.get(t, [])[: min(c, 1)] for t, c in counts.items()},
    )


def grow(window: Window, steps: int) -> list[Window]:
    """``window`` seen after each of ``steps`` micro-batches (each count grows linearly)."""
    return [
        so_far(window, {t: c * k // steps for t, c in window.counts.items()})
        for k in range(steps + 1)
    ]


def check_peeks_are_close_time_anomalies(
    det: FrequencyDetector, ctx, partial: list[Window], final: Window
) -> tuple[list[Anomaly], list[Anomaly]]:
    """Peek at every ``partial`` window and the ``final`` one, then close it; check that each
    peeked anomaly is a close-time one with the same identity, that peeking changed nothing,
    and that peeking at the final counts gives exactly the close's one-window spikes.
    Returns (everything peeked, what the close reported)."""
    twin = copy.deepcopy(det)
    before = state(det)
    peeked = [a for w in partial for a in peek(det, w, ctx)]
    at_final = peek(det, final, ctx)
    assert state(det) == before
    closed = det.observe(final, ctx)
    assert closed == twin.observe(final, ctx)
    assert state(det) == state(twin)
    by_fingerprint = {a.fingerprint: a for a in closed}
    for a in peeked + at_final:
        assert a.kind == "spike"
        match = by_fingerprint.get(a.fingerprint)
        assert match is not None, f"peeked {a.explanation} but the close did not report it"
        assert all(getattr(a, f) == getattr(match, f) for f in IDENTITY)
        assert (a.expected, a.severity, a.template) == (
            match.expected,
            match.severity,
            match.template,
        )
        assert a.observed <= match.observed
    one_window = [a for a in closed if a.kind == "spike" and a.start == final.start]
    assert sorted(at_final, key=str) == sorted(one_window, key=str)
    return peeked + at_final, closed


# (a) property: whatever the baseline and however the open window fills up ---------------------


def history_window(rng, i: int, step: int, rates: list[float], shapes: list[str]) -> Window:
    counts = {}
    for t, (rate, shape) in enumerate(zip(rates, shapes, strict=True)):
        if shape == "bursty":  # rate x 10 one window in ten, else nothing
            c = int(rng.poisson(rate * 10)) if rng.random() < 0.1 else 0
        elif shape == "rising":  # a slow shift (moves the sums and the alarmed state)
            c = int(rng.poisson(rate * (1 + i / 10)))
        else:
            c = int(rng.poisson(rate))
        if c:
            counts[t] = c
    start = T0 + i * step
    return Window(
        "s",
        start,
        start + step,
        counts,
        total=sum(counts.values()),
        examples={t: [f"line {t}"] for t in counts},
    )


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    step=st.sampled_from([10 * NS, 3600 * NS, 6 * 3600 * NS]),
    history=st.integers(8, 70),
    series=st.lists(
        st.tuples(st.floats(0.0, 80.0), st.sampled_from(["steady", "bursty", "rising"])),
        min_size=1,
        max_size=5,
    ),
    batches=st.lists(
        st.dictionaries(st.integers(0, 5) | st.just(UNSEEN), st.integers(0, 120), max_size=4),
        min_size=1,
        max_size=8,
    ),
    p_value=st.sampled_from([1e-6, 1e-3, 0.05]),
    min_history=st.integers(1, 12),
    learning=st.booleans(),
)
def test_every_peeked_anomaly_is_what_the_close_reports(
    seed, step, history, series, batches, p_value, min_history, learning
):
    ctx = CTX
    rng = np.random.default_rng(seed)
    rates = [r for r, _ in series]
    shapes = [s for _, s in series]
    config = FrequencyConfig(p_value=p_value, min_history=min_history)
    det = FrequencyDetector(config)
    for i in range(history):
        det.observe(history_window(rng, i, step, rates, shapes), ctx)
    start = T0 + history * step
    final = Window("s", start, start + step, learning=learning)
    counts: dict[int, int] = {}
    partial = []
    for batch in batches:
        for t, c in batch.items():
            counts[t] = counts.get(t, 0) + c
        final = replace(final, examples={t: [f"line {t}"] for t in counts})
        partial.append(so_far(final, counts))
    final = so_far(final, counts)
    if (series := det._streams.get("s")) is not None:  # peek's expectations are observe's
        alpha = config.season_alpha
        np.testing.assert_array_equal(
            series.bank.seasonal(start, alpha, commit=False),
            copy.deepcopy(series.bank).seasonal(start, alpha, commit=True),
        )
    check_peeks_are_close_time_anomalies(det, ctx, partial, final)


# (b) a spike is reported before the close -----------------------------------------------------


def trained(traffic, ctx, seed: int) -> tuple[FrequencyDetector, object]:
    t = traffic(seed)
    det = FrequencyDetector()
    for i in range(300):
        det.observe(t.window(i), ctx)
    return det, t


def test_a_spike_so_far_is_the_anomaly_the_close_reports(traffic, ctx):
    det, t = trained(traffic, ctx, 1)
    final = t.window(300, extra={3: 200})  # template 3: ~8 per window
    steps = grow(final, 10)
    first = next(k for k, w in enumerate(steps) if peek(det, w, ctx))
    assert 0 < first < 10, "reported from a part of the window"
    [early] = peek(det, steps[first], ctx)
    _, closed = check_peeks_are_close_time_anomalies(det, ctx, steps, final)
    [match] = [a for a in closed if a.fingerprint == early.fingerprint]
    assert (early.template_id, early.kind, early.start) == (3, "spike", final.start)
    assert early.observed == steps[first].counts[3] < match.observed == final.counts[3]
    assert early.examples == steps[first].examples[3]


def test_template_and_stream_total_spikes_in_one_window_are_two_anomalies(traffic, ctx):
    det, t = trained(traffic, ctx, 2)
    final = t.window(300, extra={3: 400, 5: 1200})
    peeked, closed = check_peeks_are_close_time_anomalies(det, ctx, grow(final, 4), final)
    early = {a.template_id for a in peeked}
    assert early == {3, 5, None}  # None: the stream total
    assert {a.template_id for a in closed if a.kind == "spike"} == early
    [total] = [a for a in closed if a.template_id is None]
    assert total.explanation.startswith(f"Stream payments had {final.total} lines")


def test_nothing_before_the_threshold_or_before_earlier_windows_close(traffic, ctx):
    det, t = trained(traffic, ctx, 3)
    final = t.window(300, extra={3: 200})
    assert peek(det, so_far(final, {3: 9}), ctx) == []  # below min_count so far
    assert peek(det, final, ctx, next_to_close=False) == []  # baseline not final yet
    assert peek(det, replace(final, stream="unknown"), ctx) == []
    young = FrequencyDetector()
    for i in range(5):  # fewer than min_history windows: observe does not judge yet
        young.observe(t.window(i), ctx)
    assert peek(young, t.window(5, extra={3: 500}), ctx) == []
    assert young.observe(t.window(5, extra={3: 500}), ctx) == []


# (c) drops are never peeked -------------------------------------------------------------------


def test_drops_are_left_to_the_close(traffic, ctx):
    det, t = trained(traffic, ctx, 4)
    final = t.window(300, drop={1})  # template 1: ~60 per window, gone
    partial = grow(final, 5)  # early on, busy templates and the total look like drops too
    peeked, closed = check_peeks_are_close_time_anomalies(det, ctx, partial, final)
    assert peeked == []
    assert [(a.kind, a.template_id) for a in closed] == [("drop", 1)]


def test_a_drop_so_far_is_not_peeked_and_later_lines_undo_it(traffic, ctx):
    det, t = trained(traffic, ctx, 5)
    final = t.window(300)
    assert peek(det, so_far(final, {1: 1}), ctx) == []  # 1 of ~60 so far: drop-like
    assert det.rules.judge(1, det.expectations("payments", 1, final.start)).kind == "drop"
    assert det.observe(final, ctx) == []


# (d) peek changes nothing ---------------------------------------------------------------------


def test_peeking_changes_no_state_across_days(traffic, ctx):
    hourly = traffic(6, window_seconds=3600)
    det = FrequencyDetector()
    for i in range(24 * 9):  # nine days of hourly windows: the seasonal profile is in use
        det.observe(hourly.window(i), ctx)
    final = hourly.window(24 * 9, extra={4: 300})  # template 4: ~3 per window
    seasonal = det._streams["payments"].bank.seasonal(final.start, 0.5, commit=False)
    assert not np.isnan(seasonal).any()
    before = state(det)
    found = peek(det, so_far(final, {**final.counts, 4: 300}), ctx)
    assert state(det) == before
    assert [a.template_id for a in found] == [4]
    peeked, _ = check_peeks_are_close_time_anomalies(det, ctx, grow(final, 6), final)
    assert 4 in {a.template_id for a in peeked}
