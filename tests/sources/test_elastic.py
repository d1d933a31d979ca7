"""The Elasticsearch bulk API: items, per-item errors, index to stream, version checks."""

from __future__ import annotations

import gzip
import json

import pytest

from helpers import tank_rows


def ndjson(*objects: object) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


NDJSON = {"Content-Type": "application/x-ndjson"}


def test_filebeat_style_bulk_lands_with_time_host_and_labels(client):
    c, p = client
    doc = {
        "@timestamp": "2025-11-25T13:00:00.250Z",
        "message": "GET /cart 200",
        "host": {"name": "web-1", "os": {"family": "debian"}},
        "log": {"file": {"path": "/var/log/app.log"}, "level": "info"},
        "tags": ["a", "b"],
    }
    body = ndjson({"create": {"_index": "logs-app-default"}}, doc, {"index": {"_id": "x1"}}, doc)
    r = c.post("/filebeat-8.11.0/_bulk", content=body, headers=NDJSON)
    assert r.status_code == 200, r.text
    assert r.headers["X-Elastic-Product"] == "Elasticsearch"
    answer = r.json()
    assert answer["errors"] is False
    assert isinstance(answer["took"], int)
    first, second = answer["items"]
    assert first["create"]["status"] == 201 and first["create"]["result"] == "created"
    assert first["create"]["_index"] == "logs-app-default" and first["create"]["_id"]
    assert second["index"] == {
        "_index": "filebeat-8.11.0",
        "_id": "x1",
        "_version": 1,
        "result": "created",
        "status": 201,
    }
    rows = tank_rows(p)
    assert [x["stream"] for x in rows] == ["logs-app-default", "filebeat-8.11.0"]
    assert {x["message"] for x in rows} == {"GET /cart 200"}
    assert {x["host"] for x in rows} == {"web-1"}
    assert rows[0]["ts"] == 1_764_075_600_250_000_000
    labels = json.loads(rows[0]["labels"])
    assert labels["log.file.path"] == "/var/log/app.log"
    assert labels["host.os.family"] == "debian"
    assert labels["tags"] == '["a", "b"]'
    assert labels["_index"] == "logs-app-default"
    assert "message" not in labels and "@timestamp" not in labels


def test_message_falls_back_to_log_then_the_whole_document(client):
    c, p = client
    body = ndjson(
        {"index": {}},
        {"log": "from fluent bit", "host": "node-7", "@timestamp": 1764075600123},
        {"index": {}},
        {"level": "warn", "n": 3},
    )
    r = c.post("/fluentbit/_bulk", content=body, headers=NDJSON)
    assert r.status_code == 200 and r.json()["errors"] is False
    rows = tank_rows(p)
    assert rows[0]["message"] == "from fluent bit"
    assert rows[0]["host"] == "node-7"
    assert rows[0]["ts"] == 1764075600123 * 10**6
    assert json.loads(rows[1]["message"]) == {"level": "warn", "n": 3}


def test_per_item_errors_keep_the_valid_items(client):
    c, p = client
    body = (
        ndjson({"index": {"_index": "app"}}, {"message": "ok 1"})
        + '{"index": {"_index": "app", "_id": "bad"}}\nthis is not json\n'
        + ndjson(
            {"index": {"_index": "app"}},
            [1, 2],
            {"index": {"_index": "app"}},
            {"message": "bad time", "@timestamp": "yesterday"},
            {"delete": {"_index": "app", "_id": "1"}},
            {"update": {"_index": "app", "_id": "2"}},
            {"doc": {"message": "u"}},
            {"create": {}},
            {"message": "no index anywhere"},
            {"index": {"_index": "app"}},
            {"message": "ok 2"},
        )
    )
    r = c.post("/_bulk", content=body, headers=NDJSON)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["errors"] is True
    ops = [next(iter(item)) for item in answer["items"]]
    assert ops == ["index", "index", "index", "index", "delete", "update", "create", "index"]
    statuses = [next(iter(item.values()))["status"] for item in answer["items"]]
    assert statuses == [201, 400, 400, 400, 400, 400, 400, 201]
    errors = [next(iter(item.values())).get("error", {}).get("type") for item in answer["items"]]
    assert errors[1:4] == ["mapper_parsing_exception"] * 3
    assert answer["items"][1]["index"]["_id"] == "bad"
    assert [x["message"] for x in tank_rows(p)] == ["ok 1", "ok 2"]


@pytest.mark.parametrize(
    "body",
    [
        "not an action\n{}\n",
        ndjson({"index": {}, "create": {}}, {"message": "x"}),
        ndjson({"upsert": {}}, {"message": "x"}),
        ndjson({"index": "app"}, {"message": "x"}),
        ndjson({"index": {}}),
    ],
)
def test_malformed_action_lines_reject_the_whole_request(client, body):
    c, p = client
    body = ndjson({"index": {"_index": "app"}}, {"message": "fine"}) + body
    r = c.post("/_bulk", content=body, headers=NDJSON)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "illegal_argument_exception" and error["root_cause"]
    assert "line [3]" in error["reason"]
    assert tank_rows(p) == []


@pytest.mark.parametrize("body", ["", "\n\n", "  \n"])
def test_a_bulk_without_actions_is_refused_as_elasticsearch_does(client, body):
    c, _ = client
    r = c.post("/_bulk", content=body, headers=NDJSON)
    assert r.status_code == 400
    assert r.json()["error"]["reason"] == "Validation Failed: 1: no requests added;"


