"""The LTS report APIs and /api/v1/logs: shapes, limits, errors, auth, backpressure."""

from __future__ import annotations

import gzip
import json

import pytest

from helpers import tank_rows

LTS = "/v2/0123456789abcdef0123456789abcdef/lts/groups/g-1/streams/{stream}/tenant/contents"
T = 1_764_075_600_123_456_789


def test_lts_contents_lands_in_the_tank_with_time_host_and_labels(client):
    c, p = client
    body = {"log_time_ns": T, "contents": ["a one", "b two"], "labels": {"hostName": "web-1"}}
    r = c.post(LTS.format(stream="web"), json=body)
    assert r.status_code == 200
    assert r.json() == {
        "errorCode": "SVCSTG.ALS.200.200",
        "errorMessage": "Report success.",
        "result": None,
    }
    rows = tank_rows(p)
    assert [x["message"] for x in rows] == ["a one", "b two"]
    assert {x["stream"] for x in rows} == {"web"}
    assert {x["host"] for x in rows} == {"web-1"}
    assert json.loads(rows[0]["labels"]) == {"hostName": "web-1"}
    assert rows[0]["ts"] == T


def test_lts_high_accuracy_keeps_per_line_times(client):
    c, p = client
    body = {"contents": [{"log_time_ns": T, "log": "x"}, {"log_time_ns": T + 10**9, "log": "y"}]}
    r = c.post(LTS.format(stream="api") + "/high-accuracy", json=body)
    assert r.status_code == 200, r.text
    rows = tank_rows(p)
    assert rows[1]["ts"] - rows[0]["ts"] == 10**9


