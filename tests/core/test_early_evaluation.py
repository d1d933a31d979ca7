"""Early evaluation: a never-seen template is reported from its still-open window, once, as
the window close would report it; replays are unaffected."""

from __future__ import annotations

import json

import pyarrow as pa

from helpers import records
from logradar.config import load_config
from logradar.engine.core import DetectionCore
from logradar.schema import Anomaly, Severity

SECOND = 1_000_000_000
WINDOW = 10 * SECOND
T0 = 1_764_075_600 * SECOND  # a window boundary
NEW_ERROR = "ERROR replica {i} lost quorum after fencing token mismatch"


def make_core(early: bool = True, **engine) -> DetectionCore:
    s = load_config(
        engine={
            "learning_seconds": 0,
            "allowed_lateness_seconds": 2,
            "early_evaluation": early,
            **engine,
        },
        detectors={"frequency": {"enabled": False}},
    )
    return DetectionCore(s.engine, s.parser, s.detectors)


class Feed:
    """Numbered records for a core, one stream, offsets counting up across calls."""

    def __init__(self) -> None:
        self.offset = 0

    def __call__(self, messages: list[str], ts: list[int] | int, stream: str = "s") -> pa.Table:
        n = len(messages)
        ts = [ts] * n if isinstance(ts, int) else ts
        first, self.offset = self.offset, self.offset + n
        return records(messages, ts, stream, first)


def normal(k: int) -> list[str]:
    return [f"INFO GET /api/items/{k * 10 + j} 200 in {j + 3} ms" for j in range(5)]


