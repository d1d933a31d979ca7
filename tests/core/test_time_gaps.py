"""Gaps in event time cost O(1) per stream, and far-future times are clamped (issue 12)."""

from __future__ import annotations

import copy

from helpers import records
from logradar.config import Settings, SilenceConfig
from logradar.detect.base import DetectContext, Window
from logradar.detect.silence import SilenceDetector
from logradar.engine.core import DetectionCore

S = 10**9
W = 10 * S
T0 = 1_700_000_000 * S // W * W
CTX = DetectContext(template_text=str, is_error_template=lambda t: False)


def core(**engine) -> DetectionCore:
    s = Settings(engine={"learning_seconds": 0, **engine})
    return DetectionCore(s.engine, s.parser, s.detectors)


def test_lines_a_day_apart_do_not_hold_up_another_stream():
    c = core()
    days = 30
    now = T0 + days * 86400 * S
    old = records(
        [f"tick {i}" for i in range(days)], [T0 + i * 86400 * S for i in range(days)], "old"
    )
    c.process(old, now)
    fatal = records(["FATAL disk /dev/sda1 failed"], [now], "other", first=days)
    out = c.process(fatal, now + W + c.lateness_ns)
    assert any(a.stream == "other" and a.detector == "new_pattern" for a in out.anomalies)
    for _ in range(100):  # the rest of the backlog closes in later steps
        if c.streams["old"].next_window >= now - W:
            break
        c.tick(now + W + c.lateness_ns)
    assert c.streams["old"].next_window >= now - W
    assert c.windows_skipped > days * 8000  # the month was learned in closed form


def test_a_live_line_far_in_the_future_is_clamped_and_counted():
    c = core(max_future_seconds=60)
    now = T0
    c.process(records(["hello 1", "hello 2"], [now, now + 86400 * S], "s"), now)
    assert c.clamped == {"past": 0, "future": 1}
    assert max(c.streams["s"].open) <= now + 60 * S


def test_silence_skip_fires_where_window_by_window_would():
    det = SilenceDetector(SilenceConfig(windows=3))
    for i in range(60):
        det.observe(Window("gw", T0 + i * W, T0 + (i + 1) * W, {1: 20}, total=20), CTX)
    by_window = copy.deepcopy(det)
    found = []
    for i in range(60, 560):
        found += by_window.observe(Window("gw", T0 + i * W, T0 + (i + 1) * W), CTX)
    skipped = det.skip("gw", T0 + 60 * W, 500, W, CTX)
    assert [(a.kind, a.start, a.end, a.template_id) for a in skipped] == [
        (a.kind, a.start, a.end, a.template_id) for a in found
    ]
    assert det.state_dict() == by_window.state_dict()