def test_lts_gzip_body(client):
    c, p = client
    raw = json.dumps({"log_time_ns": T, "contents": ["zipped"]}).encode()
    r = c.post(
        LTS.format(stream="web"),
        content=gzip.compress(raw),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert tank_rows(p)[0]["message"] == "zipped"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "invalid LTS body"),
        (b'{"contents": ["x"]}', "log_time_ns"),
        (b'{"log_time_ns": 1, "contents": "x"}', "contents"),
        (b'{"log_time_ns": -5, "contents": ["x"]}', "log_time_ns"),
        (b'{"log_time_ns": 1, "contents": [1, 2]}', "contents"),
    ],
)
def test_lts_malformed_bodies_get_400_and_nothing_is_kept(client, body, reason):
    c, p = client
    r = c.post(LTS.format(stream="web"), content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert reason in r.json()["errorMessage"]
    assert tank_rows(p) == []


def test_invalid_stream_names_are_refused(client):
    c, p = client
    r = c.post(LTS.format(stream="..secret"), json={"log_time_ns": T, "contents": ["x"]})
    assert r.status_code == 400
    r = c.post("/api/v1/logs?stream=a%2Fb", content="x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 400
    assert tank_rows(p) == []


def test_invalid_utf8_is_kept_with_replacement_characters(client):
    c, p = client
    body = b'{"log_time_ns": 1, "contents": ["caf\xe9 ok"]}'
    r = c.post(LTS.format(stream="web"), content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    r = c.post(
        "/api/v1/logs?stream=t", content=b"bad \xff byte\n", headers={"Content-Type": "text/plain"}
    )
    assert r.status_code == 200
    assert [x["message"] for x in tank_rows(p)] == ["caf\ufffd ok", "bad \ufffd byte"]


def test_oversized_bodies_get_413_compressed_or_not(make_client):
    c, p = make_client(server={"max_body_bytes": 1000})
    big = {"log_time_ns": T, "contents": ["x" * 2000]}
    assert c.post(LTS.format(stream="web"), json=big).status_code == 413
    bomb = gzip.compress(json.dumps({"log_time_ns": T, "contents": ["y" * 50_000]}).encode())
    assert len(bomb) < 1000
    r = c.post(
        LTS.format(stream="web"),
        content=bomb,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert tank_rows(p) == []


def test_long_lines_are_truncated_and_marked(make_client):
    c, p = make_client(server={"max_line_bytes": 10})
    r = c.post(
        "/api/v1/logs?stream=t",
        content="short\n" + "é" * 20 + "\n",
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 200
    messages = [x["message"] for x in tank_rows(p)]
    assert messages[0] == "short"
    assert messages[1].startswith("ééééé") and messages[1].endswith("[truncated]")
    assert len(messages[1].split(" ")[0].encode()) <= 10


def test_ndjson_with_streams_times_hosts_and_labels(client):
    c, p = client
    lines = [
        {"message": "m1", "stream": "auth", "ts": "2025-11-25T13:00:00Z", "host": "h1"},
        {"message": "m2", "ts": 1764075600, "labels": {"env": "prod"}},
        {"message": "m3", "ts": 1764075600123},
    ]
    body = "\n".join(json.dumps(x) for x in lines) + "\n\n"
    r = c.post(
        "/api/v1/logs?stream=web", content=body, headers={"Content-Type": "application/x-ndjson"}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 3}
    rows = tank_rows(p)
    assert [x["stream"] for x in rows] == ["auth", "web", "web"]
    assert rows[0]["host"] == "h1"
    assert json.loads(rows[1]["labels"]) == {"env": "prod"}
    assert rows[0]["ts"] == rows[1]["ts"] == 1764075600 * 10**9
    assert rows[2]["ts"] == 1764075600123 * 10**6


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"message": 5}', "'message'"),
        ("[1]", "expected a JSON object"),
        ('{"message": "x", "ts": "yesterday"}', "ISO-8601"),
        ('{"message": "x", "ts": "2026-11-25T13:00:00"}', "time zone"),
        ('{"message": "x", "stream": "../etc"}', "invalid stream name"),
        ('{"message": "x", "labels": {"a": 1}}', "labels"),
        ("{oops", "not valid JSON"),
    ],
)
def test_one_bad_ndjson_line_rejects_the_whole_request(client, line, reason):
    c, p = client
    body = '{"message": "fine"}\n' + line + "\n"
    r = c.post("/api/v1/logs", content=body, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 400
    assert "line 2" in r.json()["error"] and reason in r.json()["error"]
    assert tank_rows(p) == []


def test_unsupported_content_type_and_encoding(client):
    c, _ = client
    r = c.post("/api/v1/logs", content=b"x", headers={"Content-Type": "image/png"})
    assert r.status_code == 415
    r = c.post(
        "/api/v1/logs",
        content=b"x",
        headers={"Content-Type": "text/plain", "Content-Encoding": "br"},
    )
    assert r.status_code == 415


TOKENS = {
    "tokens": [
        {"token": "s3cret-web", "tenant": "web-team", "streams": ["web*"]},
        {"token": "s3cret-all", "tenant": "ops"},
    ]
}


def test_auth_is_on_beyond_loopback_and_checks_streams(make_client):
    c, p = make_client(server={"host": "0.0.0.0"}, auth=TOKENS)
    body = {"log_time_ns": T, "contents": ["x"]}
    r = c.post(LTS.format(stream="web"), json=body)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    r = c.post(LTS.format(stream="web"), json=body, headers={"X-Auth-Token": "wrong"})
    assert r.status_code == 401
    r = c.post(LTS.format(stream="web"), json=body, headers={"X-Auth-Token": "s3cret-web"})
    assert r.status_code == 200
    r = c.post(LTS.format(stream="db"), json=body, headers={"Authorization": "Bearer s3cret-web"})
    assert r.status_code == 403 and "web-team" in r.json()["errorMessage"]
    r = c.post(
        "/api/v1/logs?stream=db",
        content="y",
        auth=("anyone", "s3cret-all"),
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 200
    assert [x["stream"] for x in tank_rows(p)] == ["web", "db"]


def test_tokens_never_appear_in_config_dumps_or_errors(make_client):
    c, p = make_client(server={"host": "0.0.0.0"}, auth=TOKENS)
    assert "s3cret" not in json.dumps(p.settings.model_dump(mode="json"))
    r = c.post(
        LTS.format(stream="db"),
        json={"log_time_ns": T, "contents": ["x"]},
        headers={"X-Auth-Token": "s3cret-web"},
    )
    assert "s3cret" not in r.text


def test_backpressure_when_the_engine_lags(make_client):
    c, p = make_client(backpressure={"max_lag_lines": 5, "retry_after_seconds": 3})
    ok = c.post(
        "/api/v1/logs?stream=t",
        content="\n".join("abcdefg"),
        headers={"Content-Type": "text/plain"},
    )
    assert ok.status_code == 200  # 7 lines accepted, nobody consumed them: lag 7 > 5
    p._pressure_checked = -1e9  # do not wait for the cached check to expire
    r = c.post("/api/v1/logs?stream=t", content="more", headers={"Content-Type": "text/plain"})
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    assert "behind" in r.json()["error"]
    assert len(tank_rows(p)) == 7


def test_backpressure_when_the_disk_is_nearly_full(make_client):
    c, p = make_client(backpressure={"min_free_disk_bytes": 10**18})
    r = c.post(LTS.format(stream="web"), json={"log_time_ns": T, "contents": ["x"]})
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert tank_rows(p) == []


def test_text_lines_split_only_on_newlines(client):
    c, p = client
    body = "a\x0cform feed\r\nb\u2028same line\nc\x85too\n"
    r = c.post(
        "/api/v1/logs?stream=t",
        content=body.encode(),
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    assert r.status_code == 200
    assert [x["message"] for x in tank_rows(p)] == [
        "a\x0cform feed",
        "b\u2028same line",
        "c\x85too",
    ]


def test_syslog_source_runs_inside_the_pipeline(make_client):
    import socket
    import time

    c, p = make_client(sources={"syslog": {"enabled": True, "udp_port": 0, "tcp_port": None}})
    p.start()
    try:
        port = p.sources[0].udp_port
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(
                b"<14>1 2026-11-25T13:00:00Z host1 payments 42 - - card declined",
                ("127.0.0.1", port),
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not tank_rows(p):
            time.sleep(0.05)
        rows = tank_rows(p)
        assert [(x["stream"], x["message"], x["host"]) for x in rows] == [
            ("payments", "card declined", "host1")
        ]
        metrics = c.get("/metrics").text
        assert "logradar_syslog_udp_dropped 0.0" in metrics
    finally:
        p.stop()


def test_lone_surrogates_in_json_become_replacement_characters(client):
    c, p = client
    body = b'{"message": "bad \\ud800 x", "host": "h\\udfff"}\n'
    r = c.post("/api/v1/logs", content=body, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    row = tank_rows(p)[0]
    assert (row["message"], row["host"]) == ("bad \ufffd x", "h\ufffd")
