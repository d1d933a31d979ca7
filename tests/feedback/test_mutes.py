"""Mutes through the API: matching anomalies are stored as 'muted' and do not alert."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from logradar.schema import now_ns

S = 10**9
T0 = 1_700_000_000 * S


def _burst(h, lines: dict[str, str], at_s: int) -> None:
    """One line per stream at ``T0 + at_s`` seconds, then run until that window closed."""
    for stream, line in lines.items():
        h.send(stream, [line], T0 + at_s * S)
    h.run(T0 + (at_s + 15) * S)


def test_muted_stream_stores_anomalies_as_muted_without_alerts(harness, client_for):
    h = harness()
    client = client_for(h)
    r = client.post("/api/v1/mutes", json={"stream": "web", "for": "2h", "reason": "deploy"})
    assert r.status_code == 201
    mute = r.json()
    assert mute["stream"] == "web" and mute["template_id"] is None and mute["reason"] == "deploy"

    _burst(h, {"web": "worker 3 restarted", "db": "checkpoint took 3 ms"}, 0)
    web = h.anomalies(stream="web")
    db = h.anomalies(stream="db")
    assert web and all(a["status"] == "muted" for a in web)
    assert [a["status"] for a in db] == ["open"]
    assert h.alerted_ids() == [db[0]["id"]]
    assert [m["id"] for m in client.get("/api/v1/mutes").json()] == [mute["id"]]


def test_template_mute_only_matches_that_template(harness, client_for):
    h = harness()
    client = client_for(h)
    _burst(h, {"web": "cache miss for key 17"}, 0)
    [first] = h.anomalies(stream="web")
    client.post("/api/v1/mutes", json={"template_id": first["template_id"], "for": "1h"})
    h.send("web", ["cache miss for key 99", "user 7 logged in"], T0 + 100 * S)
    h.run(T0 + 115 * S)
    later = {a["template_id"]: a["status"] for a in h.anomalies() if a["id"] != first["id"]}
    assert later[first["template_id"]] == "muted"
    assert [s for t, s in later.items() if t != first["template_id"]] == ["open"]


def test_alerts_resume_after_the_mute_expires_or_is_deleted(harness, client_for):
    h = harness()
    client = client_for(h)
    short = client.post("/api/v1/mutes", json={"stream": "web", "for": "1s"}).json()
    long = client.post("/api/v1/mutes", json={"stream": "db", "for": "1h"}).json()
    _burst(h, {"web": "job A started", "db": "vacuum started"}, 0)
    assert h.alerted_ids() == []

    while now_ns() < _ns(short["until"]):
        time.sleep(0.05)
    assert client.delete(f"/api/v1/mutes/{long['id']}").status_code == 204
    assert client.delete(f"/api/v1/mutes/{long['id']}").status_code == 404
    assert client.get("/api/v1/mutes").json() == []
    assert {m["id"] for m in client.get("/api/v1/mutes?all=1").json()} == {short["id"]}

    _burst(h, {"web": "job B started", "db": "replica lag is high"}, 100)
    fresh = [a for a in h.anomalies() if a["status"] == "open"]
    assert {a["stream"] for a in fresh} == {"web", "db"}
    assert sorted(h.alerted_ids()) == sorted(a["id"] for a in fresh)


def _ns(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1e6) * 1000


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"for": "1h"}, "stream and/or template_id"),
        ({"stream": "web"}, "exactly one"),
        ({"stream": "web", "for": "1h", "until": "2999-01-01T00:00:00Z"}, "exactly one"),
        ({"stream": "web", "for": "soon"}, "duration"),
        ({"stream": "web", "until": "2001-01-01T00:00:00Z"}, "past"),
        ({"stream": "web", "until": "2999-01-01T00:00:00"}, "time zone"),
        ({"stream": "../etc", "for": "1h"}, "stream"),
        ({"stream": "web", "for": "1h", "colour": "red"}, "colour"),
    ],
)
def test_invalid_mutes_are_400_with_reason(harness, client_for, body, mentions):
    client = client_for(harness())
    r = client.post("/api/v1/mutes", json=body)
    assert r.status_code == 400
    assert mentions in r.json()["error"]


def test_until_sets_the_end(harness, client_for):
    client = client_for(harness())
    r = client.post("/api/v1/mutes", json={"stream": "web", "until": "2999-01-01T00:00:00+01:00"})
    assert r.status_code == 201
    assert r.json()["until"] == "2998-12-31T23:00:00Z"


def test_writes_need_json_and_a_read_token_when_auth_is_on(harness, client_for):
    tokens = [{"token": "s3cret", "scopes": ["read"]}, {"token": "shipper"}]
    h = harness(auth={"enabled": True, "tokens": tokens})
    client = client_for(h)
    _burst(h, {"web": "hello there"}, 0)
    [a] = h.anomalies()
    url = f"/api/v1/anomalies/{a['id']}/expected"
    mute = {"stream": "web", "for": "1h"}
    assert client.post(url, json={}).status_code == 401
    assert client.post("/api/v1/mutes", json=mute).status_code == 401
    assert client.delete("/api/v1/mutes/1").status_code == 401
    shipper = {"Authorization": "Bearer shipper"}  # default scopes: ingest only
    for r in (
        client.post(url, json={}, headers=shipper),
        client.post("/api/v1/mutes", json=mute, headers=shipper),
        client.delete("/api/v1/mutes/1", headers=shipper),
    ):
        assert r.status_code == 403 and "lacks the 'read' scope" in r.json()["error"]
    assert h.anomalies()[0]["status"] != "expected" and h.store.list_mutes() == []
    auth = {"Authorization": "Bearer s3cret"}
    form = client.post(url, data={"x": "1"}, headers=auth)
    assert form.status_code == 415
    assert client.post(url, json={}, headers=auth).status_code == 200
    assert h.anomalies()[0]["status"] == "expected"