def warm_up(core: DetectionCore, feed: Feed, seconds: int = 40) -> list[Anomaly]:
    """One batch of normal lines per second of event time, the clock half a second behind."""
    found = []
    for k in range(seconds):
        batch = feed(normal(k), [T0 + k * SECOND + j for j in range(5)])
        found += core.process(batch, T0 + k * SECOND + SECOND // 2).anomalies
    return found


def new_patterns(anomalies: list[Anomaly]) -> list[Anomaly]:
    return [a for a in anomalies if a.kind == "new_pattern" and "quorum" in (a.template or "")]


def test_new_template_is_reported_from_its_open_window_once_and_as_the_close_would():
    early, close = make_core(early=True), make_core(early=False)
    feeds = Feed(), Feed()
    for core, feed in zip((early, close), feeds, strict=True):
        warm_up(core, feed)
    burst_at = T0 + 43 * SECOND  # window [40 s, 50 s) is open until the clock passes 52 s
    burst = [NEW_ERROR.format(i=i) for i in range(4)]
    outputs: dict[str, list[list[Anomaly]]] = {"early": [], "close": []}
    for name, core, feed in (("early", early, feeds[0]), ("close", close, feeds[1])):
        outputs[name].append(core.process(feed(burst, burst_at), burst_at + SECOND // 2).anomalies)
        for k in range(44, 70):  # normal traffic on, the window closes at 52 s
            batch = feed(normal(k), [T0 + k * SECOND + j for j in range(5)])
            outputs[name].append(core.process(batch, T0 + k * SECOND + SECOND // 2).anomalies)
        outputs[name].append(core.tick(T0 + 80 * SECOND).anomalies)

    early_steps = [new_patterns(found) for found in outputs["early"]]
    close_steps = [new_patterns(found) for found in outputs["close"]]
    assert len(early_steps[0]) == 1, "reported by the micro-batch that brought the first line"
    assert sum(map(len, early_steps)) == 1, "and never again, not at window close either"
    [reported] = early_steps[0]
    assert reported.end > burst_at + SECOND // 2, "its window was still open"
    closing = [found for found in close_steps if found]
    assert [len(found) for found in closing] == [1]
    assert closing[0][0] == reported  # every field, explanation and examples included
    assert reported.severity == Severity.HIGH
    assert (reported.start, reported.end) == (T0 + 40 * SECOND, T0 + 50 * SECOND)


def test_counts_and_examples_are_those_seen_so_far_identity_is_the_close_time_one():
    early, close = make_core(early=True), make_core(early=False)
    feed_e, feed_c = Feed(), Feed()
    warm_up(early, feed_e)
    warm_up(close, feed_c)
    at = T0 + 41 * SECOND
    first = [NEW_ERROR.format(i=1)]
    more = [NEW_ERROR.format(i=i) for i in range(2, 7)]
    [reported] = new_patterns(early.process(feed_e(first, at), at).anomalies)
    assert new_patterns(early.process(feed_e(more, at + SECOND), at + SECOND).anomalies) == []
    assert new_patterns(early.tick(T0 + 60 * SECOND).anomalies) == []
    close.process(feed_c(first, at), at)
    close.process(feed_c(more, at + SECOND), at + SECOND)
    [closed] = new_patterns(close.tick(T0 + 60 * SECOND).anomalies)
    assert reported.fingerprint == closed.fingerprint
    same = ("detector", "kind", "stream", "start", "end", "template_id", "severity", "score")
    assert all(getattr(reported, f) == getattr(closed, f) for f in same)
    assert (reported.observed, closed.observed) == (1.0, 6.0)
    assert reported.examples == first and closed.examples[0] == first[0]


def test_a_late_line_for_an_earlier_open_window_does_not_report_it_twice():
    core, feed = make_core(), Feed()
    warm_up(core, feed)
    # clock at 51 s: window [40, 50) is open (lateness 2 s), [50, 60) too
    now = T0 + 51 * SECOND
    found = core.process(feed([NEW_ERROR.format(i=1)], T0 + 50 * SECOND + 1), now).anomalies
    [reported] = new_patterns(found)
    assert reported.start == T0 + 50 * SECOND
    # a line of the same template timed in the earlier window, still within the lateness
    later = core.process(feed([NEW_ERROR.format(i=2)], T0 + 49 * SECOND), now + 1).anomalies
    assert new_patterns(later) == []
    assert new_patterns(core.tick(T0 + 80 * SECOND).anomalies) == []


def test_not_new_in_a_window_when_an_earlier_open_window_has_it():
    core, feed = make_core(), Feed()
    warm_up(core, feed)
    now = T0 + 51 * SECOND
    [reported] = new_patterns(
        core.process(feed([NEW_ERROR.format(i=1)], T0 + 49 * SECOND), now).anomalies
    )
    assert reported.start == T0 + 40 * SECOND
    again = core.process(feed([NEW_ERROR.format(i=2)], T0 + 50 * SECOND + 1), now + 1)
    assert new_patterns(again.anomalies) == []
    assert new_patterns(core.tick(T0 + 80 * SECOND).anomalies) == []


def test_snapshot_between_early_report_and_close_does_not_report_again():
    core, feed = make_core(), Feed()
    warm_up(core, feed)
    at = T0 + 42 * SECOND
    assert len(new_patterns(core.process(feed([NEW_ERROR.format(i=1)], at), at).anomalies)) == 1
    restored = make_core()
    restored.load_state_dict(json.loads(json.dumps(core.state_dict())))
    assert new_patterns(restored.tick(at + SECOND).anomalies) == []
    assert new_patterns(restored.tick(T0 + 80 * SECOND).anomalies) == []


def test_early_anomalies_while_learning_are_capped_at_low():
    core, feed = make_core(learning_seconds=600), Feed()
    warm_up(core, feed)
    at = T0 + 42 * SECOND
    [reported] = new_patterns(core.process(feed([NEW_ERROR.format(i=1)], at), at).anomalies)
    assert reported.severity <= Severity.LOW


def test_error_burst_is_reported_once_the_window_is_next_to_close():
    core, feed = make_core(), Feed()
    warm_up(core, feed, seconds=150)  # 15 windows without errors
    burst = ["ERROR write to /var/lib/db failed: disk full"] * 15
    steps = [core.process(feed(burst, T0 + 151 * SECOND), T0 + 151 * SECOND).anomalies]
    for k in range(152, 175):  # window [150 s, 160 s) closes when the clock passes 162 s
        batch = feed(normal(k), [T0 + k * SECOND + j for j in range(5)])
        steps.append(core.process(batch, T0 + k * SECOND + SECOND // 2).anomalies)
    bursts = [[a for a in found if a.kind == "error_burst"] for found in steps]
    assert bursts[0] == [], "window [140 s, 150 s) was still open: its baseline not final"
    assert len(bursts[1]) == 1 and sum(map(len, bursts)) == 1
    assert (bursts[1][0].start, bursts[1][0].observed) == (T0 + 150 * SECOND, 15.0)


def test_replays_and_the_switch_off_evaluate_at_close_only():
    def replay(core: DetectionCore) -> list[dict]:
        feed, found = Feed(), []
        for k in range(60):
            lines = normal(k) + ([NEW_ERROR.format(i=k)] if k in (33, 47) else [])
            found += core.process(feed(lines, T0 + k * SECOND), None).anomalies
        found += core.finish().anomalies
        return [core.with_current_text(a).to_dict() for a in found]

    assert replay(make_core(early=True)) == replay(make_core(early=False))
    live = make_core(early=False)
    feed = Feed()
    warm_up(live, feed)
    at = T0 + 42 * SECOND
    assert new_patterns(live.process(feed([NEW_ERROR.format(i=1)], at), at).anomalies) == []