@pytest.mark.parametrize(
    ("index", "stream"),
    [
        ("logs-app-default", "logs-app-default"),
        (".ds-logs-x-2025.11.25-000001", "ds-logs-x-2025.11.25-000001"),
        ("<logs-{now/d}>", "_logs-_now_d_"),
        ("-weird..name", "weird.name"),
        ("***", "_"),
    ],
)
def test_index_names_become_valid_streams(client, index, stream):
    c, p = client
    r = c.post("/_bulk", content=ndjson({"index": {"_index": index}}, {"message": "m"}))
    assert r.status_code == 200 and not r.json()["errors"], r.text
    assert r.json()["items"][0]["index"]["_index"] == index
    assert [x["stream"] for x in tank_rows(p)] == [stream]


def test_gzip_bulk_and_invalid_utf8(client):
    c, p = client
    raw = b'{"index":{"_index":"zip"}}\n{"message":"caf\xe9"}\n'
    r = c.post("/_bulk", content=gzip.compress(raw), headers={**NDJSON, "Content-Encoding": "gzip"})
    assert r.status_code == 200 and not r.json()["errors"], r.text
    assert [x["message"] for x in tank_rows(p)] == ["caf\ufffd"]


def test_version_check_endpoints(client):
    c, _ = client
    r = c.get("/", headers={"Accept": "application/json"})
    assert r.status_code == 200
    assert r.json()["version"]["number"].startswith("8.")
    assert r.json()["tagline"] == "You Know, for Search"
    assert r.headers["X-Elastic-Product"] == "Elasticsearch"
    assert c.head("/", headers={"Accept": "application/json"}).status_code == 200
    assert c.get("/_license").json()["license"]["status"] == "active"
    assert c.get("/_xpack").json()["license"]["type"] == "basic"
    assert c.get("/_cluster/health").json()["status"] == "green"
    assert c.head("/_index_template/filebeat-8.11.0").status_code == 200
    assert c.put("/_ilm/policy/filebeat", json={"policy": {}}).json() == {"acknowledged": True}


@pytest.mark.parametrize(
    ("headers", "es"),
    [
        ({"Accept": "application/json"}, True),
        ({"Accept": "application/vnd.elasticsearch+json; compatible-with=8"}, True),
        ({"Accept": ""}, True),
        ({"Accept": "*/*", "User-Agent": "Vector/0.43.0 (x86_64-unknown-linux-gnu)"}, True),
        ({"Accept": "*/*", "User-Agent": "Filebeat/8.11.0 (linux; amd64)"}, True),
        ({"Accept": "*/*", "User-Agent": "curl/8.5.0"}, False),
        (
            {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "User-Agent": "Mozilla/5.0"},
            False,
        ),
    ],
)
def test_root_answers_shippers_as_elasticsearch_and_people_with_the_ui(client, headers, es):
    c, _ = client
    r = c.get("/", headers=headers)
    assert r.status_code == 200
    if es:
        assert r.json()["version"]["number"].startswith("8.")
    else:
        assert r.headers["content-type"].startswith("text/html")


def test_refusals_use_the_elasticsearch_error_shape(make_client):
    tokens = {"tokens": [{"token": "s3cret-web", "tenant": "web-team", "streams": ["web*"]}]}
    c, p = make_client(server={"host": "0.0.0.0"}, auth=tokens)
    body = ndjson({"index": {"_index": "web-logs"}}, {"message": "x"})
    r = c.post("/_bulk", content=body)
    assert r.status_code == 401 and r.json()["error"]["type"] == "security_exception"
    assert r.json()["status"] == 401
    r = c.post("/_bulk", content=body, headers={"Authorization": "ApiKey s3cret-web"})
    assert r.status_code == 200 and not r.json()["errors"]
    denied = ndjson({"index": {"_index": "db"}}, {"message": "y"})
    r = c.post("/_bulk", content=denied, auth=("elastic", "s3cret-web"))
    assert r.status_code == 403 and "web-team" in r.json()["error"]["reason"]
    assert [x["stream"] for x in tank_rows(p)] == ["web-logs"]

    c, p = make_client(backpressure={"min_free_disk_bytes": 10**18})
    r = c.post("/_bulk", content=body)
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert r.json()["error"]["type"] == "cluster_block_exception"
    assert tank_rows(p) == []


@pytest.mark.parametrize(
    ("stamp", "ns"),
    [
        ("2025-11-25T13:00:00.123456789Z", 1_764_075_600_123_456_789),
        ("2025-11-25T14:00:00.5+01:00", 1_764_075_600_500_000_000),
        ("2025-11-25T13:00:00", 1_764_075_600_000_000_000),
        ("1764075600123", 1_764_075_600_123_000_000),
    ],
)
def test_timestamps_as_elasticsearch_reads_them(client, stamp, ns):
    c, p = client
    r = c.post("/_bulk", content=ndjson({"index": {"_index": "t"}}, {"@timestamp": stamp}))
    assert r.status_code == 200 and not r.json()["errors"], r.text
    assert tank_rows(p)[0]["ts"] == ns


def test_lone_surrogates_are_replaced_in_lines_and_answers(client):
    c, p = client
    body = (
        rb'{"index": {"_index": "ok"}}' + b"\n" + rb'{"message": "m\ud800", "k": ["\udfff"]}'
        b"\n" + rb'{"index": {"_index": "ok"}}' + b"\n" + rb'{"@timestamp": "\ud800"}' + b"\n"
    )
    r = c.post("/_bulk", content=body, headers=NDJSON)
    assert r.status_code == 200
    assert [next(iter(i.values()))["status"] for i in r.json()["items"]] == [201, 400]
    (row,) = tank_rows(p)
    assert row["message"] == "m\ufffd"
    assert json.loads(row["labels"])["k"] == '["\ufffd"]'
