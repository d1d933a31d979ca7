"""Elasticsearch bulk API, as Filebeat, Fluent Bit's ``es`` output and Vector's sink send.

- ``POST /_bulk`` and ``POST /{index}/_bulk``: NDJSON action lines (``index``/``create`` with
  optional ``_index``, ``_id``), each followed by its source document. The message is the
  document's ``message`` (else ``log``, else the whole document as JSON), the time its
  ``@timestamp``, the host ``host.name`` (or ``host``); the other fields, flattened, become
  labels. The index, made into a valid stream name, is the stream (``logs-app-default``
  stays as is).
- The answer has the bulk shape ``{"took", "errors", "items"}`` with a per-item status:
  a document that is not a JSON object, or ``delete``/``update`` actions, get a per-item 400
  while the other items are stored, exactly as Elasticsearch reports them. A malformed action
  line rejects the whole request (as in Elasticsearch) and nothing is stored.
- Version checks: ``GET /`` and ``HEAD /`` (for shippers; browsers and curl get the web UI),
  ``/_license``, ``/_xpack``, ``/_cluster/health``, and acknowledgements for Filebeat's
  index template and ILM policy setup (nothing is stored).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

from logradar.schema import ingest_table, labels_json, now_ns
from logradar.sources.common import (
    IngestError,
    clean_text,
    concat,
    decode_text,
    ingest,
    loads,
    off_loop,
    parse_ts,
    pipeline_of,
    read_body,
    stream_name_from,
)

VERSION = "8.11.0"
DEFAULT_STREAM = "elastic"
HEADERS = {"X-Elastic-Product": "Elasticsearch"}
_FRACTION = re.compile(r"[.,](\d+)")
_ERROR_TYPES = {
    401: "security_exception",
    403: "security_exception",
    429: "es_rejected_execution_exception",
    503: "cluster_block_exception",
}
_LICENSE = {
    "status": "active",
    "uid": "00000000-0000-0000-0000-000000000000",
    "type": "basic",
    "mode": "basic",
    "issue_date_in_millis": 0,
    "max_nodes": 1000,
    "issued_to": "logradar",
    "issuer": "elasticsearch",
    "start_date_in_millis": -1,
}


def es_answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status, headers={**HEADERS, **(headers or {})})


def es_error(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    """A whole-request error in Elasticsearch's shape."""
    kind = _ERROR_TYPES.get(status, "illegal_argument_exception")
    cause = {"type": kind, "reason": clean_text(reason)}
    return es_answer({"error": {"root_cause": [cause], **cause}, "status": status}, status, headers)


def flatten(doc: dict[str, Any], prefix: str = "", clean: bool = True) -> dict[str, str]:
    """Nested fields as dotted string labels; lists and other values as JSON.

    ``clean=False`` skips :func:`clean_text`, for documents whose JSON text has no ``\\u``
    escape (only escapes can make lone surrogates).
    """
    text = clean_text if clean else str
    out: dict[str, str] = {}
    for key, value in doc.items():
        name = prefix + text(str(key))
        if isinstance(value, dict):
            out.update(flatten(value, name + ".", clean))
        elif isinstance(value, str):
            out[name] = text(value)
        elif value is not None:
            out[name] = text(json.dumps(value, ensure_ascii=False))
    return out


