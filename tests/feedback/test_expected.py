"""Mark expected, end to end: a real Pipeline, its app, the store and the console channel."""

from __future__ import annotations

import json
import time

from logradar.engine.local import LocalEngine

S = 10**9
T0 = 1_700_000_000 * S  # a window boundary (windows are 10 s)

BACKUP = ["backup job finished in 12 s", "backup job finished in 14 s"]
BACKUP_AGAIN = ["backup job finished in 19 s", "backup job finished in 11 s"]


def _first_alert(h):
    h.send("web", BACKUP, T0 + 1 * S)
    h.run(T0 + 15 * S)
    [first] = h.anomalies(detector="new_pattern")
    assert h.alerted_ids() == [first["id"]]
    return first


def _again(h):
    """The same template returns after 100 s (new_pattern forgets after 60 s in these tests)."""
    h.send("web", BACKUP_AGAIN, T0 + 100 * S)
    h.run(T0 + 115 * S)
    rows = h.anomalies(detector="new_pattern")
    assert len(rows) == 2, rows
    return rows[0]  # newest first


def test_without_feedback_the_returning_pattern_alerts_again(harness):
    h = harness()
    first = _first_alert(h)
    again = _again(h)
    assert again["template_id"] == first["template_id"]
    assert again["status"] == "open"
    # It joins the incident the first one opened, which was notified once.
    assert again["incident_id"] == first["incident_id"] is not None
    assert h.alerted_ids() == [first["id"]]


def test_marked_expected_the_same_pattern_no_longer_alerts(harness, client_for):
    h = harness()
    client = client_for(h)
    first = _first_alert(h)

    r = client.post(f"/api/v1/anomalies/{first['id']}/expected", json={})
    assert r.status_code == 200
    assert r.json()["status"] == "expected"
    assert r.json()["id"] == first["id"]

    again = _again(h)
    assert again["template_id"] == first["template_id"]
    assert again["status"] == "expected"
    assert again["severity"] == "info"
    assert f"#{first['id']}" in again["explanation"]
    assert again["incident_id"] is None  # expected anomalies join no incident
    assert h.alerted_ids() == [first["id"]]
    listed = {a["id"]: a["status"] for a in client.get("/api/v1/anomalies").json()}
    assert listed == {first["id"]: "expected", again["id"]: "expected"}


def test_marking_twice_is_one_feedback_and_unknown_id_is_404(harness, client_for):
    h = harness()
    client = client_for(h)
    first = _first_alert(h)
    for _ in range(2):
        assert client.post(f"/api/v1/anomalies/{first['id']}/expected", json={}).status_code == 200
    assert len(h.store.pending_feedback(0)) == 1
    r = client.post("/api/v1/anomalies/999999/expected", json={})
    assert r.status_code == 404
    assert "999999" in r.json()["error"]


def test_other_templates_and_streams_still_alert(harness, client_for):
    h = harness()
    client = client_for(h)
    first = _first_alert(h)
    client.post(f"/api/v1/anomalies/{first['id']}/expected", json={})
    h.send("web", ["disk sda1 is full"], T0 + 100 * S)
    h.send("db", BACKUP_AGAIN, T0 + 100 * S)
    h.run(T0 + 115 * S)
    fresh = [a for a in h.anomalies(detector="new_pattern") if a["id"] != first["id"]]
    assert {(a["stream"], a["status"]) for a in fresh} == {("web", "open"), ("db", "open")}
    assert sorted(h.alerted_ids()) == sorted([first["id"], *(a["id"] for a in fresh)])


def test_accepted_feedback_survives_a_restart(harness, client_for):
    h = harness()
    client = client_for(h)
    first = _first_alert(h)
    client.post(f"/api/v1/anomalies/{first['id']}/expected", json={})
    h.run(T0 + 16 * S)  # the engine takes the mark in
    h.pipeline.engine.snapshot()
    snapshot = json.loads(h.pipeline.engine.snapshot_path.read_text())
    assert snapshot["feedback"]["cursor"] >= 1

    p, before = h.pipeline, h.pipeline.engine.feedback
    restarted = LocalEngine(p.settings, p.tank, p.store, p.metrics, on_anomalies=p._on_anomalies)
    p.engine = restarted
    assert before.accepted
    assert (restarted.feedback.accepted, restarted.feedback.cursor) == (
        before.accepted,
        before.cursor,
    )
    again = _again(h)
    assert again["status"] == "expected"
    assert h.alerted_ids() == [first["id"]]


def test_visibility_period_baselines_open_anomalies(harness):
    h = harness(feedback={"visibility_days": 0.5 / 86400, "baseline_check_seconds": 0.01})
    first = _first_alert(h)
    assert first["status"] == "open"
    time.sleep(0.6)  # older than the visibility period (0.5 s here)
    h.run(T0 + 16 * S)
    [row] = h.anomalies(id=first["id"])
    assert row["status"] == "baselined"
    again = _again(h)
    assert again["status"] == "expected"
    assert h.alerted_ids() == [first["id"]]
