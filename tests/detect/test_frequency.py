import json

import numpy as np
import pytest
from scipy import stats

from logradar.config import FrequencyConfig
from logradar.detect.frequency import FrequencyDetector, format_duration, tail_probability
from logradar.schema import Severity


def run(det, ctx, windows):
    return [a for w in windows for a in det.observe(w, ctx)]


def test_spike_on_a_template(traffic, ctx):
    t = traffic(1)
    det = FrequencyDetector()
    assert run(det, ctx, (t.window(i) for i in range(300))) == []
    found = det.observe(t.window(300, extra={3: 200}), ctx)
    spikes = [a for a in found if a.template_id == 3]
    assert len(spikes) == 1
    a = spikes[0]
    assert (a.detector, a.kind, a.stream) == ("frequency", "spike", "payments")
    assert a.observed >= 200
    assert 3 < a.expected < 20  # base 8 per window, scaled by the daily cycle
    assert a.score > 0.999
    assert a.severity == Severity.MEDIUM
    assert a.examples and a.examples[0].startswith("line of template 3")
    assert a.template == ctx.template_text(3)
    assert f"appeared {int(a.observed)} times in 10 s on stream payments" in a.explanation
    assert (a.start, a.end) == (t.start(300), t.start(301))


def test_stream_total_spike_has_no_template(traffic, ctx):
    t = traffic(2)
    det = FrequencyDetector()
    run(det, ctx, (t.window(i) for i in range(100)))
    totals = [a for a in det.observe(t.window(100, extra={1: 2000}), ctx) if a.template_id is None]
    assert [a.kind for a in totals] == ["spike"]
    assert totals[0].template is None
    assert totals[0].explanation.startswith("Stream payments had ")


def test_drop_of_a_busy_template_and_absent_counts_as_zero(traffic, ctx):
    t = traffic(3)
    det = FrequencyDetector()
    run(det, ctx, (t.window(i) for i in range(200)))
    found = det.observe(t.window(200, drop={1}), ctx)
    drops = [a for a in found if a.template_id == 1]
    assert [a.kind for a in drops] == ["drop"]
    assert drops[0].observed == 0
    assert drops[0].expected >= 20


def test_no_drop_for_a_low_rate_template(traffic, ctx):
    t = traffic(4)
    det = FrequencyDetector()
    run(det, ctx, (t.window(i) for i in range(200)))
    # template 3 (~8 per window) vanishing is below drop_min_expected: not reported
    assert [a for a in det.observe(t.window(200, drop={3}), ctx) if a.template_id == 3] == []


def test_low_counts_need_min_count(traffic, ctx):
    t = traffic(5)
    det = FrequencyDetector()
    run(det, ctx, (t.window(i) for i in range(200)))
    # template 6 runs at ~0.3 per window: 6 more lines is a huge z-score but below min_count
    assert [a for a in det.observe(t.window(200, extra={6: 6}), ctx) if a.template_id == 6] == []
    run(det, ctx, (t.window(i) for i in range(201, 300)))
    found = [a for a in det.observe(t.window(300, extra={6: 15}), ctx) if a.template_id == 6]
    assert [a.kind for a in found] == ["spike"]


def test_quiet_on_long_normal_traffic(traffic, ctx):
    # 2,000 windows x 9 series (8 templates + total), each tested for spike and drop at
    # p < 1e-6: a calibrated test expects ~0.04 false alarms. Allow 2 for the noise of the
    # estimated baseline (early windows, low-rate templates).
    t = traffic(6)
    det = FrequencyDetector()
    found = run(det, ctx, (t.window(i) for i in range(2000)))
    assert len(found) <= 2, [a.explanation for a in found]


def test_bursty_templates_between_bursts_are_not_spikes(traffic, ctx):
    # a stack trace of 30 lines every 97 windows: the learned over-dispersion (negative
    # binomial tail) and the slow level keep its recurring bursts from firing
    t = traffic(7, base={1: 40.0})
    det = FrequencyDetector()
    found = run(
        det, ctx, (t.window(i, extra={9: 30} if i % 97 == 50 else None) for i in range(2000))
    )
    assert len([a for a in found if a.template_id == 9]) <= 2


