import json

from logradar.config import ErrorBurstConfig
from logradar.detect.error_burst import ErrorBurstDetector
from logradar.schema import Severity


def run(det, ctx, windows):
    return [a for w in windows for a in det.observe(w, ctx)]


def test_fires_on_a_burst_of_errors(traffic, ctx):
    t = traffic(1)
    det = ErrorBurstDetector()
    assert run(det, ctx, (t.window(i) for i in range(300))) == []
    w = t.window(300, extra={7: 60})
    found = det.observe(w, ctx)
    assert len(found) == 1
    a = found[0]
    assert (a.detector, a.kind, a.stream, a.template_id) == (
        "error_burst",
        "error_burst",
        "payments",
        None,
    )
    assert (a.start, a.end) == (w.start, w.end)
    assert a.observed == w.errors >= 60
    assert a.expected < 3  # ~0.8 error lines per window before
    assert a.score > 0.999
    assert a.severity == Severity.HIGH
    assert a.examples == w.error_examples[:3] and a.examples
    assert a.explanation.startswith(f"Stream payments logged {w.errors} error lines in 10 s;")


def test_a_few_more_errors_is_not_a_burst(traffic, ctx):
    t = traffic(2)
    det = ErrorBurstDetector()
    run(det, ctx, (t.window(i) for i in range(300)))
    assert det.observe(t.window(300, extra={7: 6}), ctx) == []  # below min_count


def test_quiet_on_long_normal_traffic(traffic, ctx):
    # one Poisson test at p < 1e-6 per window: 2,000 windows expect 0.002 false alarms
    t = traffic(3)
    det = ErrorBurstDetector()
    assert run(det, ctx, (t.window(i) for i in range(2000))) == []


def test_learning_lowers_severity(traffic, ctx):
    t = traffic(4)
    det = ErrorBurstDetector()
    run(det, ctx, (t.window(i, learning=True) for i in range(100)))
    found = det.observe(t.window(100, extra={8: 80}, learning=True), ctx)
    assert [a.severity for a in found] == [Severity.MEDIUM]


def test_save_restore_gives_same_outputs(traffic, ctx):
    t = traffic(5, window_seconds=600)
    det = ErrorBurstDetector(ErrorBurstConfig(min_count=5))
    run(det, ctx, (t.window(i) for i in range(300)))
    restored = ErrorBurstDetector(ErrorBurstConfig(min_count=5))
    restored.load_state_dict(json.loads(json.dumps(det.state_dict())))
    tail = [t.window(i, extra={7: 40} if i % 40 == 0 else None) for i in range(300, 500)]
    expected = run(det, ctx, tail)
    assert len(expected) >= 4
    assert run(restored, ctx, tail) == expected
    assert restored.state_dict() == det.state_dict()


def test_a_sustained_thin_burst_is_reported_once_over_its_span(traffic, ctx):
    # ~0.8 error lines per window, then 4 more per window for 5 minutes: never 3x in one
    # window with p < 1e-6, clearly a burst over a minute
    t = traffic(3)
    det = ErrorBurstDetector()
    run(det, ctx, (t.window(i) for i in range(1000)))
    burst = [t.window(i, extra={7: 4}) for i in range(1000, 1030)]
    found = run(det, ctx, burst)
    assert len(found) == 1
    a = found[0]
    assert a.end - a.start in (60 * 10**9, 300 * 10**9)  # one of the default spans
    assert burst[0].start - 60 * 10**9 < a.start and a.end <= burst[-1].end
    assert a.observed >= 3 * a.expected
    assert "a sustained burst" in a.explanation
    single = ErrorBurstDetector(ErrorBurstConfig(sustained_windows=[]))
    run(single, ctx, (t.window(i) for i in range(1000)))
    assert run(single, ctx, burst) == []
