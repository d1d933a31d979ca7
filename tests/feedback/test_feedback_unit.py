"""Feedback rules on their own: magnitude of expected anomalies, mutes, durations."""

from __future__ import annotations

import pytest

from logradar.config import FeedbackConfig, Settings
from logradar.engine.core import DetectionCore
from logradar.engine.feedback import Feedback, parse_duration, suppress_muted
from logradar.schema import Anomaly, Severity
from logradar.store import Store

S = 10**9


def spike(observed: float, start: int = 0, template_id: int | None = 7) -> Anomaly:
    return Anomaly(
        "frequency", "spike", "web", start, start + 10 * S, 0.9, Severity.HIGH,
        f"{observed} lines, 10 expected", template_id=template_id, expected=10.0,
        observed=observed,
    )  # fmt: skip


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'r.db'}")
    yield s
    s.close()


@pytest.fixture
def core() -> DetectionCore:
    s = Settings()
    return DetectionCore(s.engine, s.parser, s.detectors)


def _marked(store: Store, anomaly: Anomaly) -> int:
    [(anomaly_id, _)] = store.add_anomalies([anomaly])
    store.mark_expected(anomaly_id, 0)
    return anomaly_id


def test_larger_deviations_than_accepted_still_alert(store, core):
    fb = Feedback(FeedbackConfig(magnitude_factor=2.0))
    marked = _marked(store, spike(40))  # log(41/11) ~ 1.32
    assert fb.apply(store, core) == 1
    assert fb.expected_by(spike(30, start=S)) == marked
    assert fb.expected_by(spike(140, start=S)) == marked  # log(141/11) ~ 2.55 <= 2.63
    assert fb.expected_by(spike(400, start=S)) is None  # log(401/11) ~ 3.6
    assert fb.expected_by(spike(30, template_id=8)) is None
    anyway = Feedback(FeedbackConfig(magnitude_factor=None))
    anyway.apply(store, core)
    assert anyway.expected_by(spike(10_000, start=S)) == marked


def test_record_stores_expected_as_info_and_returns_only_the_rest(store, core):
    fb = Feedback(FeedbackConfig())
    marked = _marked(store, spike(40))
    fb.apply(store, core)
    new, to_alert = fb.record(store, [spike(35, start=S), spike(35, start=S, template_id=9)])
    assert len(new) == 2
    assert [a.template_id for _, a in to_alert] == [9]
    rows = {r["template_id"]: r for r in store.list_anomalies() if r["id"] != marked}
    assert (rows[7]["status"], rows[7]["severity"]) == ("expected", "info")
    assert (rows[9]["status"], rows[9]["severity"]) == ("open", "high")


def test_apply_reads_each_mark_once(store, core):
    fb = Feedback(FeedbackConfig())
    _marked(store, spike(40))
    assert fb.apply(store, core) == 1
    assert fb.apply(store, core) == 0
    _marked(store, spike(50, start=S, template_id=3))
    assert fb.apply(store, core) == 1
    assert len(fb.accepted) == 2


def test_detector_accept_hook_is_called(store, core):
    seen = []

    class Learner:
        name = "frequency"

        def accept(self, anomaly: Anomaly) -> None:
            seen.append(anomaly.template_id)

    core.window_detectors = [*core.window_detectors, Learner()]
    fb = Feedback(FeedbackConfig())
    _marked(store, spike(40))
    fb.apply(store, core)
    assert seen == [7]


def test_suppress_muted_matches_stream_and_template_until_expiry(store):
    store.add_mute(stream="web", template_id=7, until_ns=100 * S, reason=None, now_ns=0)
    new = store.add_anomalies([spike(40), spike(40, template_id=8), spike(40, start=S)])
    rest = suppress_muted(store, new, now_ns=50 * S)
    assert [a.template_id for _, a in rest] == [8]
    assert suppress_muted(store, new, now_ns=100 * S) == new
    statuses = sorted(r["status"] for r in store.list_anomalies())
    assert statuses == ["muted", "muted", "open"]


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("1.5h", 5400),
                                               ("2d", 172800), ("1w", 604800)])  # fmt: skip
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0h", "5", "h", "-1h", "2 hours"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.integration
def test_feedback_tables_on_postgresql(pg_url, core):
    store = Store(pg_url)
    try:
        [(first, _), (second, _)] = store.add_anomalies([spike(40), spike(40, start=S)])
        assert store.mark_expected(first, 5 * S)["status"] == "expected"
        assert store.mark_expected(10**9, 5 * S) is None
        assert store.baseline_open(detected_before_ns=2**62, now_ns=6 * S) == 1
        actions = [(a, i) for _, a, i, _ in store.pending_feedback(0)]
        assert actions == [("expected", first), ("baselined", second)]
        mute = store.add_mute(stream="web", template_id=None, until_ns=9 * S, reason="x", now_ns=0)
        assert [m.id for m in store.list_mutes(active_at_ns=8 * S)] == [mute.id]
        assert store.list_mutes(active_at_ns=9 * S) == []
        assert store.delete_mute(mute.id) and not store.delete_mute(mute.id)
        fb = Feedback(FeedbackConfig())
        assert fb.apply(store, core) == 2
    finally:
        store.close()


def test_spark_store_sink_applies_marks_like_the_local_engine(store, core):
    # the Spark engine's sink (driver side, no Spark needed): a spike like one marked expected
    # is stored as expected and not alerted; an unrelated one still alerts
    from logradar.engine.core import CoreOutput
    from logradar.spark.reducer import store_sink

    alerted: list[int] = []
    feedback = Feedback(FeedbackConfig())
    sink = store_sink(store, lambda new: alerted.extend(i for i, _ in new), feedback)
    sink(CoreOutput(anomalies=[spike(40.0)]), core)
    [first] = alerted
    store.mark_expected(first, 0)
    sink(CoreOutput(anomalies=[spike(35.0, start=100 * S), spike(50.0, 200 * S, 9)]), core)
    rows = {a["start"]: a for a in store.list_anomalies()}
    assert len(alerted) == 2 and alerted[0] == first
    assert [a["status"] for a in sorted(rows.values(), key=lambda a: a["id"])] == [
        "expected",
        "expected",
        "open",
    ]
    assert feedback.state_dict()["cursor"] > 0
