"""Tenant isolation beyond ingest (issue 17, item 5): a token limited to ``streams =
["api*"]`` reads, marks and mutes only those streams; a ``*`` token sees everything."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from logradar.config import load_config
from logradar.pipeline import Pipeline
from logradar.schema import Anomaly, Severity
from logradar.store.schema import ALL_TEMPLATES
from logradar.web.app import create_app

S = 10**9
API = {"Authorization": "Bearer api-token"}
ADMIN = {"Authorization": "Bearer admin-token"}
JSON = {"Content-Type": "application/json"}


def anomaly(stream: str, start: int) -> Anomaly:
    return Anomaly(
        detector="frequency",
        kind="spike",
        stream=stream,
        start=start,
        end=start + 10 * S,
        score=0.9,
        severity=Severity.HIGH,
        explanation=f"spike on {stream}",
        template_id=7,
        template="GET <*> 500",
        examples=[f"secret line of {stream}"],
    )


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[TestClient, Pipeline, dict[str, int]]]:
    tokens = [
        {"token": "api-token", "tenant": "api", "streams": ["api*"], "scopes": ["read"]},
        {"token": "admin-token", "tenant": "ops", "streams": ["*"], "scopes": ["read"]},
    ]
    settings = load_config(data_dir=tmp_path / "d", auth={"enabled": True, "tokens": tokens})
    pipeline = Pipeline(settings)
    start = 1_900_000_000 * S
    stored = pipeline.store.add_anomalies([anomaly("api", start), anomaly("db", start)])
    ids = {a.stream: i for i, a in stored}
    counts = [(s, start, start + 10 * S, ALL_TEMPLATES, 5) for s in ("api", "db")]
    pipeline.store.add_window_counts(counts)
    yield TestClient(create_app(pipeline)), pipeline, ids
    pipeline.stop()


def test_anomalies_and_their_example_lines_only_of_readable_streams(served):
    c, _, _ = served
    seen = c.get("/api/v1/anomalies", headers=API).json()
    assert [a["stream"] for a in seen] == ["api"]
    assert "secret line of db" not in c.get("/api/v1/anomalies", headers=API).text
    assert c.get("/api/v1/anomalies?stream=db", headers=API).status_code == 403
    assert {a["stream"] for a in c.get("/api/v1/anomalies", headers=ADMIN).json()} == {
        "api",
        "db",
    }


def test_volume_and_the_ui_only_of_readable_streams(served):
    c, _, _ = served
    since = "2030-01-01T00:00:00Z"
    series = c.get(f"/api/v1/volume?since={since}", headers=API).json()["series"]
    assert [s["stream"] for s in series] == ["api"]
    assert c.get(f"/api/v1/volume?since={since}&stream=db", headers=API).status_code == 403
    page = c.get("/?since=30d", headers=API).text
    assert "secret line of db" not in page and ">db<" not in page


def test_feedback_and_mutes_only_on_readable_streams(served):
    c, pipeline, ids = served
    assert c.post(f"/api/v1/anomalies/{ids['db']}/expected", headers=API | JSON).status_code == 403
    assert pipeline.store.get_anomaly(ids["db"])["status"] == "open"
    assert c.post(f"/api/v1/anomalies/{ids['api']}/expected", headers=API | JSON).status_code == 200
    other = c.post("/api/v1/mutes", json={"stream": "db", "for": "1h"}, headers=API)
    assert other.status_code == 403
    everything = c.post("/api/v1/mutes", json={"template_id": 7, "for": "1h"}, headers=API)
    assert everything.status_code == 403  # a template mute would silence every stream
    own = c.post("/api/v1/mutes", json={"stream": "api", "for": "1h"}, headers=API)
    assert own.status_code == 201
    admins = c.post("/api/v1/mutes", json={"stream": "db", "for": "1h"}, headers=ADMIN)
    assert admins.status_code == 201
    assert [m["stream"] for m in c.get("/api/v1/mutes", headers=API).json()] == ["api"]
    assert c.delete(f"/api/v1/mutes/{admins.json()['id']}", headers=API).status_code == 403
    assert c.delete(f"/api/v1/mutes/{own.json()['id']}", headers=API).status_code == 204


def _incident(store, stream: str, anomaly_id: int) -> int:
    incident = store.add_incident(
        severity="high",
        now_ns=1,
        group_key=f'{{"stream": "{stream}"}}',
        stream=stream,
        detector="frequency",
        kind="spike",
        status="firing",
        first_seen_ns=1,
        last_seen_ns=1,
        anomaly_count=1,
        summary=stream,
    )
    store.link_anomalies(incident, [anomaly_id])
    return incident


def test_alerts_only_of_readable_streams(served):
    c, pipeline, ids = served
    incidents = {s: _incident(pipeline.store, s, i) for s, i in ids.items()}
    for incident in incidents.values():
        pipeline.store.add_notifications(
            incident, ["webhook"], event="firing", seq=1, payload={}, now_ns=1
        )
    seen = c.get("/api/v1/alerts", headers=API).json()
    assert [a["incident_id"] for a in seen] == [incidents["api"]]
    assert len(c.get("/api/v1/alerts", headers=ADMIN).json()) == 2


def test_detail_templates_incidents_and_search_only_of_readable_streams(served):
    c, pipeline, ids = served
    html = {"Accept": "text/html"}
    assert c.get(f"/api/v1/anomalies/{ids['api']}", headers=API).status_code == 200
    assert c.get(f"/api/v1/anomalies/{ids['db']}", headers=API).status_code == 403
    assert c.get(f"/api/v1/anomalies/{ids['db']}", headers=ADMIN).status_code == 200
    detail = c.get(f"/anomalies/{ids['db']}", headers=API | html)
    assert detail.status_code == 403 and "secret line of db" not in detail.text
    assert c.get("/api/v1/templates?stream=db", headers=API).status_code == 403
    assert c.get("/templates?stream=db", headers=API | html).status_code == 403
    assert c.get("/api/v1/templates?stream=api", headers=API).status_code == 200
    incidents = c.get("/?from=1899999000&to=1900001000&severity=info", headers=API | html).text
    assert f'href="/anomalies/{ids["api"]}"' in incidents
    assert f'href="/anomalies/{ids["db"]}"' not in incidents
    assert c.get("/?stream=db", headers=API | html).status_code == 403
    incident = _incident(pipeline.store, "db", ids["db"])
    link = f"/incidents/{incident}"
    assert c.get(link, headers=API | html, follow_redirects=False).status_code == 403
    assert c.get(link, headers=ADMIN | html, follow_redirects=False).status_code == 303
    assert c.get("/api/v1/search?stream=db", headers=API).status_code == 403
