"""OTLP/HTTP logs: the official OpenTelemetry SDK exporter against a real server, and OTLP/JSON."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from helpers import attr, free_port, otlp_json, running, tank_rows
from logradar.config import load_config
from logradar.server import build_server

T = 1_764_075_600_123_456_789


@pytest.fixture
def server(tmp_path) -> Iterator:
    """``logradar up``'s uvicorn server and pipeline, on a free port in this process."""
    settings = load_config(data_dir=tmp_path / "data", server={"port": free_port()})
    pipeline, uv = build_server(settings)
    with running(uv, stop_timeout=30):
        pipeline.url = f"http://127.0.0.1:{settings.server.port}"
        yield pipeline


def sdk_provider(url: str, resource: dict[str, str], **exporter_args) -> LoggerProvider:
    """The OpenTelemetry SDK, exporting each record at once with the OTLP/HTTP exporter."""
    provider = LoggerProvider(resource=Resource.create(resource))
    exporter = OTLPLogExporter(endpoint=url + "/v1/logs", timeout=10, **exporter_args)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    return provider


def test_sdk_exporter_protobuf_lands_with_stream_host_level_and_labels(server):
    resource = {"service.name": "checkout", "host.name": "node-1", "deployment.environment": "prod"}
    provider = sdk_provider(server.url, resource)
    logger = provider.get_logger("checkout.payments")
    logger.emit(
        timestamp=T,
        severity_number=SeverityNumber.WARN,
        body="payment retry for order 42",
        attributes={"order.id": 42, "region": "eu"},
    )
    logger.emit(timestamp=T + 1, severity_text="error", body={"event": "declined", "code": 5})
    provider.shutdown()
    rows = tank_rows(server)
    assert rows[0]["message"] == "payment retry for order 42"
    assert json.loads(rows[1]["message"]) == {"event": "declined", "code": 5}
    assert [x["ts"] for x in rows] == [T, T + 1]
    assert {x["stream"] for x in rows} == {"checkout"}
    assert {x["host"] for x in rows} == {"node-1"}
    first, second = (json.loads(x["labels"]) for x in rows)
    assert first["level"] == "WARN" and second["level"] == "error"
    assert first["order.id"] == "42" and first["region"] == "eu"
    assert first["deployment.environment"] == "prod"
    assert first["service.name"] == "checkout"
    assert first["otel.scope.name"] == "checkout.payments"


def test_sdk_exporter_gzip(server):
    provider = sdk_provider(server.url, {"service.name": "svc:gz"}, compression=Compression.Gzip)
    provider.get_logger("t").emit(body="zipped")
    provider.shutdown()
    rows = tank_rows(server)
    assert [(x["stream"], x["message"]) for x in rows] == [("svc_gz", "zipped")]


