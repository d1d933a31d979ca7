"""Grafana Loki push API ``POST /loki/api/v1/push``, as Promtail, Alloy, Fluent Bit, Vector send.

- ``Content-Type: application/json``:
  ``{"streams": [{"stream": {labels}, "values": [["<unix ns>", "line", {metadata}?], ...]}]}``
- anything else (``application/x-protobuf``): a snappy block-compressed ``logproto.PushRequest``
  whose stream labels are a selector string such as ``{job="api", host="web-1"}``.

Stream labels, plus per-line structured metadata, become the line's ``labels``. The first of
``sources.loki.stream_labels`` present names the logradar stream (else
``sources.loki.default_stream``); ``host``/``hostname`` labels fill ``host``. Like Loki the
answer is 204 with no body, and errors are a plain-text reason. The whole push is validated
before anything is written.
"""

from __future__ import annotations

import json
import re
from typing import Any

import cramjam
import numpy as np
import pyarrow as pa
from google.protobuf.message import DecodeError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from logradar.config import LokiSourceConfig, Settings
from logradar.schema import ingest_table, labels_json, now_ns
from logradar.sources.common import (
    IngestError,
    check_label_count,
    clean_text,
    concat,
    decode_text,
    ingest,
    loads,
    off_loop,
    pipeline_of,
    read_body,
    stream_name_from,
    text_array,
    utf8_array,
)
from logradar.sources.proto.logproto import PushColumns, PushRequest

HOST_LABELS = ("host", "hostname", "host_name")
#: Times up to this many seconds (year 2262) cannot overflow int64 nanoseconds with any nanos.
MAX_FAST_SECONDS = 9_223_372_030
_LABEL_PAIR = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def parse_selector(text: str) -> dict[str, str]:
    """Labels from a Prometheus selector string: ``{job="api", host="web-1"}``."""
    inner = text.strip()
    if not (inner.startswith("{") and inner.endswith("}")):
        raise ValueError(f"labels {text[:80]!r} are not a '{{name=\"value\", ...}}' selector")
    inner = inner[1:-1].strip()
    labels: dict[str, str] = {}
    pos = 0
    while pos < len(inner):
        m = _LABEL_PAIR.match(inner, pos)
        if m is None:
            raise ValueError(f"cannot parse labels {text[:80]!r} at character {pos + 1}")
        try:
            value = json.loads(f'"{m.group(2)}"')
        except json.JSONDecodeError:
            value = m.group(2)
        labels[m.group(1)] = clean_text(value)
        pos = m.end()
    return labels


class _Push:
    """Collects the lines of one push, one batch per Loki stream."""

    def __init__(self, cfg: LokiSourceConfig, max_labels: int) -> None:
        self.cfg = cfg
        self.max_labels = max_labels
        self.default = stream_name_from(cfg.default_stream, "loki")
        self.received = now_ns()
        self.tables: list[pa.Table] = []

    def stream_of(self, labels: dict[str, str]) -> str:
        for name in self.cfg.stream_labels:
            if labels.get(name):
                return stream_name_from(labels[name], self.default)
        return self.default

    def add(
        self,
        labels: dict[str, str],
        messages: list[str] | pa.Array,
        ts: list[int] | pa.Array,
        metadata: list[dict[str, str] | None],
        where: str,
    ) -> None:
        if not len(messages):
            return
        check_label_count(len(labels), self.max_labels, where)
        line_labels: dict[str, str] | list[str | None] = labels
        if any(metadata):
            most = max(len(labels.keys() | meta.keys()) for meta in metadata if meta)
            check_label_count(most, self.max_labels, f"an entry of {where}")
            encoded = labels_json(labels)
            line_labels = [
                labels_json({**labels, **meta}) if meta else encoded for meta in metadata
            ]
        host = next((labels[k] for k in HOST_LABELS if labels.get(k)), None)
        self.tables.append(
            ingest_table(
                self.stream_of(labels),
                messages,
                ts,
                host=host,
                labels=line_labels,
                ingest_ns=self.received,
            )
        )


def _ns(value: Any, where: str) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
        ns = int(value)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        ns = value
    else:
        raise IngestError(400, f"{where}: timestamp must be a string of unix nanoseconds")
    if ns >= 2**63:
        raise IngestError(400, f"{where}: timestamp {value} is out of range")
    return ns


def _entry_error(entry: Any, at: str) -> IngestError:
    if not isinstance(entry, list) or len(entry) not in (2, 3):
        return IngestError(400, f"{at}: must be [timestamp, line] or [ts, line, metadata]")
    return IngestError(400, f"{at}: the log line must be a string")


def _string_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise IngestError(400, f"{where}: must be an object of string values")
    return {clean_text(k): clean_text(v) for k, v in value.items()}


