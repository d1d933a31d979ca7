"""Real shipper clients against a real ``logradar`` HTTP server (uvicorn, as ``logradar up``).

- Elasticsearch bulk API: rsyslog's ``omelasticsearch`` output (Debian ``rsyslog-elasticsearch``)
  shipping two files, and the official Elasticsearch Python client (``helpers.bulk``,
  ``streaming_bulk``, per-item errors, API key and basic auth).
- Loki push API: ``loki-logger-handler`` (Python ``logging``; JSON, gzip, structured metadata)
  and ``winston-loki`` on Node.js, both in JSON and in protobuf+snappy (``tests/sources/node``).

``scripts/install-test-deps.sh`` installs rsyslog's module and the npm packages; without them
those tests skip, except under CI (env ``CI`` set), where they fail.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import AuthenticationException, AuthorizationException, Elasticsearch, helpers
from loki_logger_handler.loki_logger_handler import LokiLoggerHandler

from helpers import tank_rows
from logradar.config import load_config
from logradar.pipeline import Pipeline
from logradar.server import build_server

pytestmark = pytest.mark.integration

NODE_DIR = Path(__file__).parent / "node"


def require(found: Any, what: str) -> None:
    """Skip without ``what``; under CI (env ``CI`` set) a missing dependency fails instead."""
    if not found:
        message = f"{what} is not installed: run scripts/install-test-deps.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def serve(tmp_path) -> Iterator[Callable[..., tuple[str, Pipeline]]]:
    """Start ``logradar up``'s server in this process on a free port: its URL and pipeline."""
    running: list[tuple[Any, threading.Thread]] = []

    def start(**overrides: Any) -> tuple[str, Pipeline]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        data_dir = tmp_path / f"data{len(running)}"
        settings = load_config(data_dir=data_dir, server={"port": port}, **overrides)
        pipeline, uv = build_server(settings)
        thread = threading.Thread(target=uv.run, daemon=True)
        thread.start()
        running.append((uv, thread))
        deadline = time.monotonic() + 20
        while not uv.started:
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        return f"http://127.0.0.1:{port}", pipeline

    yield start
    for uv, thread in running:
        uv.should_exit = True
        thread.join(30)


def rows_when(pipeline: Pipeline, n: int, timeout: float = 20) -> list[dict[str, Any]]:
    """The tank's rows once there are ``n`` of them."""
    deadline = time.monotonic() + timeout
    while len(rows := tank_rows(pipeline)) < n:
        assert time.monotonic() < deadline, rows
        time.sleep(0.05)
    return rows


# rsyslog omelasticsearch ------------------------------------------------------------------
RSYSLOG_ES = """
global(workDirectory="{work}" localHostname="web-7")
module(load="imfile")
module(load="omelasticsearch")
template(name="index" type="string" string="rsyslog-%programname%")
template(name="doc" type="list" option.jsonf="on") {{
  property(outname="@timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
  property(outname="severity" name="syslogseverity-text" format="jsonf")
}}
input(type="imfile" File="{work}/checkout.log" Tag="checkout" Severity="warning")
input(type="imfile" File="{work}/billing.log" Tag="billing" Severity="info")
action(type="omelasticsearch" server="127.0.0.1" serverport="{port}" bulkmode="on"
       template="doc" searchIndex="index" dynSearchIndex="on"
       errorFile="{work}/es-errors.json")
"""