def _event_ns(value: Any, default_ns: int) -> int:
    """``@timestamp`` as Elasticsearch reads it: ISO-8601 (UTC when unzoned) or epoch numbers."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
        value = int(value)
    if isinstance(value, str):
        fraction = _FRACTION.search(value)
        whole = value[: fraction.start()] + value[fraction.end() :] if fraction else value
        try:
            dt = datetime.fromisoformat(whole.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"failed to parse date field [{value[:40]}]") from None
        dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
        ns = int(dt.timestamp()) * 10**9  # exact: the fraction was cut off above
        if fraction:
            ns += int(fraction.group(1)[:9].ljust(9, "0"))
    else:
        ns = parse_ts(value, default_ns)
    if not -(2**63) <= ns < 2**63:
        raise ValueError("@timestamp is out of range")
    return ns


def _fields(source: str, default_ns: int) -> tuple[int, str, dict[str, str]]:
    """Event time, message and flattened labels of one source document."""
    try:
        doc = loads(source)
        if not isinstance(doc, dict):
            raise ValueError("failed to parse: the document is not a JSON object")
        ts = _event_ns(doc.get("@timestamp"), default_ns)
        key = "message" if "message" in doc else "log" if "log" in doc else None
        body = doc.get(key) if key else doc
        message = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
        clean = "\\u" in source
        fields = {k: v for k, v in doc.items() if k not in (key, "@timestamp")}
        labels = flatten(fields, clean=clean)
    except json.JSONDecodeError as e:
        raise ValueError(f"failed to parse: {e}") from None
    except RecursionError:
        raise ValueError("failed to parse: the document is nested too deeply") from None
    return ts, clean_text(message) if clean else message, labels


class _Bulk:
    """The items of one bulk request and the lines of those that are valid."""

    def __init__(self, path_index: str | None, max_labels: int) -> None:
        self.path_index = path_index
        self.max_labels = max_labels
        self.received = now_ns()
        self.items: list[dict[str, Any]] = []
        self.id_prefix = secrets.token_urlsafe(9)
        self.streams: dict[str, str] = {}
        self.rows: dict[str, tuple[list[str], list[int], list[str | None], list[str | None]]] = {}

    def fail(self, op: str, index: Any, doc_id: Any, status: int, kind: str, reason: str) -> None:
        error = {"type": kind, "reason": clean_text(reason)}
        index = clean_text(index) if isinstance(index, str) else None
        item = {"_index": index, "_id": doc_id, "status": status, "error": error}
        self.items.append({op: item})

    def add(self, op: str, meta: dict[str, Any], source: str) -> None:
        index = meta.get("_index", self.path_index)
        doc_id = meta.get("_id")
        if doc_id is None:
            doc_id = f"{self.id_prefix}{len(self.items):08x}"
        else:
            doc_id = clean_text(str(doc_id))
        if not isinstance(index, str) or not index:
            kind = "action_request_validation_exception"
            self.fail(op, index, doc_id, 400, kind, "index is missing")
            return
        index = clean_text(index)
        if op not in ("index", "create"):
            reason = f"logradar accepts only index and create actions, not {op}"
            self.fail(op, index, doc_id, 400, "illegal_argument_exception", reason)
            return
        try:
            ts, message, labels = _fields(source, self.received)
        except ValueError as e:
            self.fail(op, index, doc_id, 400, "mapper_parsing_exception", str(e))
            return
        labels["_index"] = index
        if len(labels) > self.max_labels:
            reason = (
                f"Limit of total fields [{self.max_labels}] has been exceeded: the document has "
                f"{len(labels)} (server.max_labels)"
            )
            self.fail(op, index, doc_id, 400, "illegal_argument_exception", reason)
            return
        host = labels.get("host.name") or labels.get("host")
        stream = self.streams.get(index) or self.streams.setdefault(
            index, stream_name_from(index, DEFAULT_STREAM)
        )
        messages, times, hosts, label_col = self.rows.setdefault(stream, ([], [], [], []))
        messages.append(message)
        times.append(ts)
        hosts.append(host)
        label_col.append(labels_json(labels))
        result = {"_index": index, "_id": doc_id, "_version": 1, "result": "created"}
        self.items.append({op: {**result, "status": 201}})

    def table(self) -> pa.Table:
        return concat(
            [
                ingest_table(s, m, t, host=h, labels=lab, ingest_ns=self.received)
                for s, (m, t, h, lab) in self.rows.items()
            ]
        )


def _action(line: str, number: int) -> tuple[str, dict[str, Any]]:
    """The operation and metadata of an action line (400 for the whole request if malformed)."""
    try:
        action = loads(line)
    except (ValueError, RecursionError):
        raise IngestError(
            400, f"Malformed action/metadata line [{number}], expected START_OBJECT"
        ) from None
    if not (isinstance(action, dict) and len(action) == 1):
        raise IngestError(
            400, f"Malformed action/metadata line [{number}], expected one action object"
        )
    op, meta = next(iter(action.items()))
    if op not in ("index", "create", "update", "delete") or not isinstance(meta, dict):
        raise IngestError(
            400,
            f"Malformed action/metadata line [{number}], expected field [create], "
            f"[delete], [index] or [update] with an object",
        )
    return op, meta


def _parse_bulk(text: str, path_index: str | None, max_labels: int) -> _Bulk:
    bulk = _Bulk(path_index, max_labels)
    lines = text.split("\n")
    actions: dict[str, tuple[str, dict[str, Any]]] = {}  # shippers repeat the same few
    i = 0
    while i < len(lines):
        number = i + 1
        line = lines[i].strip()
        i += 1
        if not line:
            continue
        if line not in actions:
            actions[line] = _action(line, number)
        op, meta = actions[line]
        if op == "delete":
            bulk.add(op, meta, "")
            continue
        if i >= len(lines) or not lines[i].strip():
            raise IngestError(400, f"action on line [{number}] has no source document")
        bulk.add(op, meta, lines[i])
        i += 1
    if not bulk.items:
        raise IngestError(400, "Validation Failed: 1: no requests added;")
    return bulk


def _bulk_table(body: bytes, path_index: str | None, max_labels: int) -> tuple[_Bulk, pa.Table]:
    """The parsed request and its lines (CPU work, run off the event loop)."""
    bulk = _parse_bulk(decode_text(body), path_index, max_labels)
    return bulk, bulk.table()


async def post_bulk(request: Request) -> Response:
    started = time.monotonic()
    try:
        server = pipeline_of(request).settings.server
        body = await read_body(request, server.max_body_bytes)
        index = request.path_params.get("index")
        bulk, table = await off_loop(_bulk_table, body, index, server.max_labels)
        await ingest(request, table, "elastic")
    except IngestError as e:
        return es_error(e.status, e.reason, e.headers)
    took = int((time.monotonic() - started) * 1000)
    errors = any("error" in next(iter(item.values())) for item in bulk.items)
    return es_answer({"took": took, "errors": errors, "items": bulk.items})


async def info(request: Request) -> Response:
    if request.method == "HEAD":
        return Response(headers=HEADERS)
    return es_answer(
        {
            "name": "logradar",
            "cluster_name": "logradar",
            "cluster_uuid": "logradar",
            "version": {
                "number": VERSION,
                "build_flavor": "default",
                "build_type": "logradar",
                "build_snapshot": False,
                "lucene_version": "9.8.0",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0",
            },
            "tagline": "You Know, for Search",
        }
    )


async def license_info(request: Request) -> Response:
    return es_answer({"license": _LICENSE})


async def xpack(request: Request) -> Response:
    license_ = {k: _LICENSE[k] for k in ("uid", "type", "mode", "status")}
    return es_answer({"build": {"hash": "logradar"}, "license": license_, "features": {}})


async def cluster_health(request: Request) -> Response:
    return es_answer({"cluster_name": "logradar", "status": "green", "timed_out": False})


async def setup_ack(request: Request) -> Response:
    """Filebeat's template/ILM setup: report it present and accepted; nothing is stored."""
    if request.method == "HEAD":
        return Response(headers=HEADERS)
    if request.method == "PUT":
        return es_answer({"acknowledged": True})
    return es_answer({request.path_params["name"]: {}})