def test_daily_cron_is_learned_by_hour_of_day(ctx, traffic):
    # 5-minute windows over 4 days; a batch job's template shows up now and then, and logs
    # 300 lines per window from 02:00 to 02:30
    t = traffic(8, window_seconds=300, base={1: 500.0, 2: 50.0, 9: 0.5})
    det = FrequencyDetector()
    per_day: dict[int, list[str]] = {}
    for i in range(4 * 288):
        in_cron = 24 <= i % 288 < 30
        for a in det.observe(t.window(i, extra={9: 300} if in_cron else None), ctx):
            if a.template_id == 9:
                per_day.setdefault(i // 288, []).append(a.kind)
    assert "spike" in per_day.get(0, [])
    assert all(not per_day.get(day) for day in (1, 2, 3)), per_day


def test_long_incident_does_not_become_the_baseline(traffic, ctx):
    t = traffic(9)
    det = FrequencyDetector()
    run(det, ctx, (t.window(i) for i in range(200)))
    fired = sum(
        any(a.template_id == 3 for a in det.observe(t.window(i, extra={3: 100}), ctx))
        for i in range(200, 260)
    )
    assert fired >= 50

    fast = FrequencyDetector(FrequencyConfig(anomaly_alpha_factor=1.0))
    run(fast, ctx, (t.window(i) for i in range(200)))
    fired_fast = sum(
        any(a.template_id == 3 for a in fast.observe(t.window(i, extra={3: 100}), ctx))
        for i in range(200, 260)
    )
    assert fired_fast < fired


def test_learning_lowers_severity(traffic, ctx):
    t = traffic(10)
    det = FrequencyDetector(FrequencyConfig(severity="high"))
    run(det, ctx, (t.window(i, learning=True) for i in range(100)))
    found = det.observe(t.window(100, extra={3: 200}, learning=True), ctx)
    assert found and all(a.severity == Severity.MEDIUM for a in found)


def test_prunes_templates_not_seen_for_long(traffic, ctx):
    t = traffic(11, window_seconds=60, base={1: 20.0})
    det = FrequencyDetector(FrequencyConfig(prune_after_seconds=3600))
    det.observe(t.window(0, extra={5: 3}), ctx)
    assert 5 in det.state_dict()["streams"]["payments"]["keys"]
    run(det, ctx, (t.window(i) for i in range(1, 62)))
    assert det.state_dict()["streams"]["payments"]["keys"] == [1, -1]  # -1: the total


def test_save_restore_gives_same_outputs(traffic, ctx):
    t = traffic(12, window_seconds=600)
    det = FrequencyDetector()
    run(det, ctx, (t.window(i) for i in range(400)))
    restored = FrequencyDetector()
    restored.load_state_dict(json.loads(json.dumps(det.state_dict())))
    tail = [t.window(i, extra={3: 150} if i % 50 == 0 else None) for i in range(400, 700)]
    expected = run(det, ctx, tail)
    assert expected
    assert run(restored, ctx, tail) == expected
    assert restored.state_dict() == det.state_dict()


@pytest.mark.parametrize("mean", [0.5, 4.0, 40.0])
def test_tail_probability_matches_scipy(mean):
    high = int(3 * mean) + 10
    poisson = tail_probability(high, mean, 1.0, upper=True)
    assert poisson == pytest.approx(stats.poisson.sf(high - 1, mean))
    # variance 3x the mean: a negative binomial has a much fatter upper tail
    assert tail_probability(high, mean, 3.0, upper=True) > poisson
    nb = stats.nbinom(mean / 2.0, 1 / 3.0)
    assert nb.mean() == pytest.approx(mean) and nb.var() == pytest.approx(3 * mean)
    assert tail_probability(1, mean, 3.0, upper=False) == pytest.approx(nb.cdf(1))


def test_format_duration():
    assert format_duration(10) == "10 s"
    assert format_duration(300) == "5 min"
    assert format_duration(7200) == "2 h"
    assert format_duration(3 * 86400) == "3 d"


LOW_RATE = {1: 5.0, 2: 3.0, 3: 2.0}


def test_sustained_drop_of_a_low_rate_stream(traffic, ctx):
    # ~10 lines per window: a drop to 10 % is not significant in one window (p > 1e-6)
    # but is after a few; it is reported once, from where the run began
    normal, thinned = traffic(20, base=LOW_RATE), traffic(21, base={1: 0.5, 2: 0.3, 3: 0.2})
    det = FrequencyDetector()
    assert run(det, ctx, (normal.window(i) for i in range(1000))) == []
    found = [
        (i, a)
        for i in range(1000, 1060)
        for a in det.observe(thinned.window(i), ctx)
        if a.template_id is None
    ]
    assert [a.kind for _, a in found] == ["drop"]
    i, a = found[0]
    assert i < 1010
    assert normal.start(1000) <= a.start < normal.start(1003)
    assert a.end == normal.start(i + 1)
    assert a.observed < 0.3 * a.expected and a.expected >= 20
    assert "sustained drop" in a.explanation
    single = FrequencyDetector(FrequencyConfig(sustained_windows=[]))
    run(single, ctx, (normal.window(i) for i in range(1000)))
    assert run(single, ctx, (thinned.window(i) for i in range(1000, 1060))) == []


def test_sustained_spike_of_a_rare_template(traffic, ctx):
    # template 9 at ~0.05 lines per window, then 20x for 60 windows (~1 per window): never
    # min_count in one window, clearly abnormal over a few minutes
    t = traffic(22, base={**LOW_RATE, 9: 0.05})
    det = FrequencyDetector()
    run(det, ctx, (t.window(i) for i in range(1000)))
    rng = np.random.default_rng(0)
    found = [
        a
        for i in range(1000, 1060)
        for a in det.observe(t.window(i, extra={9: int(rng.poisson(1.0))}), ctx)
        if a.template_id == 9
    ]
    assert [a.kind for a in found] == ["spike"]
    assert found[0].observed >= 10 and found[0].observed > 5 * found[0].expected


def test_shift_below_the_ratio_never_fires_however_long(traffic, ctx):
    normal, doubled = traffic(23, base=LOW_RATE), traffic(24, base={1: 10.0, 2: 6.0, 3: 4.0})
    det = FrequencyDetector()
    run(det, ctx, (normal.window(i) for i in range(1000)))
    assert run(det, ctx, (doubled.window(i) for i in range(1000, 1500))) == []


def test_old_snapshots_without_cusum_state_load(traffic, ctx):
    t = traffic(25, base=LOW_RATE)
    det = FrequencyDetector()
    run(det, ctx, (t.window(i) for i in range(50)))
    state = det.state_dict()
    for keys in state["streams"].values():
        for key in keys:
            keys[key] = keys[key][:5]
    restored = FrequencyDetector()
    restored.load_state_dict(state)
    assert run(restored, ctx, (t.window(i) for i in range(50, 100))) == []