def _from_json(body: bytes, push: _Push) -> None:
    try:
        doc = loads(body)
    except ValueError as e:  # JSONDecodeError, or an integer too long to convert
        raise IngestError(400, f"invalid JSON push: {e}") from None
    except RecursionError:
        raise IngestError(400, "invalid JSON push: nested too deeply") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("streams", []), list):
        raise IngestError(400, 'invalid JSON push: expected {"streams": [...]}')
    for i, stream in enumerate(doc.get("streams", [])):
        where = f"streams[{i}]"
        if not isinstance(stream, dict):
            raise IngestError(400, f"{where}: must be an object")
        labels = _string_map(stream.get("stream", {}), f"{where}.stream")
        values = stream.get("values", [])
        if not isinstance(values, list):
            raise IngestError(400, f"{where}.values: must be an array")
        messages: list[str] = []
        ts: list[int] = []
        metadata: list[dict[str, str] | None] = []
        for j, entry in enumerate(values):
            if not (isinstance(entry, list) and 2 <= len(entry) <= 3 and isinstance(entry[1], str)):
                raise _entry_error(entry, f"{where}.values[{j}]")
            stamp = entry[0]
            if (  # the common case inline; else the full check (and its error message)
                isinstance(stamp, str)
                and stamp.isascii()
                and stamp.isdigit()
                and len(stamp) < 20
                and (ns := int(stamp)) < 2**63
            ):
                ts.append(ns)
            else:
                ts.append(_ns(stamp, f"{where}.values[{j}]"))
            messages.append(entry[1])
            metadata.append(
                _string_map(entry[2], f"{where}.values[{j}][2]") if len(entry) == 3 else None
            )
        push.add(labels, text_array(messages), ts, metadata, where)


def _from_protobuf(body: bytes, push: _Push, limit: int) -> None:
    try:
        size = cramjam.snappy.decompress_raw_len(body)
    except cramjam.DecompressionError as e:
        raise IngestError(400, f"body is not snappy-compressed protobuf: {e}") from None
    if size > limit:
        raise IngestError(413, f"decompressed body exceeds the limit of {limit} bytes")
    try:
        raw = bytes(cramjam.snappy.decompress_raw(body))
        request = PushRequest.FromString(raw)
    except (cramjam.DecompressionError, DecodeError) as e:
        raise IngestError(400, f"invalid protobuf push: {e}") from None
    # canonical encoding (every field once, as protobuf writes it): the columns line up
    columns = PushColumns.FromString(raw).streams if request.ByteSize() == len(raw) else None
    for i, stream in enumerate(request.streams):
        try:
            labels = parse_selector(decode_text(stream.labels))
        except ValueError as e:
            raise IngestError(400, f"streams[{i}]: {e}") from None
        fast = None if columns is None else _entry_columns(columns[i], len(stream.entries))
        if fast is not None:
            push.add(labels, utf8_array(fast[0]), fast[1], [None] * len(fast[0]), f"streams[{i}]")
            continue
        ts: list[int] = []
        lines: list[bytes] = []
        metadata: list[dict[str, str] | None] = []
        for entry in stream.entries:  # one pass: each access builds Python objects
            stamp = entry.timestamp
            ts.append(stamp.seconds * 1_000_000_000 + stamp.nanos)
            lines.append(entry.line)
            pairs = entry.structuredMetadata
            metadata.append(
                {decode_text(p.name): decode_text(p.value) for p in pairs} if pairs else None
            )
        if ts and not (min(ts) >= 0 and max(ts) < 2**63):
            j = next(j for j, ns in enumerate(ts) if not 0 <= ns < 2**63)
            raise IngestError(400, f"streams[{i}].entries[{j}]: timestamp is out of range")
        push.add(labels, utf8_array(lines), ts, metadata, f"streams[{i}]")


def _entry_columns(stream: Any, entries: int) -> tuple[list[bytes], pa.Array] | None:
    """A stream's lines and times from its column view, or None when they may not line up
    with its entries (a field left at its default: an empty line, a time on the second), when
    entries carry metadata, or a time is out of range: the per-entry path handles those."""
    cols = stream.entries
    stamps = cols.timestamp
    if not (len(cols.line) == len(stamps.seconds) == len(stamps.nanos) == entries):
        return None
    if entries == 0 or len(cols.structuredMetadata):
        return None
    seconds = np.array(stamps.seconds, dtype=np.int64)
    if seconds.min() < 0 or seconds.max() > MAX_FAST_SECONDS:
        return None
    ts = seconds * 1_000_000_000 + np.array(stamps.nanos, dtype=np.int64)
    if ts.min() < 0:
        return None
    return list(cols.line), pa.array(ts)


def _body_table(body: bytes, content_type: str, settings: Settings, limit: int) -> pa.Table:
    """The lines of a push body (CPU work, run off the event loop)."""
    collected = _Push(settings.sources.loki, settings.server.max_labels)
    if content_type == "application/json":
        _from_json(body, collected)
    else:
        _from_protobuf(body, collected, limit)
    return concat(collected.tables)


async def push(request: Request) -> Response:
    try:
        pipeline = pipeline_of(request)
        limit = pipeline.settings.server.max_body_bytes
        if request.headers.get("content-encoding", "").strip().lower() == "snappy":
            request = _without_content_encoding(request)
        body = await read_body(request, limit)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        table = await off_loop(_body_table, body, content_type, pipeline.settings, limit)
        await ingest(request, table, "loki")
    except IngestError as e:
        return PlainTextResponse(clean_text(e.reason) + "\n", e.status, headers=e.headers)
    return Response(status_code=204)


def _without_content_encoding(request: Request) -> Request:
    """The same request minus ``Content-Encoding: snappy`` (protobuf pushes are always snappy)."""
    headers = [(k, v) for k, v in request.scope["headers"] if k.lower() != b"content-encoding"]
    return Request({**request.scope, "headers": headers}, request.receive)


routes = [Route("/loki/api/v1/push", push, methods=["POST"])]