_SHIPPER_AGENTS = re.compile(rb"(?i)beat|elastic|vector|fluent|logstash|go-http-client")


def is_es_client(scope: Scope) -> bool:
    """Whether a request to ``/`` comes from an Elasticsearch client rather than a person.

    Clients ask for JSON, send no ``Accept`` at all, or name themselves in ``User-Agent``
    (Filebeat, Vector, Fluent Bit, Logstash, Go clients); browsers and curl (``*/*``) get the UI.
    """
    headers = dict(scope.get("headers", []))
    accept = headers.get(b"accept", b"").lower()
    if b"text/html" in accept:
        return False
    if not accept or b"json" in accept:
        return True
    return _SHIPPER_AGENTS.search(headers.get(b"user-agent", b"")) is not None


class ClientRoute(Route):
    """A route that steps aside unless :func:`is_es_client`, so ``/`` stays the web UI."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE and not is_es_client(scope):
            return Match.NONE, {}
        return match, child


routes = [
    ClientRoute("/", info, methods=["GET", "HEAD"]),
    Route("/_bulk", post_bulk, methods=["POST", "PUT"]),
    Route("/{index}/_bulk", post_bulk, methods=["POST", "PUT"]),
    Route("/_license", license_info, methods=["GET"]),
    Route("/_xpack", xpack, methods=["GET"]),
    Route("/_cluster/health", cluster_health, methods=["GET"]),
    Route("/_index_template/{name}", setup_ack, methods=["GET", "HEAD", "PUT"]),
    Route("/_ilm/policy/{name}", setup_ack, methods=["GET", "HEAD", "PUT"]),
]
