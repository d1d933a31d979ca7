"""ErrorBurstDetector.peek: a burst already certain in the next window to close."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

from logradar.detect.error_burst import ErrorBurstDetector


def trained(traffic, ctx, seed: int) -> tuple[ErrorBurstDetector, object]:
    t = traffic(seed)
    det = ErrorBurstDetector()
    for i in range(300):
        det.observe(t.window(i), ctx)
    return det, t


def peek(det, window, ctx, next_to_close=True):
    return det.peek(window, ctx, next_to_close=next_to_close, earlier=[])


def test_a_burst_so_far_is_the_anomaly_the_close_reports(traffic, ctx):
    det, t = trained(traffic, ctx, 1)
    final = t.window(300, extra={7: 60})
    so_far = replace(final, errors=25, error_examples=final.error_examples[:1])
    [early] = peek(det, so_far, ctx)
    [closed] = det.observe(final, ctx)
    assert early.fingerprint == closed.fingerprint
    same = ("detector", "kind", "stream", "start", "end", "severity", "expected")
    assert all(getattr(early, f) == getattr(closed, f) for f in same)
    assert (early.observed, closed.observed) == (25.0, float(final.errors))


def test_nothing_before_the_threshold_or_before_earlier_windows_close(traffic, ctx):
    det, t = trained(traffic, ctx, 2)
    window = t.window(300, extra={7: 60})
    assert peek(det, replace(window, errors=4), ctx) == []  # below min_count so far
    assert peek(det, window, ctx, next_to_close=False) == []  # baseline not final yet


def test_peeking_changes_nothing_observe_returns(traffic, ctx):
    det, t = trained(traffic, ctx, 3)
    twin = copy.deepcopy(det)
    window = t.window(300, extra={7: 60})
    assert peek(det, replace(window, errors=30), ctx)
    assert det.observe(window, ctx) == twin.observe(window, ctx)
    state = json.dumps(det.state_dict(), sort_keys=True)
    assert state == json.dumps(twin.state_dict(), sort_keys=True)
