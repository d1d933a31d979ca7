"""The JSON API, error answers and the mounted receivers."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from logradar.schema import now_ns
from logradar.store import ALL_TEMPLATES
from logradar.web import create_app

S = 10**9
T0 = 1_709_294_400 * S  # 2024-03-01T12:00:00Z


def test_anomalies_newest_first_with_store_fields(client, store, make_anomaly):
    store.add_anomalies([make_anomaly(start=T0 + i * 10 * S, kind=f"k{i}") for i in range(3)])
    r = client.get("/api/v1/anomalies")
    assert r.status_code == 200
    rows = r.json()
    assert [a["kind"] for a in rows] == ["k2", "k1", "k0"]
    first = rows[0]
    assert first["start"] == "2024-03-01T12:00:20Z"
    assert first["end"] == "2024-03-01T12:00:30Z"
    assert first["severity"] == "high"
    assert first["examples"] == ["GET /a 500", "GET /b 500"]
    assert {"id", "created_at", "status"} <= first.keys()


def test_anomalies_filter_by_stream_since_and_limit(client, store, make_anomaly):
    store.add_anomalies(
        [
            make_anomaly("web", T0),
            make_anomaly("db", T0 + 60 * S),
            make_anomaly("web", T0 + 120 * S),
        ]
    )
    get = client.get
    assert [a["stream"] for a in get("/api/v1/anomalies?stream=web").json()] == ["web", "web"]
    # window end >= since: the first web anomaly ends at T0 + 10 s
    since_iso = get("/api/v1/anomalies?since=2024-03-01T12:00:11Z").json()
    assert [a["stream"] for a in since_iso] == ["web", "db"]
    since_epoch = get(f"/api/v1/anomalies?since={T0 // S + 71}").json()
    assert [a["stream"] for a in since_epoch] == ["web"]
    assert len(get("/api/v1/anomalies?limit=2").json()) == 2


def test_anomalies_since_relative_duration(client, store, make_anomaly):
    now = now_ns()
    store.add_anomalies([make_anomaly(start=now - 3 * 3600 * S), make_anomaly(start=now - 60 * S)])
    assert len(client.get("/api/v1/anomalies?since=2h").json()) == 1
    assert len(client.get("/api/v1/anomalies?since=1d").json()) == 2


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        ("since=yesterday", "since"),
        ("since=2024-03-01T12:00:00", "time zone"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("stream=../etc", "stream"),
    ],
)
def test_anomalies_bad_parameters_are_400_with_reason(client, query, mentions):
    r = client.get(f"/api/v1/anomalies?{query}")
    assert r.status_code == 400
    assert mentions in r.json()["error"]


def test_limit_bounds_are_inclusive(client):
    assert client.get("/api/v1/anomalies?limit=1").status_code == 200
    assert client.get("/api/v1/anomalies?limit=1000").status_code == 200


def test_volume_is_one_series_per_stream(client, store):
    now = now_ns() // (10 * S) * (10 * S)
    w = 10 * S
    store.add_window_counts(
        [
            ("web", now - 2 * w, now - w, ALL_TEMPLATES, 5),
            ("web", now - w, now, ALL_TEMPLATES, 8),
            ("web", now - w, now, 3, 8),  # a template row: not part of the totals
            ("db", now - w, now, ALL_TEMPLATES, 2),
            ("db", now - 2 * 3600 * S, now - 2 * 3600 * S + w, ALL_TEMPLATES, 99),  # > 1h ago
        ]
    )
    body = client.get("/api/v1/volume").json()
    assert body["window_seconds"] == 10.0
    series = {s["stream"]: [p["lines"] for p in s["points"]] for s in body["series"]}
    assert series == {"web": [5, 8], "db": [2]}
    web = client.get("/api/v1/volume?stream=web&since=3h").json()["series"]
    assert [s["stream"] for s in web] == ["web"]
    db = client.get("/api/v1/volume?stream=db&since=3h").json()["series"][0]["points"]
    assert [p["lines"] for p in db] == [99, 2]
    assert db[1]["start"].endswith("Z")


def test_volume_rejects_bad_since(client):
    r = client.get("/api/v1/volume?since=soon")
    assert r.status_code == 400
    assert "since" in r.json()["error"]


def test_alerts_show_delivery_status(client, store):
    incident = store.add_incident(
        group_key="{}", stream="web", detector="frequency", kind="spike", status="firing",
        first_seen_ns=T0, last_seen_ns=T0, summary="s", severity="high", now_ns=T0,
    )  # fmt: skip
    ids = store.add_notifications(
        incident, ["webhook", "console"], event="firing", seq=1, payload={}, now_ns=T0
    )
    store.update_notification(ids[0], attempted=True, status="delivered", delivered_at=T0 + S)
    rows = client.get("/api/v1/alerts").json()
    assert {r["incident_id"] for r in rows} == {incident}
    assert {(a["channel"], a["status"]) for a in rows} == {
        ("webhook", "delivered"),
        ("console", "pending"),
    }
    assert len(client.get("/api/v1/alerts?limit=1").json()) == 1
    assert client.get("/api/v1/alerts?limit=5000").status_code == 400


def test_unknown_route_is_json_404(client):
    r = client.get("/api/v1/nope")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"error": "Not Found"}


def test_wrong_method_is_405_with_allow(client):
    r = client.post("/api/v1/anomalies", json={})
    assert r.status_code == 405
    assert "GET" in r.headers["allow"]
    assert "error" in r.json()
    assert client.get("/api/v1/logs").status_code == 405


def test_receivers_are_mounted(client, pipeline):
    r = client.post(
        "/api/v1/logs?stream=app", content="one\ntwo\n", headers={"content-type": "text/plain"}
    )
    assert r.json() == {"accepted": 2}
    lts = client.post(
        "/v2/p/lts/groups/g/streams/web/tenant/contents",
        json={"log_time_ns": T0, "contents": ["a"], "labels": {}},
    )
    assert lts.json()["errorCode"] == "SVCSTG.ALS.200.200"
    assert [t.column("stream")[0].as_py() for t in pipeline.ingested] == ["app", "web"]


def test_store_failure_is_json_500(pipeline, store):
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE notifications")
    with TestClient(create_app(pipeline), raise_server_exceptions=False) as client:
        r = client.get("/api/v1/alerts")
    assert r.status_code == 500
    assert r.json() == {"error": "internal server error"}
