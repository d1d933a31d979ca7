"""The incidents, anomaly detail and templates views (HTML and JSON) on a real pipeline:
grouping and filters, the time range that follows the data, context lines read back from
the Parquet archive, and bad input."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from logradar.config import Settings
from logradar.pipeline import Pipeline
from logradar.schema import Severity, now_ns
from logradar.store import reads
from logradar.web import create_app

S = 10**9
W = 10 * S
T0 = 1_700_000_000 * S // W * W  # as in conftest: the replayed history starts here
HTML = {"Accept": "text/html"}
XSS = "<script>alert(1)</script>"


@pytest.fixture
def client(stepped) -> Iterator[TestClient]:
    with TestClient(create_app(stepped.pipeline)) as c:
        yield c


def _incident_keys(html: str) -> list[str]:
    return re.findall(r'<tr class="incident" id="([^"]+)"', html)


def test_incidents_view_is_the_default_and_follows_replayed_data(client, history) -> None:
    page = client.get("/", headers=HTML)
    assert page.status_code == 200
    assert "Nothing was stored in the last 24h" in page.text  # moved back to the data
    a = history["anomaly"]
    assert f'href="/anomalies/{a["id"]}"' in page.text
    assert XSS not in page.text and "&lt;script&gt;" in page.text
    csp = page.headers["content-security-policy"]
    nonce = re.search(r"script-src 'nonce-([^']+)'", csp)[1]
    assert f'<script nonce="{nonce}">' in page.text and page.text.count("<script") == 1
    # the preset reaching only "now" shows nothing
    assert not _incident_keys(client.get("/?to=now&from=24h", headers=HTML).text)


def test_incidents_group_by_stream_template_and_hour_and_hide_info(
    client, stepped, make_anomaly
) -> None:
    t = T0 + 3600 * S
    stepped.store.add_anomalies(
        [
            make_anomaly("db", t, severity=Severity.HIGH),
            make_anomaly("db", t + W, severity=Severity.MEDIUM, kind="drop"),
            make_anomaly("db", t + 2 * 3600 * S, severity=Severity.HIGH),  # another hour
            make_anomaly("db", t + 3 * W, severity=Severity.INFO, detector="volume"),
        ]
    )
    rows = client.get("/?stream=db", headers=HTML).text
    assert len(_incident_keys(rows)) == 2
    assert "1 less severe anomaly hidden" in rows
    every = client.get("/?stream=db&severity=info", headers=HTML).text
    assert len(_incident_keys(every)) == 2  # the info one joins its hour's group
    assert ">3<" in every.replace("</td>", "<").replace('<td class="num">', ">")
    only_volume = client.get("/?stream=db&severity=info&detector=volume", headers=HTML).text
    assert len(_incident_keys(only_volume)) == 1
    assert not _incident_keys(client.get("/?stream=db&status=expected", headers=HTML).text)


def test_incident_rows_use_linked_incidents(stepped, make_anomaly) -> None:
    from logradar.web.incidents import incident_rows

    [(first, _), (second, _)] = stepped.store.add_anomalies(
        [make_anomaly("pay", T0), make_anomaly("pay", T0 + 5 * 3600 * S, kind="drop")]
    )
    incident = stepped.store.add_incident(
        severity="high",
        now_ns=now_ns(),
        group_key='{"stream": "pay"}',
        stream="pay",
        detector="frequency",
        kind="spike",
        status="firing",
        first_seen_ns=T0,
        last_seen_ns=T0,
        anomaly_count=2,
        summary="pay is failing",
    )
    stepped.store.link_anomalies(incident, [first, second])
    [row] = incident_rows(stepped.store, since_ns=0, until_ns=T0 + 10 * 3600 * S)
    assert (row.key, row.count, row.status) == (f"incident-{incident}", 2, "firing")
    assert row.to_dict()["summary"] == "pay is failing"


def test_incident_link_of_notifications_opens_its_newest_anomaly(
    client, stepped, make_anomaly
) -> None:
    [(older, _), (newer, _)] = stepped.store.add_anomalies(
        [make_anomaly("pay", T0), make_anomaly("pay", T0 + W, kind="drop")]
    )
    incident = stepped.store.add_incident(
        severity="high",
        now_ns=now_ns(),
        group_key='{"stream": "pay"}',
        stream="pay",
        detector="frequency",
        kind="spike",
        status="firing",
        first_seen_ns=T0,
        last_seen_ns=T0 + W,
        anomaly_count=2,
        summary="pay is failing",
    )
    stepped.store.link_anomalies(incident, [older, newer])
    r = client.get(f"/incidents/{incident}", headers=HTML, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"/anomalies/{newer}")
    assert client.get(f"/incidents/{incident + 1}", headers=HTML).status_code == 404


def test_detail_json_has_context_lines_from_the_archive(client, history) -> None:
    a = history["anomaly"]
    r = client.get(f"/api/v1/anomalies/{a['id']}?context=3")
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == a["id"] and body["explanation"] == a["explanation"]
    assert body["context_error"] is None
    [ctx] = [c for c in body["context"] if c["example"] == history["error"]]
    assert ctx["found"]
    lines = [x["message"] for x in ctx["lines"]]
    assert lines == [*history["before"][-3:], history["error"], *history["after"][:3]]
    assert [x["match"] for x in ctx["lines"]] == [False] * 3 + [True] + [False] * 3
    assert body["series_of"] == "template" and body["series"]
    assert body["baseline"] is not None and body["baseline"]["windows"] == 30


def test_detail_page_shows_context_chart_and_feedback(client, history) -> None:
    a = history["anomaly"]
    html = client.get(f"/anomalies/{a['id']}", headers=HTML).text
    assert 'id="template-chart"' in html and 'class="band"' in html
    assert '<li class="hit" aria-current="true">' in html
    for line in (*history["before"][-5:], *history["after"]):
        assert line in html
    assert XSS not in html
    assert f'data-feedback="expected" data-id="{a["id"]}"' in html
    client.post(f"/api/v1/anomalies/{a['id']}/expected", json={})
    html = client.get(f"/anomalies/{a['id']}", headers=HTML).text
    assert '<span class="status" id="status">expected</span>' in html
    assert 'data-feedback="expected"' not in html


def test_detail_without_archive_says_why(tmp_path, make_anomaly) -> None:
    settings = Settings(data_dir=tmp_path / "d", archive={"enabled": False})
    pipeline = Pipeline(settings)
    try:
        [(aid, _)] = pipeline.store.add_anomalies([make_anomaly()])
        with TestClient(create_app(pipeline)) as c:
            body = c.get(f"/api/v1/anomalies/{aid}").json()
            assert body["context"] == [] and "archive is off" in body["context_error"]
            assert "GET /a 500" in c.get(f"/anomalies/{aid}", headers=HTML).text
    finally:
        pipeline.tank.close()
        pipeline.store.close()


def test_templates_view_and_json(client, history, stepped) -> None:
    body = client.get("/api/v1/templates?stream=web").json()
    by_text = {t["template"]: t for t in body["templates"]}
    disk = next(t for text, t in by_text.items() if "disk" in text)
    assert disk["level"] == "error" and disk["count"] == 1 and disk["anomalies"] == 1
    get_ = next(t for text, t in by_text.items() if text.startswith("GET"))
    normal = history["normal"]
    assert get_["count"] == normal and get_["level"] == "info" and sum(get_["series"]) == normal
    assert not disk["muted"] and not disk["expected"]
    stepped.store.add_mute(
        stream="web",
        template_id=disk["id"],
        until_ns=now_ns() + 3600 * S,
        reason=None,
        now_ns=now_ns(),
    )
    client.post(f"/api/v1/anomalies/{history['anomaly']['id']}/expected", json={})
    again = {t["id"]: t for t in client.get("/api/v1/templates?stream=web").json()["templates"]}
    assert again[disk["id"]]["muted"] and again[disk["id"]]["expected"]
    html = client.get("/templates?stream=web", headers=HTML).text
    assert f'id="template-{disk["id"]}"' in html and "<polyline" in html
    assert XSS not in html
    assert 'href="/templates?stream=web"' in client.get("/templates", headers=HTML).text


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/api/v1/templates", "give ?stream=NAME"),
        ("/api/v1/templates?stream=../x", "invalid stream"),
        ("/api/v1/templates?stream=web&range=2y", "invalid range"),
        ("/api/v1/templates?stream=web&from=soon", "invalid from"),
        ("/api/v1/templates?stream=web&from=now&to=2h", "invalid from"),
        ("/api/v1/anomalies/1?context=999", "invalid context"),
        ("/api/v1/anomalies/424242", "no anomaly with id 424242"),
    ],
)
def test_bad_requests_say_why(client, path, reason) -> None:
    r = client.get(path)
    assert r.status_code in (400, 404)
    assert reason in r.json()["error"]


@pytest.mark.parametrize("path", ["/?severity=urgent", "/?range=2y", "/templates?from=x"])
def test_bad_page_queries_are_400_pages(client, path) -> None:
    r = client.get(path, headers=HTML)
    assert r.status_code == 400 and "Bad request" in r.text


def test_unknown_anomaly_page_is_404(client) -> None:
    r = client.get("/anomalies/424242", headers=HTML)
    assert r.status_code == 404 and "no anomaly #424242" in r.text.lower()


def test_data_span_covers_counts_and_anomalies(stepped, make_anomaly) -> None:
    assert reads.data_span(stepped.store) is None
    stepped.store.add_anomalies([make_anomaly("x", T0)])
    assert reads.data_span(stepped.store) == (T0, T0 + 10 * S)
