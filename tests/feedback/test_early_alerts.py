"""Early evaluation through a real Pipeline: an anomaly of a still-open window is stored and
alerted right after its micro-batch, once; mutes and "mark expected" apply to it."""

from __future__ import annotations

S = 10**9
T0 = 1_700_000_000 * S  # a window boundary (windows are 10 s, lateness 2 s)

NORMAL = ["GET /api/items/1 200 in 3 ms", "GET /api/items/2 200 in 5 ms"]
NEW_ERROR = [
    "ERROR replica 3 lost quorum after fencing",
    "ERROR replica 5 lost quorum after fencing",
]


def _baseline(h) -> None:
    h.send("web", NORMAL, T0 + 1 * S)
    h.run(T0 + 15 * S)  # the first window closed


def _quorum(h) -> list[dict]:
    return [a for a in h.anomalies(stream="web") if "quorum" in (a["template"] or "")]


def test_open_window_anomaly_is_stored_and_alerted_at_once_and_only_once(harness):
    h = harness()
    _baseline(h)
    alerted = len(h.alerts)
    h.send("web", NEW_ERROR, T0 + 21 * S)
    h.run(T0 + 22 * S)  # window [20 s, 30 s) is open until the clock passes 32 s
    [found] = _quorum(h)
    assert found["status"] == "open" and found["severity"] == "high"
    assert h.alerted_ids()[alerted:] == [found["id"]]
    h.send("web", NORMAL, T0 + 25 * S)
    h.run(T0 + 45 * S)  # closed now
    assert _quorum(h) == [found]
    assert h.alerted_ids()[alerted:] == [found["id"]]


def test_a_mute_applies_to_early_anomalies(harness, client_for):
    h = harness()
    _baseline(h)
    alerted = len(h.alerts)
    client_for(h).post("/api/v1/mutes", json={"stream": "web", "for": "1h"})
    h.send("web", NEW_ERROR, T0 + 21 * S)
    h.run(T0 + 22 * S)
    [found] = _quorum(h)
    assert found["status"] == "muted"
    h.run(T0 + 45 * S)
    assert [a["status"] for a in _quorum(h)] == ["muted"]
    assert len(h.alerts) == alerted


def test_marked_expected_the_returning_pattern_is_expected_when_reported_early(harness, client_for):
    h = harness()  # new_pattern forgets after 60 s in these tests
    _baseline(h)
    h.send("web", NEW_ERROR[:1], T0 + 21 * S)
    h.run(T0 + 22 * S)
    [first] = _quorum(h)
    assert client_for(h).post(f"/api/v1/anomalies/{first['id']}/expected", json={}).is_success
    alerted = len(h.alerts)
    h.send("web", NEW_ERROR[1:], T0 + 101 * S)
    h.run(T0 + 102 * S)  # window [100 s, 110 s) still open
    again = [a for a in _quorum(h) if a["id"] != first["id"]]
    assert [(a["status"], a["severity"]) for a in again] == [("expected", "info")]
    h.run(T0 + 125 * S)
    assert len(_quorum(h)) == 2
    assert len(h.alerts) == alerted
