"""The Loki push API: JSON and snappy protobuf bodies, labels, stream choice, errors."""

from __future__ import annotations

import gzip
import json

import cramjam
import pytest

from helpers import promtail_body, tank_rows
from logradar.sources.proto.logproto import PushRequest

PUSH = "/loki/api/v1/push"
T = 1_764_075_600_123_456_789


PROTOBUF = {"Content-Type": "application/x-protobuf"}


def test_json_push_lands_with_labels_time_host_and_metadata(client):
    c, p = client
    body = {
        "streams": [
            {
                "stream": {"service_name": "checkout", "host": "web-1", "env": "prod"},
                "values": [[str(T), "first"], [str(T + 1), "second", {"trace_id": "abc"}]],
            }
        ]
    }
    r = c.post(PUSH, json=body)
    assert r.status_code == 204, r.text
    assert r.content == b""
    rows = tank_rows(p)
    assert [x["message"] for x in rows] == ["first", "second"]
    assert [x["ts"] for x in rows] == [T, T + 1]
    assert {x["stream"] for x in rows} == {"checkout"}
    assert {x["host"] for x in rows} == {"web-1"}
    stream_labels = {"service_name": "checkout", "host": "web-1", "env": "prod"}
    assert json.loads(rows[0]["labels"]) == stream_labels
    assert json.loads(rows[1]["labels"]) == {**stream_labels, "trace_id": "abc"}


def test_protobuf_snappy_push_as_promtail_sends_it(client):
    c, p = client
    body = promtail_body(
        [
            ('{job="varlogs", filename="/var/log/a \\"b\\".log"}', [(T, b"alpha", {})]),
            ('{app="billing"}', [(T + 5, b"caf\xe9 \xff", {"level": "warn"})]),
        ]
    )
    r = c.post(PUSH, content=body, headers=PROTOBUF)
    assert r.status_code == 204, r.text
    rows = tank_rows(p)
    assert [(x["stream"], x["message"], x["ts"]) for x in rows] == [
        ("varlogs", "alpha", T),
        ("billing", "caf\ufffd \ufffd", T + 5),
    ]
    assert json.loads(rows[0]["labels"]) == {"job": "varlogs", "filename": '/var/log/a "b".log'}
    assert json.loads(rows[1]["labels"]) == {"app": "billing", "level": "warn"}


def test_snappy_content_encoding_header_is_accepted(client):
    c, p = client
    body = promtail_body([('{job="x"}', [(T, b"m", {})])])
    r = c.post(PUSH, content=body, headers={**PROTOBUF, "Content-Encoding": "snappy"})
    assert r.status_code == 204, r.text
    assert [x["message"] for x in tank_rows(p)] == ["m"]


