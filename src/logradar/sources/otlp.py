"""OpenTelemetry logs over OTLP/HTTP: ``POST /v1/logs``, protobuf or JSON.

- ``application/x-protobuf``: an ``ExportLogsServiceRequest``;
  ``application/json``: its OTLP/JSON encoding (camelCase names, hex trace/span ids,
  64-bit integers as strings).
- Each log record becomes a line: the message is the body (a string, else its JSON), the time
  ``timeUnixNano`` (else ``observedTimeUnixNano``, else arrival). The stream is the resource's
  ``service.name`` (made a valid stream name; default ``otlp``), the host its ``host.name``.
  Labels are the resource and record attributes, flattened to strings, plus ``level`` (from
  ``severityText`` or ``severityNumber``), ``otel.scope.name`` and trace/span ids.
- The answer is an ``ExportLogsServiceResponse``, errors a ``google.rpc.Status``, both in the
  request's encoding. The whole request is validated before anything is written.

Protobuf string fields are parsed as bytes, so invalid UTF-8 from a client is kept with
replacement characters instead of failing the whole request.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import pyarrow as pa
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from logradar.schema import ingest_table, labels_json, now_ns
from logradar.sources.common import (
    IngestError,
    check_label_count,
    clean_json,
    clean_text,
    concat,
    decode_text,
    ingest,
    loads,
    off_loop,
    pipeline_of,
    read_body,
    stream_name_from,
)

DEFAULT_STREAM = "otlp"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
SEVERITY_NAMES = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 413: 8, 415: 3, 429: 8, 503: 14}


def _lenient_request_class() -> type[Message]:
    """``ExportLogsServiceRequest`` with every string field read as bytes (same wire format)."""
    pool = descriptor_pool.DescriptorPool()
    for module in (common_pb2, resource_pb2, logs_pb2, logs_service_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        pending = list(proto.message_type)
        while pending:
            message = pending.pop()
            pending.extend(message.nested_type)
            for field in message.field:
                if field.type == descriptor_pb2.FieldDescriptorProto.TYPE_STRING:
                    field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
        pool.Add(proto)
    name = logs_service_pb2.ExportLogsServiceRequest.DESCRIPTOR.full_name
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


LenientRequest = _lenient_request_class()


def _text(value: str | bytes) -> str:
    return decode_text(value) if isinstance(value, bytes) else clean_text(value)


def any_value(v: Any) -> Any:
    """An OTLP ``AnyValue`` as a plain Python value (bytes as base64)."""
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return _text(v.string_value)
    if kind in ("bool_value", "int_value", "double_value"):
        return getattr(v, kind)
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {_text(kv.key): any_value(kv.value) for kv in v.kvlist_value.values}
    return None


def attributes(pairs: Any, prefix: str = "") -> dict[str, str]:
    """``KeyValue``s flattened to string labels (nested maps as dotted names)."""
    out: dict[str, str] = {}
    for kv in pairs:
        _flatten(prefix + _text(kv.key), any_value(kv.value), out)
    return out


def _flatten(name: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{name}.{key}", inner, out)
    elif isinstance(value, str):
        out[name] = value
    elif value is not None:
        out[name] = json.dumps(value, ensure_ascii=False)


def severity(record: Any) -> str | None:
    text = _text(record.severity_text)
    if text:
        return text
    number = record.severity_number
    return SEVERITY_NAMES[min((number - 1) // 4, 5)] if number > 0 else None


def _records_table(request: Any, max_labels: int) -> pa.Table:
    received = now_ns()
    tables: list[pa.Table] = []
    for r, resource_logs in enumerate(request.resource_logs):
        resource = attributes(resource_logs.resource.attributes)
        stream = stream_name_from(resource.get("service.name", ""), DEFAULT_STREAM)
        messages: list[str] = []
        times: list[int] = []
        labels: list[str | None] = []
        for s, scope_logs in enumerate(resource_logs.scope_logs):
            scope_name = _text(scope_logs.scope.name)
            for k, record in enumerate(scope_logs.log_records):
                ts = record.time_unix_nano or record.observed_time_unix_nano or received
                if ts >= 2**63:
                    raise IngestError(400, f"resourceLogs[{r}]: a timestamp is out of range")
                body = any_value(record.body) if record.HasField("body") else ""
                line = {**resource, **attributes(record.attributes)}
                extra = {
                    "level": severity(record),
                    "otel.scope.name": scope_name,
                    "trace_id": record.trace_id.hex(),
                    "span_id": record.span_id.hex(),
                }
                line.update((k, v) for k, v in extra.items() if v)
                where = f"resourceLogs[{r}].scopeLogs[{s}].logRecords[{k}]"
                check_label_count(len(line), max_labels, where)
                messages.append(
                    body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
                )
                times.append(ts)
                labels.append(labels_json(line))
        if messages:
            host = resource.get("host.name")
            tables.append(
                ingest_table(stream, messages, times, host=host, labels=labels, ingest_ns=received)
            )
    return concat(tables)


def _hex_ids_to_base64(doc: Any) -> None:
    """OTLP/JSON writes trace and span ids in hex where proto3 JSON expects base64."""
    if not isinstance(doc, dict):
        return
    for resource_logs in _list(doc.get("resourceLogs")):
        for scope_logs in _list(_get(resource_logs, "scopeLogs")):
            for record in _list(_get(scope_logs, "logRecords")):
                if not isinstance(record, dict):
                    continue
                for key in ("traceId", "spanId"):
                    value = record.get(key)
                    if isinstance(value, str):
                        try:
                            record[key] = base64.b64encode(bytes.fromhex(value)).decode()
                        except ValueError:
                            raise IngestError(400, f"{key} {value[:40]!r} is not hex") from None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _parse(body: bytes, content_type: str) -> Any:
    if content_type == PROTOBUF:
        try:
            return LenientRequest.FromString(body)
        except DecodeError as e:
            raise IngestError(400, f"invalid ExportLogsServiceRequest: {e}") from None
    try:
        doc = clean_json(loads(body))
    except ValueError as e:  # JSONDecodeError, or an integer too long to convert
        raise IngestError(400, f"invalid JSON: {e}") from None
    except RecursionError:
        raise IngestError(400, "invalid JSON: nested too deeply") from None
    _hex_ids_to_base64(doc)
    request = logs_service_pb2.ExportLogsServiceRequest()
    try:
        json_format.ParseDict(doc, request, ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error, ValueError, TypeError, RecursionError) as e:
        raise IngestError(400, f"invalid OTLP/JSON logs request: {e}") from None
    return request


def _answer(
    message: Message, content_type: str, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    if content_type == PROTOBUF:
        return Response(message.SerializeToString(), status, headers, media_type=PROTOBUF)
    body = json_format.MessageToJson(message, indent=None)
    return Response(body, status, headers, media_type=JSON)


def _body_table(body: bytes, content_type: str, max_labels: int) -> pa.Table:
    """The lines of a request body (CPU work, run off the event loop)."""
    return _records_table(_parse(body, content_type), max_labels)


async def export_logs(request: Request) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type not in (PROTOBUF, JSON):
            raise IngestError(
                415, f"unsupported Content-Type {content_type!r}: use {PROTOBUF} or {JSON}"
            )
        server = pipeline_of(request).settings.server
        body = await read_body(request, server.max_body_bytes)
        table = await off_loop(_body_table, body, content_type, server.max_labels)
        await ingest(request, table, "otlp")
    except IngestError as e:
        code = _GRPC_CODES.get(e.status, 2)
        status = status_pb2.Status(code=code, message=clean_text(e.reason))
        return _answer(status, content_type, e.status, e.headers)
    return _answer(logs_service_pb2.ExportLogsServiceResponse(), content_type)


routes = [Route("/v1/logs", export_logs, methods=["POST"])]