def test_handwritten_otlp_json(client):
    c, p = client
    resource = [
        attr("service.name", {"stringValue": "billing api"}),
        attr("host.name", {"stringValue": "h2"}),
    ]
    records = [
        {
            "timeUnixNano": str(T),
            "severityText": "Information",
            "severityNumber": 9,
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": "eee19b7ec3c1b174",
            "body": {"stringValue": "invoice sent"},
            "attributes": [
                attr("http.status_code", {"intValue": "200"}),
                attr("retry", {"boolValue": False}),
                attr("user", {"kvlistValue": {"values": [attr("id", {"stringValue": "u1"})]}}),
                attr("tags", {"arrayValue": {"values": [{"stringValue": "a"}]}}),
            ],
        },
        {
            "observedTimeUnixNano": str(T + 7),
            "severityNumber": 18,
            "body": {"kvlistValue": {"values": [attr("event", {"stringValue": "x"})]}},
        },
    ]
    r = c.post("/v1/logs", json=otlp_json(records, resource))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    json_format.Parse(r.text, logs_service_pb2.ExportLogsServiceResponse())
    rows = tank_rows(p)
    assert [x["stream"] for x in rows] == ["billing_api", "billing_api"]
    assert [x["ts"] for x in rows] == [T, T + 7]
    assert rows[0]["message"] == "invoice sent"
    assert json.loads(rows[1]["message"]) == {"event": "x"}
    first, second = (json.loads(x["labels"]) for x in rows)
    assert first["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert first["span_id"] == "eee19b7ec3c1b174"
    assert first["level"] == "Information" and second["level"] == "ERROR"
    assert first["http.status_code"] == "200" and first["retry"] == "false"
    assert first["user.id"] == "u1" and first["tags"] == '["a"]'
    assert first["otel.scope.name"] == "handwritten"
    assert {x["host"] for x in rows} == {"h2"}


def test_gzip_json_body(client):
    c, p = client
    body = json.dumps(otlp_json([{"body": {"stringValue": "gz"}}])).encode()
    r = c.post(
        "/v1/logs",
        content=gzip.compress(body),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 200, r.text
    rows = tank_rows(p)
    assert [(x["stream"], x["message"]) for x in rows] == [("otlp", "gz")]
    assert rows[0]["ts"] == rows[0]["ingest_ts"]  # no time given: arrival time


def test_invalid_utf8_in_protobuf_strings_is_kept(client):
    c, p = client
    request = logs_service_pb2.ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    record.body.string_value = "caf_ ok"
    body = request.SerializeToString().replace(b"caf_", b"caf\xe9")
    r = c.post("/v1/logs", content=body, headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 200, r.text
    logs_service_pb2.ExportLogsServiceResponse.FromString(r.content)
    assert [x["message"] for x in tank_rows(p)] == ["caf\ufffd ok"]


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/json", b"{oops", 400),
        ("application/json", b'{"resourceLogs": 5}', 400),
        ("application/json", json.dumps(otlp_json([{"traceId": "zz"}])).encode(), 400),
        ("application/json", json.dumps(otlp_json([{"timeUnixNano": "x"}])).encode(), 400),
        ("application/x-protobuf", b"\xff\xff\xff", 400),
        ("text/plain", b"hello", 415),
    ],
)
def test_bad_requests_get_a_status_message_and_nothing_is_kept(client, content_type, body, status):
    c, p = client
    r = c.post("/v1/logs", content=body, headers={"Content-Type": content_type})
    assert r.status_code == status
    if content_type == "application/x-protobuf":
        answer = status_pb2.Status.FromString(r.content)
    else:
        answer = json_format.Parse(r.text, status_pb2.Status())
    assert answer.code == 3 and answer.message
    if status == 415:
        assert "application/x-protobuf or application/json" in answer.message
    assert tank_rows(p) == []


def test_refusals_are_status_messages_in_the_request_encoding(make_client):
    tokens = {"tokens": [{"token": "s3cret-web", "tenant": "web-team", "streams": ["web*"]}]}
    c, p = make_client(server={"host": "0.0.0.0"}, auth=tokens)
    body = otlp_json(
        [{"body": {"stringValue": "x"}}], [attr("service.name", {"stringValue": "db"})]
    )
    r = c.post("/v1/logs", json=body)
    assert r.status_code == 401
    assert json_format.Parse(r.text, status_pb2.Status()).code == 16
    r = c.post("/v1/logs", json=body, headers={"Authorization": "Bearer s3cret-web"})
    assert r.status_code == 403
    assert json_format.Parse(r.text, status_pb2.Status()).code == 7
    assert tank_rows(p) == []

    c, p = make_client(backpressure={"min_free_disk_bytes": 10**18})
    request = json_format.ParseDict(body, logs_service_pb2.ExportLogsServiceRequest())
    r = c.post(
        "/v1/logs",
        content=request.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert status_pb2.Status.FromString(r.content).code == 14
    assert tank_rows(p) == []


def test_lone_surrogates_in_otlp_json_are_replaced(client):
    c, p = client
    body = json.dumps(
        otlp_json([{"body": {"stringValue": "b\ud800"}}], [attr("k", {"stringValue": "\udfff"})])
    )
    r = c.post("/v1/logs", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    (row,) = tank_rows(p)
    assert row["message"] == "b\ufffd"
    assert json.loads(row["labels"]) == {"k": "\ufffd", "otel.scope.name": "handwritten"}
