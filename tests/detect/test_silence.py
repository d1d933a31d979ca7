import json
import random

from logradar.config import SilenceConfig
from logradar.detect.silence import SilenceDetector
from logradar.schema import Severity


def run(det, ctx, windows):
    return [a for w in windows for a in det.observe(w, ctx)]


def test_stream_silence_fires_once_per_episode(traffic, ctx):
    t = traffic(1)
    det = SilenceDetector()
    assert run(det, ctx, (t.window(i) for i in range(200))) == []
    everything = set(t.base)
    found = [(i, det.observe(t.window(i, drop=everything), ctx)) for i in range(200, 220)]
    fired = [(i, a) for i, anomalies in found for a in anomalies]
    assert [i for i, _ in fired] == [202]  # third empty window, once
    a = fired[0][1]
    assert (a.detector, a.kind, a.stream, a.template_id, a.template) == (
        "silence",
        "silence",
        "payments",
        None,
        None,
    )
    assert (a.start, a.end) == (t.start(200), t.start(203))
    assert a.observed == 0
    assert 0.8 < a.expected / (3 * sum(t.rates(200).values())) < 1.2  # 3 windows' worth
    assert a.score > 0.99
    assert a.severity == Severity.HIGH
    assert a.examples and a.examples[0].startswith("line of template")
    assert a.explanation.startswith("Stream payments sent nothing for 30 s (3 windows)")
    # it comes back, then stops again: a second episode
    run(det, ctx, (t.window(i) for i in range(220, 240)))
    again = [
        (i, a) for i in range(240, 250) for a in det.observe(t.window(i, drop=everything), ctx)
    ]
    assert [i for i, _ in again] == [242]


def test_steady_template_silence(traffic, ctx):
    t = traffic(2)
    det = SilenceDetector()
    run(det, ctx, (t.window(i) for i in range(200)))
    found = run(det, ctx, (t.window(i, drop={2}) for i in range(200, 210)))
    assert [(a.template_id, a.severity) for a in found] == [(2, Severity.MEDIUM)]
    assert "has not appeared for 30 s (3 windows)" in found[0].explanation
    assert found[0].examples[0].startswith("line of template 2")


def test_rare_template_stopping_is_not_silence(traffic, ctx):
    t = traffic(3)
    det = SilenceDetector()
    run(det, ctx, (t.window(i) for i in range(200)))
    assert run(det, ctx, (t.window(i, drop={4, 5, 6}) for i in range(200, 300))) == []


def test_quiet_on_long_normal_traffic(traffic, ctx):
    # templates judged have >= 5 lines per window: 3 empty windows in a row have Poisson
    # probability < e^-15 each, so 2,000 windows (one day of 1-min windows incl. the night
    # trough) should give none
    t = traffic(4, window_seconds=60)
    det = SilenceDetector()
    assert run(det, ctx, (t.window(i) for i in range(2000))) == []


def test_learning_lowers_severity(traffic, ctx):
    t = traffic(5)
    det = SilenceDetector()
    run(det, ctx, (t.window(i, learning=True) for i in range(100)))
    found = run(det, ctx, (t.window(i, drop=set(t.base), learning=True) for i in range(100, 105)))
    assert [a.severity for a in found] == [Severity.MEDIUM]


def test_short_gaps_are_learned_and_long_silences_pruned(ctx, traffic):
    t = traffic(6, window_seconds=60, base={1: 20.0})
    det = SilenceDetector(SilenceConfig(windows=3, prune_after_seconds=600))
    run(det, ctx, (t.window(i) for i in range(100)))
    assert run(det, ctx, (t.window(i, drop={1}) for i in range(100, 102))) == []
    assert det.state_dict()["streams"]["payments"]["1"][3] == 2  # empty run so far
    run(det, ctx, (t.window(i) for i in range(102, 110)))
    assert len(run(det, ctx, (t.window(i, drop={1}) for i in range(110, 125)))) == 1
    assert det.state_dict()["streams"]["payments"] == {}


def test_save_restore_gives_same_outputs(traffic, ctx):
    t = traffic(7)
    det = SilenceDetector()
    run(det, ctx, (t.window(i) for i in range(150)))
    restored = SilenceDetector()
    restored.load_state_dict(json.loads(json.dumps(det.state_dict())))
    tail = [t.window(i, drop={1, 2} if 160 <= i < 170 else set()) for i in range(150, 200)]
    expected = run(det, ctx, tail)
    assert len(expected) == 2
    assert run(restored, ctx, tail) == expected
    assert restored.state_dict() == det.state_dict()


def test_a_bursty_stream_is_judged_by_its_longest_normal_pause(traffic, ctx):
    # a batch stream: busy for 6 windows, then quiet for up to 4 (random); a pause of 5
    # windows is normal for it, one of 12 is not
    t = traffic(30)
    everything = set(t.base)
    rng = random.Random(3)
    det = SilenceDetector()
    i, found = 0, []
    while i < 3000:
        found += run(det, ctx, (t.window(j) for j in range(i, i + 6)))
        pause = rng.randint(1, 4)
        found += run(det, ctx, (t.window(j, drop=everything) for j in range(i + 6, i + 6 + pause)))
        i += 6 + pause
    found += run(det, ctx, (t.window(j) for j in range(i, i + 6)))
    assert found == []
    i += 6
    gap = [(j, det.observe(t.window(j, drop=everything), ctx)) for j in range(i, i + 12)]
    fired = [(j - i + 1, a) for j, anomalies in gap for a in anomalies]
    assert [n for n, _ in fired] == [8]  # twice the longest pause (4, fading slowly), and more
    assert "longest pause so far was 40 s" in fired[0][1].explanation
