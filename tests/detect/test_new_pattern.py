import json

from logradar.config import NewPatternConfig
from logradar.detect.base import Window
from logradar.detect.new_pattern import NewPatternDetector
from logradar.schema import Severity

STEP = 10 * 10**9


def w(i, counts, *, stream="payments", learning=False):
    return Window(
        stream,
        i * STEP,
        (i + 1) * STEP,
        counts,
        total=sum(counts.values()),
        examples={t: [f"raw line {t}"] for t in counts},
        learning=learning,
    )


def run(det, ctx, windows):
    return [a for x in windows for a in det.observe(x, ctx)]


def test_new_template_fires_once(traffic, ctx):
    t = traffic(1)
    det = NewPatternDetector()
    run(det, ctx, (t.window(i) for i in range(720)))  # 2 h baseline
    found = det.observe(t.window(720, extra={42: 57}), ctx)
    assert len(found) == 1
    a = found[0]
    assert (a.detector, a.kind, a.stream, a.template_id) == (
        "new_pattern",
        "new_pattern",
        "payments",
        42,
    )
    assert (a.start, a.end) == (t.start(720), t.start(721))
    assert (a.score, a.expected, a.observed) == (1.0, 0.0, 57.0)
    assert a.severity == Severity.MEDIUM
    assert a.session is None
    assert a.template == ctx.template_text(42)
    assert a.examples == [
        "line of template 42 #0",
        "line of template 42 #1",
        "line of template 42 #2",
    ]
    assert a.explanation == (
        f"Template '{ctx.template_text(42)}' appeared 57 times in 10 s on stream payments; "
        "it was never seen in the 2 h baseline."
    )
    assert det.observe(t.window(721, extra={42: 3}), ctx) == []


def test_quiet_on_long_normal_traffic(traffic, ctx):
    # every template of the normal traffic may be new exactly once (when first seen), never
    # again over 2,000 windows
    t = traffic(2)
    det = NewPatternDetector()
    found = run(det, ctx, (t.window(i) for i in range(2000)))
    ids = [a.template_id for a in found]
    assert len(ids) == len(set(ids))
    assert set(ids) <= set(t.base)
    assert all(a.start < t.start(100) for a in found)


def test_error_template_gets_error_severity(ctx):
    det = NewPatternDetector(NewPatternConfig(severity="low", error_severity="critical"))
    det.observe(w(0, {1: 10}), ctx)
    found = det.observe(w(1, {1: 10, 7: 2}), ctx)
    assert [(a.template_id, a.severity) for a in found] == [(7, Severity.CRITICAL)]
    found = det.observe(w(2, {1: 10, 3: 2}), ctx)
    assert [(a.template_id, a.severity) for a in found] == [(3, Severity.LOW)]


def test_flood_of_new_templates_is_recorded_with_lower_severity(ctx):
    det = NewPatternDetector()
    det.observe(w(0, {1: 100, 2: 50, 3: 20, 4: 10, 5: 5, 6: 5}), ctx)
    deploy = {1: 100, 2: 50, 3: 20, 4: 10, 5: 5, 6: 5, **{t: 3 for t in range(20, 26)}}
    found = det.observe(w(1, deploy), ctx)
    assert [a.template_id for a in found] == list(range(20, 26))
    assert all(a.severity == Severity.LOW for a in found)
    assert all("one of 6 new templates" in a.explanation for a in found)


def test_two_new_templates_that_dominate_a_window_are_a_flood(ctx):
    det = NewPatternDetector(NewPatternConfig(flood_share=0.5))
    det.observe(w(0, {1: 10, 2: 10}), ctx)
    found = det.observe(w(1, {1: 10, 30: 1, 31: 1}), ctx)
    assert [a.severity for a in found] == [Severity.LOW, Severity.LOW]
    found = det.observe(w(2, {1: 10, 2: 10, 30: 1, 40: 1}), ctx)
    assert [(a.template_id, a.severity) for a in found] == [(40, Severity.MEDIUM)]


def test_streams_are_independent(ctx):
    det = NewPatternDetector()
    det.observe(w(0, {1: 5}, stream="a"), ctx)
    det.observe(w(0, {2: 5}, stream="b"), ctx)
    assert [a.template_id for a in det.observe(w(1, {1: 5, 2: 1}, stream="b"), ctx)] == [1]


def test_learning_lowers_severity(ctx):
    det = NewPatternDetector()
    first = det.observe(w(0, {1: 5}, learning=True), ctx)
    assert [a.severity for a in first] == [Severity.LOW]
    assert "among the first lines" in first[0].explanation
    found = det.observe(w(1, {1: 5, 7: 1}, learning=True), ctx)
    assert [a.severity for a in found] == [Severity.MEDIUM]  # error (high), one step lower


def test_forgotten_templates_come_back_as_new_only_when_configured(ctx):
    day = 86400 * 10**9 // STEP
    for forget, expected in ((None, []), (7 * 86400.0, [(1, 0.8)])):
        det = NewPatternDetector(NewPatternConfig(forget_after_seconds=forget))
        det.observe(w(0, {1: 5, 2: 5}), ctx)
        run(det, ctx, (w(i, {2: 5}) for i in range(1, 8 * day, 500)))
        found = det.observe(w(8 * day, {1: 2, 2: 5}), ctx)
        assert [(a.template_id, a.score) for a in found] == expected
    assert "last seen 8 d earlier" in found[0].explanation


def test_save_restore_gives_same_outputs(traffic, ctx):
    t = traffic(3)
    det = NewPatternDetector(NewPatternConfig(forget_after_seconds=600))
    run(det, ctx, (t.window(i) for i in range(300)))
    restored = NewPatternDetector(NewPatternConfig(forget_after_seconds=600))
    restored.load_state_dict(json.loads(json.dumps(det.state_dict())))
    tail = [t.window(i, extra={100 + i % 7: 2} if i % 5 == 0 else None) for i in range(300, 500)]
    expected = run(det, ctx, tail)
    assert len(expected) > 7  # new ones, then forgotten ones coming back
    assert run(restored, ctx, tail) == expected
    assert restored.state_dict() == det.state_dict()
