"""AlertRules: severity threshold and per-key cooldown."""

from __future__ import annotations

from logradar.alerts import AlertRules
from logradar.schema import Severity

S = 10**9


def test_threshold_is_inclusive(make_anomaly):
    rules = AlertRules(Severity.HIGH, cooldown_seconds=0)
    assert not rules.decide(make_anomaly(severity=Severity.MEDIUM), 0)
    assert rules.decide(make_anomaly(severity=Severity.HIGH), 0)
    assert rules.decide(make_anomaly(severity=Severity.CRITICAL), 0)


def test_threshold_accepts_names():
    assert AlertRules("low", 0).min_severity is Severity.LOW


def test_cooldown_suppresses_repeats_of_the_same_key(make_anomaly):
    rules = AlertRules(Severity.LOW, cooldown_seconds=60)
    a = make_anomaly()
    later_window = make_anomaly(start=a.start + 600 * S)  # same key, other window
    assert rules.decide(a, 0)
    assert not rules.decide(later_window, 59 * S)
    assert rules.decide(later_window, 60 * S)
    assert not rules.decide(a, 100 * S)  # cooldown restarted at 60 s


def test_cooldown_is_per_key(make_anomaly):
    rules = AlertRules(Severity.LOW, cooldown_seconds=60)
    assert rules.decide(make_anomaly(), 0)
    assert rules.decide(make_anomaly(stream="db"), 0)
    assert rules.decide(make_anomaly(template_id=8), 0)
    assert rules.decide(make_anomaly(template_id=None), 0)
    assert rules.decide(make_anomaly(kind="drop"), 0)
    assert rules.decide(make_anomaly(detector="new_pattern"), 0)
    assert not rules.decide(make_anomaly(severity=Severity.CRITICAL), S)


def test_anomalies_below_threshold_do_not_start_the_cooldown(make_anomaly):
    rules = AlertRules(Severity.HIGH, cooldown_seconds=60)
    assert not rules.decide(make_anomaly(severity=Severity.LOW), 0)
    assert rules.decide(make_anomaly(severity=Severity.HIGH), S)


def test_zero_cooldown_alerts_every_time(make_anomaly):
    rules = AlertRules(Severity.LOW, cooldown_seconds=0)
    assert all(rules.decide(make_anomaly(), 0) for _ in range(3))


def test_many_keys_keep_their_cooldowns(make_anomaly):
    rules = AlertRules(Severity.LOW, cooldown_seconds=60)
    for i in range(12_000):  # past the pruning size
        assert rules.decide(make_anomaly(template_id=i), i)
    assert not rules.decide(make_anomaly(template_id=0), 30 * S)
    assert rules.decide(make_anomaly(template_id=0), 61 * S)


def test_docstring_example_runs():
    import doctest

    from logradar.alerts import rules

    assert doctest.testmod(rules).failed == 0