def test_rsyslog_omelasticsearch_ships_files_through_the_bulk_api(serve, tmp_path):
    require(shutil.which("rsyslogd"), "rsyslog")
    require(list(Path("/usr/lib").glob("*/rsyslog/omelasticsearch.so")), "rsyslog-elasticsearch")
    url, pipeline = serve()
    work = tmp_path / "rsyslog"
    work.mkdir()
    (work / "checkout.log").write_text("order 1 paid\n")
    (work / "billing.log").write_text("invoice 7 sent\n")
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(RSYSLOG_ES.format(work=work, port=url.rsplit(":", 1)[1]))
    check = subprocess.run(
        ["rsyslogd", "-N1", "-f", str(conf)], capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stderr
    rsyslogd = subprocess.Popen(
        ["rsyslogd", "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslog.pid")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        rows_when(pipeline, 2)
        with (work / "checkout.log").open("a") as out:
            out.write('order 2 failed: card "declined" [retry]\n')
            out.write('caf\xe9 \u2603 {"not": "a document"}\n')
        rows = rows_when(pipeline, 4)
    finally:
        rsyslogd.terminate()
        rsyslogd.wait(10)
    assert len(tank_rows(pipeline)) == 4
    assert not (work / "es-errors.json").exists()
    by_stream: dict[str, list[str]] = {}
    for row in rows:
        by_stream.setdefault(row["stream"], []).append(row["message"])
        assert row["host"] == "web-7"
        severity = "warning" if row["stream"] == "rsyslog-checkout" else "info"
        assert json.loads(row["labels"]) == {
            "_index": row["stream"],
            "host": "web-7",
            "severity": severity,
        }
        assert abs(row["ts"] - time.time_ns()) < 60 * 10**9
    assert by_stream == {
        "rsyslog-checkout": [
            "order 1 paid",
            'order 2 failed: card "declined" [retry]',
            'caf\xe9 \u2603 {"not": "a document"}',
        ],
        "rsyslog-billing": ["invoice 7 sent"],
    }


# Official Elasticsearch Python client -----------------------------------------------------
def test_elasticsearch_client_bulk_helpers_and_per_item_errors(serve):
    url, pipeline = serve()
    # The client refuses answers without ``X-Elastic-Product: Elasticsearch``.
    es = Elasticsearch(url, request_timeout=10)
    assert es.info()["version"]["number"].startswith("8.")
    # A recent event time, to the microsecond, one hour east of UTC.
    t = time.time_ns() // 1000 * 1000
    east = timezone(timedelta(hours=1))
    stamp = datetime.fromtimestamp(t // 10**9, east).replace(microsecond=t // 1000 % 10**6)
    first = {
        "_index": "app-a",
        "message": "order 1 paid",
        "@timestamp": stamp.isoformat(),
        "host": {"name": "web-1"},
        "http": {"status": 200},
    }
    assert helpers.bulk(es, [first, {"_index": "app-b", "log": "raw line"}]) == (2, [])
    assert helpers.bulk(es, [{"message": "no _index: the path's"}], index="app-c") == (1, [])

    mixed = [
        {"_index": "app-a", "message": "kept"},
        {"_op_type": "delete", "_index": "app-a", "_id": "1"},
        {"_op_type": "update", "_index": "app-a", "_id": "2", "doc": {"message": "x"}},
    ]
    results = list(helpers.streaming_bulk(es, mixed, raise_on_error=False))
    assert [ok for ok, _ in results] == [True, False, False]
    assert results[1][1]["delete"]["status"] == 400
    assert "update" in results[2][1]["update"]["error"]["reason"]
    with pytest.raises(helpers.BulkIndexError) as refused:
        helpers.bulk(es, [{"_index": "app-a", "message": "kept too"}, mixed[1]])
    assert [list(item) for item in refused.value.errors] == [["delete"]]

    rows = tank_rows(pipeline)
    assert [(x["stream"], x["message"], x["host"]) for x in rows] == [
        ("app-a", "order 1 paid", "web-1"),
        ("app-b", "raw line", None),
        ("app-c", "no _index: the path's", None),
        ("app-a", "kept", None),
        ("app-a", "kept too", None),
    ]
    assert rows[0]["ts"] == t
    assert json.loads(rows[0]["labels"]) == {
        "_index": "app-a",
        "host.name": "web-1",
        "http.status": "200",
    }
    assert json.loads(rows[2]["labels"]) == {"_index": "app-c"}


def test_elasticsearch_client_authenticates_with_api_key_and_basic_auth(serve):
    tokens = [{"token": "s3cret-web", "tenant": "web-team", "streams": ["web*"]}]
    url, pipeline = serve(auth={"enabled": True, "tokens": tokens})
    line = [{"_index": "web-logs", "message": "with an API key"}]
    assert helpers.bulk(Elasticsearch(url, api_key="s3cret-web"), line) == (1, [])
    basic = Elasticsearch(url, basic_auth=("elastic", "s3cret-web"))
    assert helpers.bulk(basic, [{"_index": "web-logs", "message": "with basic auth"}]) == (1, [])
    with pytest.raises(AuthenticationException):
        helpers.bulk(Elasticsearch(url, api_key="wrong"), line)
    with pytest.raises(AuthorizationException, match="web-team"):
        helpers.bulk(basic, [{"_index": "db-logs", "message": "not this tenant's"}])
    rows = tank_rows(pipeline)
    assert [(x["stream"], x["message"]) for x in rows] == [
        ("web-logs", "with an API key"),
        ("web-logs", "with basic auth"),
    ]


# Loki: loki-logger-handler (PyPI) ---------------------------------------------------------
def test_loki_logger_handler_pushes_gzip_json_with_structured_metadata(serve):
    url, pipeline = serve()
    handler = LokiLoggerHandler(
        url=url + "/loki/api/v1/push",
        labels={"job": "checkout", "host": "web-7"},
        label_keys={"level"},
        timeout=0.1,  # seconds between flushes
        compressed=True,
        enable_structured_loki_metadata=True,
        loki_metadata={"service": "checkout"},
        loki_metadata_keys=["trace_id"],
    )
    logger = logging.getLogger("logradar.test.loki_logger_handler")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        logger.info("order 1 paid", extra={"trace_id": "abc123"})
        logger.error('card "declined" caf\xe9 \u2603')
        rows = rows_when(pipeline, 2)
    finally:
        logger.removeHandler(handler)
    assert not handler.error
    assert len(tank_rows(pipeline)) == 2
    records = {}
    for row in rows:
        record = json.loads(row["message"])  # the handler sends each record as a JSON line
        records[record["message"]] = record, json.loads(row["labels"])
        assert (row["stream"], row["host"]) == ("checkout", "web-7")
        assert row["ts"] == int(record["timestamp"] * 1e9)
    info, info_labels = records["order 1 paid"]
    assert info["level"] == "INFO" and "trace_id" not in info
    assert info_labels == {
        "job": "checkout",
        "host": "web-7",
        "level": "INFO",
        "service": "checkout",
        "trace_id": "abc123",
    }
    error, error_labels = records['card "declined" caf\xe9 \u2603']
    assert error["level"] == "ERROR"
    assert error_labels == {
        "job": "checkout",
        "host": "web-7",
        "level": "ERROR",
        "service": "checkout",
    }


# Loki: winston-loki (npm) -----------------------------------------------------------------
@pytest.mark.parametrize("mode", ["json", "protobuf"])
def test_winston_loki_pushes_json_and_snappy_protobuf(serve, mode):
    require(shutil.which("node"), "Node.js")
    require((NODE_DIR / "node_modules" / "winston-loki").is_dir(), "winston-loki (npm)")
    url, pipeline = serve()
    lines = [
        {"level": "info", "message": "order 1 paid", "meta": {"trace_id": "abc123"}},
        {"level": "error", "message": 'card "declined" caf\xe9 \u2603', "meta": {}},
    ]
    started = time.time_ns()
    pushed = subprocess.run(
        ["node", str(NODE_DIR / "winston_loki_push.js"), url, mode, json.dumps(lines)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert pushed.returncode == 0, pushed.stderr
    rows = tank_rows(pipeline)  # winston-loki exits once logradar has answered the push
    assert [(x["stream"], x["host"], x["message"]) for x in rows] == [
        ("checkout", "web-7", "order 1 paid"),
        ("checkout", "web-7", 'card "declined" caf\xe9 \u2603'),
    ]
    metadata = {"trace_id": "abc123"} if mode == "json" else {}  # protobuf: labels only
    assert [json.loads(x["labels"]) for x in rows] == [
        {"job": "checkout", "host": "web-7", "level": "info", **metadata},
        {"job": "checkout", "host": "web-7", "level": "error"},
    ]
    for row in rows:  # winston-loki stamps lines with Date.now(): milliseconds
        assert started - 10**9 < row["ts"] <= time.time_ns() and row["ts"] % 10**6 == 0
