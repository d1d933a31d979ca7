"""Line-length and labels-count limits, on every receiver: refused with a reason, or (for
sources that cannot answer) kept within the limit and counted; nothing else is lost."""

from __future__ import annotations

import json
import socket
import time

import pytest

from helpers import attr, otlp_json, promtail_body, tank_rows
from logradar.config import ConfigError, load_config
from logradar.pipeline import Pipeline
from logradar.sources.common import LABELS_DROPPED, cap_labels

PROTOBUF = {"Content-Type": "application/x-protobuf"}
LTS = "/v2/0123456789abcdef0123456789abcdef/lts/groups/g-1/streams/{stream}/tenant/contents"
T = 1_764_075_600_123_456_789


def labels(n: int) -> dict[str, str]:
    return {f"k{i}": f"v{i}" for i in range(n)}


# Long lines, long_lines = "reject" ------------------------------------------------------------
def test_reject_mode_refuses_the_whole_request_and_keeps_what_was_accepted(make_client):
    c, p = make_client(server={"max_line_bytes": 10, "long_lines": "reject"})
    ok = c.post(LTS.format(stream="web"), json={"log_time_ns": T, "contents": ["fits"]})
    assert ok.status_code == 200
    r = c.post(LTS.format(stream="web"), json={"log_time_ns": T, "contents": ["a", "é" * 20]})
    assert r.status_code == 400
    reason = r.json()["errorMessage"]
    assert "1 of 2 lines exceed server.max_line_bytes (10 bytes)" in reason
    assert "40 bytes" in reason and "nothing was stored" in reason
    r = c.post("/api/v1/logs?stream=t", content="x" * 11, headers={"Content-Type": "text/plain"})
    assert r.status_code == 400 and "max_line_bytes" in r.json()["error"]
    assert [row["message"] for row in tank_rows(p)] == ["fits"]
    assert c.post("/api/v1/logs?stream=t", content="x" * 10).status_code == 200  # at the limit


