"""NewPatternDetector.peek: what observe will report for a window, known while it is open."""

from __future__ import annotations

import json

from logradar.config import NewPatternConfig
from logradar.detect.base import Window
from logradar.detect.new_pattern import NewPatternDetector
from logradar.schema import Severity


def peek(det, window, ctx, earlier=()):
    return det.peek(window, ctx, next_to_close=not earlier, earlier=list(earlier))


def test_peek_returns_what_observe_then_returns(traffic, ctx):
    t = traffic(3)
    det = NewPatternDetector(NewPatternConfig(forget_after_seconds=600))
    det.observe(t.window(0), ctx)  # all new: a flood by share, known only at close (below)
    reported = 0
    for i in range(1, 400):
        extra = {100 + i // 50: 2} if i % 50 == 7 else None  # a new template now and then
        drop = {5, 6} if 120 <= i < 200 else frozenset()  # forgotten, then back (returning)
        window = t.window(i, extra=extra, drop=drop)
        early = peek(det, window, ctx)
        assert early == det.observe(window, ctx)
        reported += len(early)
    assert reported >= 8


def test_peek_changes_nothing(traffic, ctx):
    t = traffic(4)
    det = NewPatternDetector()
    for i in range(30):
        det.observe(t.window(i), ctx)
    before = json.dumps(det.state_dict(), sort_keys=True)
    assert peek(det, t.window(30, extra={77: 1}), ctx)
    assert json.dumps(det.state_dict(), sort_keys=True) == before
    assert [a.template_id for a in det.observe(t.window(30, extra={77: 1}), ctx)] == [77]


def test_a_template_in_an_earlier_open_window_is_new_there_not_here(traffic, ctx):
    t = traffic(5)
    det = NewPatternDetector()
    for i in range(30):
        det.observe(t.window(i), ctx)
    older, newer = t.window(30, extra={77: 1}), t.window(31, extra={77: 4})
    assert [a.template_id for a in peek(det, older, ctx)] == [77]
    assert peek(det, newer, ctx, earlier=[older]) == []
    assert [a.template_id for a in peek(det, newer, ctx, earlier=[t.window(30)])] == [77]


def test_only_the_count_rule_of_a_flood_is_applied_early(ctx):
    step = 10 * 10**9
    det = NewPatternDetector(NewPatternConfig(flood_min_new=5, flood_share=0.5))
    det.observe(Window("app", 0, step, {1: 50}), ctx)
    many = Window("app", step, 2 * step, {1: 50, **{t: 1 for t in range(20, 25)}})
    assert {a.severity for a in peek(det, many, ctx)} == {Severity.LOW}  # 5 new: a flood
    share = Window("app", step, 2 * step, {20: 3, 21: 1})  # 2 new of 2: a flood by share
    assert {a.severity for a in peek(det, share, ctx)} == {Severity.MEDIUM}  # not known yet
    assert {a.severity for a in det.observe(share, ctx)} == {Severity.LOW}
