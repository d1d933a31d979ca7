"""logradar's own ingest API: ``POST /api/v1/logs``.

- ``Content-Type: application/x-ndjson`` (or ``application/json``): one JSON object per line
  with at least ``message``; optional ``ts`` (epoch s/ms/us/ns or ISO-8601 with zone),
  ``stream`` (else the ``stream`` query parameter), ``host``, ``labels`` (string map).
- ``Content-Type: text/plain``: one log line per line; ``?stream=NAME`` (default ``default``)
  and optional ``?host=``.

The whole body is validated before anything is written: one bad line rejects the request
with 400 and the line number, so nothing is half-accepted.
"""

from __future__ import annotations

import json

import pyarrow as pa
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from logradar.schema import (
    INGEST_SCHEMA,
    TIMESTAMP,
    InvalidStreamName,
    ingest_table,
    labels_json,
    now_ns,
    validate_stream_name,
)
from logradar.sources.common import (
    IngestError,
    check_label_count,
    clean_json,
    clean_text,
    decode_text,
    ingest,
    loads,
    off_loop,
    parse_ts,
    pipeline_of,
    read_body,
)

DEFAULT_STREAM = "default"
JSON_TYPES = ("application/x-ndjson", "application/json", "application/jsonl")


def split_lines(text: str) -> list[str]:
    """Lines separated by ``\n`` (or ``\r\n``) only: form feeds, ``\x85``, ``\u2028`` and the
    like are content, not line breaks (``str.splitlines`` would cut lines there)."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _ndjson_table(text: str, default_stream: str, received_ns: int, max_labels: int) -> pa.Table:
    streams: list[str] = []
    ts: list[int] = []
    hosts: list[str | None] = []
    labels: list[str | None] = []
    messages: list[str] = []
    known_streams: set[str] = set()
    for lineno, line in enumerate(split_lines(text), start=1):
        if not line.strip():
            continue
        try:
            obj = loads(line)
        except json.JSONDecodeError as e:
            raise IngestError(400, f"line {lineno}: not valid JSON ({e.msg})") from None
        except (ValueError, RecursionError):  # a number too long, or nesting too deep
            raise IngestError(400, f"line {lineno}: JSON beyond the parser's limits") from None
        if not isinstance(obj, dict):
            raise IngestError(400, f"line {lineno}: expected a JSON object")
        message = obj.get("message")
        if not isinstance(message, str):
            raise IngestError(400, f"line {lineno}: 'message' (a string) is required")
        stream = obj.get("stream", default_stream)
        if not isinstance(stream, str):
            raise IngestError(400, f"line {lineno}: 'stream' must be a string")
        if stream not in known_streams:
            try:
                validate_stream_name(stream)
            except InvalidStreamName as e:
                raise IngestError(400, f"line {lineno}: {e}") from None
            known_streams.add(stream)
        host = obj.get("host")
        if host is not None and not isinstance(host, str):
            raise IngestError(400, f"line {lineno}: 'host' must be a string")
        line_labels = obj.get("labels")
        if line_labels is not None and not (
            isinstance(line_labels, dict) and all(isinstance(v, str) for v in line_labels.values())
        ):
            raise IngestError(400, f"line {lineno}: 'labels' must map strings to strings")
        check_label_count(len(line_labels or {}), max_labels, f"line {lineno}")
        try:
            ts.append(parse_ts(obj.get("ts"), received_ns))
        except ValueError as e:
            raise IngestError(400, f"line {lineno}: {e}") from None
        streams.append(stream)
        hosts.append(clean_text(host) if host is not None else None)
        labels.append(labels_json(clean_json(line_labels)) if line_labels else None)
        messages.append(clean_text(message))
    n = len(messages)
    return pa.table(
        [
            pa.array(streams, pa.string()),
            pa.array(ts, pa.int64()).cast(TIMESTAMP),
            pa.array([received_ns] * n, pa.int64()).cast(TIMESTAMP),
            pa.array(hosts, pa.string()),
            pa.array(labels, pa.string()),
            pa.array(messages, pa.string()),
        ],
        schema=INGEST_SCHEMA,
    )


def _body_table(
    body: bytes, content_type: str, stream: str, host: str | None, max_labels: int
) -> pa.Table:
    """The lines of a request body (CPU work, run off the event loop)."""
    text = decode_text(body)
    received = now_ns()
    if content_type in JSON_TYPES:
        return _ndjson_table(text, stream, received, max_labels)
    lines = [line for line in split_lines(text) if line.strip()]
    return ingest_table(stream, lines, received, host=host, ingest_ns=received)


async def post_logs(request: Request) -> JSONResponse:
    try:
        query_stream = request.query_params.get("stream", DEFAULT_STREAM)
        validate_stream_name(query_stream)
        server = pipeline_of(request).settings.server
        content_type = request.headers.get("content-type", "text/plain").split(";")[0].strip()
        if content_type not in (*JSON_TYPES, "text/plain"):
            raise IngestError(
                415,
                f"unsupported Content-Type {content_type!r}: "
                "use application/x-ndjson or text/plain",
            )
        body = await read_body(request, server.max_body_bytes)
        host = request.query_params.get("host")
        table = await off_loop(
            _body_table, body, content_type, query_stream, host, server.max_labels
        )
        accepted = await ingest(request, table, "api")
    except InvalidStreamName as e:
        return JSONResponse({"error": str(e)}, 400)
    except IngestError as e:
        return JSONResponse({"error": e.reason}, e.status, headers=e.headers)
    return JSONResponse({"accepted": accepted})


routes = [Route("/api/v1/logs", post_logs, methods=["POST"])]