def test_reject_mode_answers_in_each_receivers_shape(make_client):
    c, p = make_client(server={"max_line_bytes": 10, "long_lines": "reject"})
    push = {"streams": [{"stream": {"job": "a"}, "values": [[str(T), "y" * 11]]}]}
    r = c.post("/loki/api/v1/push", json=push)
    assert r.status_code == 400 and "max_line_bytes" in r.text
    bulk = '{"create":{"_index":"app"}}\n{"message":"' + "z" * 11 + '"}\n'
    r = c.post("/_bulk", content=bulk, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 400 and "max_line_bytes" in r.json()["error"]["reason"]
    record = {"timeUnixNano": str(T), "body": {"stringValue": "w" * 11}}
    r = c.post("/v1/logs", json=otlp_json([record]))
    assert r.status_code == 400
    assert "max_line_bytes" in json.loads(r.content)["message"]
    assert tank_rows(p) == []


def test_truncate_mode_is_the_default_and_counts_cut_lines(client):
    c, p = client
    long = "x" * (p.settings.server.max_line_bytes + 1)
    assert p.settings.server.long_lines == "truncate"
    r = c.post(LTS.format(stream="web"), json={"log_time_ns": T, "contents": [long]})
    assert r.status_code == 200
    assert tank_rows(p)[0]["message"].endswith("[truncated]")
    assert "logradar_lines_truncated_total 1.0" in c.get("/metrics").text


def test_a_wrong_long_lines_value_is_a_clear_config_error():
    with pytest.raises(ConfigError) as err:
        load_config(server={"long_lines": "drop"})
    assert "server.long_lines" in str(err.value) and "'truncate' or 'reject'" in str(err.value)


# Labels count ---------------------------------------------------------------------------------
def test_lts_refuses_more_labels_than_the_limit(make_client):
    c, p = make_client(server={"max_labels": 3})
    body = {"log_time_ns": T, "contents": ["x"], "labels": labels(4)}
    r = c.post(LTS.format(stream="web"), json=body)
    assert r.status_code == 400
    assert r.json()["errorMessage"] == (
        "the body's labels has 4 labels; the limit is 3 (server.max_labels)"
    )
    body["labels"] = labels(3)
    assert c.post(LTS.format(stream="web"), json=body).status_code == 200
    assert [json.loads(row["labels"]) for row in tank_rows(p)] == [labels(3)]


def test_loki_counts_stream_labels_and_structured_metadata_together(make_client):
    c, p = make_client(server={"max_labels": 3})
    too_many = {"streams": [{"stream": labels(4), "values": [[str(T), "a"]]}]}
    r = c.post("/loki/api/v1/push", json=too_many)
    assert r.status_code == 400
    assert r.text == "streams[0] has 4 labels; the limit is 3 (server.max_labels)\n"
    metadata = {"streams": [{"stream": labels(2), "values": [[str(T), "b", {"trace": "t"}]]}]}
    assert c.post("/loki/api/v1/push", json=metadata).status_code == 204
    metadata["streams"][0]["values"].append([str(T), "c", {"trace": "t", "span": "s"}])
    r = c.post("/loki/api/v1/push", json=metadata)
    assert r.status_code == 400 and r.text.startswith("an entry of streams[0] has 4 labels")
    selector = "{" + ", ".join(f'k{i}="v"' for i in range(4)) + "}"
    body = promtail_body([(selector, [(T, b"d", {})])])
    r = c.post("/loki/api/v1/push", content=body, headers=PROTOBUF)
    assert r.status_code == 400 and "has 4 labels" in r.text
    assert [row["message"] for row in tank_rows(p)] == ["b"]


def test_elastic_fails_only_the_document_with_too_many_fields(make_client):
    c, p = make_client(server={"max_labels": 3})
    bulk = "".join(
        json.dumps(x) + "\n"
        for x in (
            {"create": {"_index": "app"}},
            {"message": "kept", "a": "1", "b": "2"},  # a, b and _index: 3
            {"create": {"_index": "app"}},
            {"message": "failed", "a": "1", "b": "2", "c": "3"},
        )
    )
    r = c.post("/_bulk", content=bulk, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200
    answer = r.json()
    assert answer["errors"] is True
    kept, failed = (item["create"] for item in answer["items"])
    assert kept["status"] == 201
    assert failed["status"] == 400
    assert failed["error"]["type"] == "illegal_argument_exception"
    assert "Limit of total fields [3] has been exceeded" in failed["error"]["reason"]
    assert [row["message"] for row in tank_rows(p)] == ["kept"]


def test_otlp_counts_resource_and_record_attributes(make_client):
    c, p = make_client(server={"max_labels": 3})
    resource = [attr("service.name", {"stringValue": "api"}), attr("a", {"stringValue": "1"})]
    record = {
        "timeUnixNano": str(T),
        "body": {"stringValue": "hello"},
        "attributes": [attr("b", {"stringValue": "2"}), attr("c", {"stringValue": "3"})],
    }
    r = c.post("/v1/logs", json=otlp_json([record], resource))
    assert r.status_code == 400
    message = json.loads(r.content)["message"]
    assert message == (
        "resourceLogs[0].scopeLogs[0].logRecords[0] has 5 labels; the limit is 3 "
        "(server.max_labels)"
    )
    record["attributes"] = []
    assert c.post("/v1/logs", json=otlp_json([record], resource)).status_code == 200
    assert len(tank_rows(p)) == 1


def test_ndjson_names_the_line_with_too_many_labels(make_client):
    c, p = make_client(server={"max_labels": 3})
    lines = [{"message": "ok", "labels": labels(3)}, {"message": "no", "labels": labels(4)}]
    body = "\n".join(json.dumps(x) for x in lines)
    r = c.post("/api/v1/logs", content=body, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 400
    assert r.json()["error"] == "line 2 has 4 labels; the limit is 3 (server.max_labels)"
    assert tank_rows(p) == []


def test_cap_labels_keeps_the_first_and_says_how_many_were_left_out():
    assert cap_labels(labels(3), 3) == labels(3)
    capped = cap_labels({"b": "2", "a": "1", "d": "4", "c": "3"}, 3)
    assert capped == {"a": "1", "b": "2", LABELS_DROPPED: "2"}


# Syslog: cannot refuse, so it caps labels and drops (and counts) lines in reject mode ---------
def test_syslog_caps_labels_and_drops_long_lines_when_rejecting(tmp_path):
    settings = load_config(
        data_dir=tmp_path / "data",
        server={"max_line_bytes": 60, "long_lines": "reject", "max_labels": 4},
        sources={"syslog": {"enabled": True, "udp_port": None, "tcp_port": 0}},
    )
    pipeline = Pipeline(settings)
    pipeline.start()
    try:
        port = pipeline.sources[0].tcp_port
        short = '<14>1 2025-11-25T13:00:00Z web app 42 ID7 [ex@1 a="1" b="2" c="3"] short'
        long = "<14>1 2025-11-25T13:00:00Z web app 42 ID7 - " + "L" * 100
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(f"{long}\n{short}\n".encode())
        deadline = time.monotonic() + 10
        while not tank_rows(pipeline) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # anything else would have arrived with it
        rows = tank_rows(pipeline)
        assert [row["message"] for row in rows] == ["short"]
        kept = json.loads(rows[0]["labels"])
        assert len(kept) == 4
        assert int(kept[LABELS_DROPPED]) >= 3  # facility, severity, procid, msgid, 3 SD params
        metrics = pipeline.metrics.render().decode()
        assert 'logradar_lines_rejected_total{reason="too_long",source="syslog"} 1.0' in metrics
    finally:
        pipeline.stop()