def test_gzip_json_push(client):
    c, p = client
    raw = json.dumps({"streams": [{"stream": {"job": "z"}, "values": [[str(T), "zipped"]]}]})
    r = c.post(
        PUSH,
        content=gzip.compress(raw.encode()),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 204, r.text
    assert [(x["stream"], x["message"]) for x in tank_rows(p)] == [("z", "zipped")]


@pytest.mark.parametrize(
    ("labels", "stream"),
    [
        ({"service_name": "a", "job": "b", "app": "c"}, "a"),
        ({"job": "b", "app": "c"}, "b"),
        ({"app": "c"}, "c"),
        ({"env": "prod"}, "loki"),
        ({"job": "kube/ns pod"}, "kube_ns_pod"),
        ({"job": "..hidden"}, "hidden"),
        ({"job": "///"}, "_"),
    ],
)
def test_default_label_order_picks_the_stream(client, labels, stream):
    c, p = client
    r = c.post(PUSH, json={"streams": [{"stream": labels, "values": [[str(T), "x"]]}]})
    assert r.status_code == 204, r.text
    assert [x["stream"] for x in tank_rows(p)] == [stream]


def test_configured_stream_labels_and_default(make_client):
    c, p = make_client(sources={"loki": {"stream_labels": ["team"], "default_stream": "misc"}})
    streams = [
        {"stream": {"team": "payments", "job": "j"}, "values": [[str(T), "x"]]},
        {"stream": {"job": "j"}, "values": [[str(T), "y"]]},
    ]
    assert c.post(PUSH, json={"streams": streams}).status_code == 204
    assert [x["stream"] for x in tank_rows(p)] == ["payments", "misc"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "invalid JSON push"),
        (b'{"streams": {}}', "streams"),
        (b'{"streams": [{"stream": {"a": 1}, "values": []}]}', "streams[0].stream"),
        (b'{"streams": [{"stream": {}, "values": [["x", "line"]]}]}', "timestamp"),
        (b'{"streams": [{"stream": {}, "values": [["-1", "line"]]}]}', "timestamp"),
        (b'{"streams": [{"stream": {}, "values": [["1", 5]]}]}', "line"),
        (b'{"streams": [{"stream": {}, "values": [["1"]]}]}', "values[0]"),
    ],
)
def test_bad_json_push_is_refused_whole_with_a_text_reason(client, body, reason):
    c, p = client
    good = b'{"stream": {"job": "ok"}, "values": [["1", "fine"]]}'
    if body.startswith(b'{"streams": ['):
        body = body.replace(b'{"streams": [', b'{"streams": [' + good + b", ", 1)
        reason = reason.replace("streams[0]", "streams[1]")
    r = c.post(PUSH, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/plain")
    assert reason in r.text
    assert tank_rows(p) == []


def test_bad_protobuf_pushes_are_refused(client):
    c, p = client
    good = ('{job="ok"}', [(T, b"fine", {})])
    bad_selector = promtail_body([good, ("job=unquoted", [(T, b"x", {})])])
    r = c.post(PUSH, content=bad_selector, headers=PROTOBUF)
    assert r.status_code == 400 and "streams[1]" in r.text
    raw = PushRequest(streams=[{"labels": b'{job="ok"}', "entries": [{"line": b"x"}]}])
    r = c.post(PUSH, content=raw.SerializeToString(), headers=PROTOBUF)  # not snappy
    assert r.status_code == 400
    not_proto = bytes(cramjam.snappy.compress_raw(b"\xff\xff\xff\xff"))
    assert c.post(PUSH, content=not_proto, headers=PROTOBUF).status_code == 400
    assert tank_rows(p) == []


def test_oversized_pushes_get_413_also_after_snappy(make_client):
    c, p = make_client(server={"max_body_bytes": 2000})
    body = promtail_body([('{job="x"}', [(T, b"y" * 10_000, {})])])
    assert len(body) < 2000
    r = c.post(PUSH, content=body, headers=PROTOBUF)
    assert r.status_code == 413 and "limit" in r.text
    r = c.post(PUSH, json={"streams": [{"stream": {}, "values": [[str(T), "z" * 3000]]}]})
    assert r.status_code == 413
    assert tank_rows(p) == []


def test_auth_and_backpressure_answer_in_loki_style(make_client):
    tokens = {"tokens": [{"token": "s3cret-web", "tenant": "web-team", "streams": ["web*"]}]}
    c, p = make_client(server={"host": "0.0.0.0"}, auth=tokens)
    push = {"streams": [{"stream": {"job": "web"}, "values": [[str(T), "x"]]}]}
    r = c.post(PUSH, json=push)
    assert r.status_code == 401 and r.headers["content-type"].startswith("text/plain")
    r = c.post(PUSH, json=push, auth=("tenant", "s3cret-web"))  # Basic auth, like Promtail
    assert r.status_code == 204
    denied = {"streams": [{"stream": {"job": "db"}, "values": [[str(T), "y"]]}]}
    r = c.post(PUSH, json=denied, headers={"Authorization": "Bearer s3cret-web"})
    assert r.status_code == 403 and "web-team" in r.text
    assert [x["stream"] for x in tank_rows(p)] == ["web"]

    c, p = make_client(backpressure={"min_free_disk_bytes": 10**18})
    r = c.post(PUSH, json=push)
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert tank_rows(p) == []


def test_invalid_utf8_and_lone_surrogates_in_json_are_replaced(client):
    c, p = client
    body = rb'{"streams": [{"stream": {"job": "a\ud800"}, "values": [["1", "x\udc00 caf'
    body += b'\xe9", {"k": "\\ud800"}]]}]}'
    r = c.post(PUSH, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 204, r.text
    (row,) = tank_rows(p)
    assert row["message"] == "x\ufffd caf\ufffd"
    assert json.loads(row["labels"]) == {"job": "a\ufffd", "k": "\ufffd"}
    assert row["stream"] == "a_"
