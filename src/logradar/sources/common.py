"""What every HTTP receiver shares: bounded body reading, decoding, limits, durable ingest."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from logradar.schema import INGEST_SCHEMA

if TYPE_CHECKING:
    from logradar.pipeline import Pipeline

T = TypeVar("T")


class IngestError(Exception):
    """A request that cannot be accepted; ``status`` is the HTTP status to answer.

    ``retry_after`` (seconds) is set for temporary refusals (429/503 under backpressure).
    """

    def __init__(self, status: int, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        extra = {"Retry-After": str(self.retry_after)} if self.retry_after else {}
        if self.status == 401:
            extra["WWW-Authenticate"] = 'Bearer realm="logradar"'
        return extra


_INVALID_STREAM_CHARS = re.compile(r"[^A-Za-z0-9_.\-]+")


def stream_name_from(value: str, default: str) -> str:
    """``value`` made into a valid stream name (invalid runs become ``_``), else ``default``."""
    name = _INVALID_STREAM_CHARS.sub("_", value).lstrip(".-")
    name = re.sub(r"\.{2,}", ".", name)[:128]
    return name or default


def clean_text(value: str) -> str:
    """``value`` with lone surrogates (from JSON ``\\ud800`` escapes) replaced by U+FFFD."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def clean_json(value: Any) -> Any:
    """Decoded JSON with lone surrogates (``\\ud800`` escapes) in its strings replaced by
    U+FFFD, keys included."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(k): clean_json(v) for k, v in value.items()}
    return value


#: The label that tells how many labels a line had beyond ``server.max_labels``.
LABELS_DROPPED = "logradar_labels_dropped"


def check_label_count(count: int, limit: int, where: str) -> None:
    """Refuse (400) a line that would carry more than ``limit`` labels."""
    if count > limit:
        raise IngestError(
            400, f"{where} has {count} labels; the limit is {limit} (server.max_labels)"
        )


def cap_labels(labels: dict[str, str], limit: int) -> dict[str, str]:
    """``labels`` cut to ``limit`` for sources that cannot refuse: the first ``limit - 1``
    (in sorted order) and :data:`LABELS_DROPPED` with how many were left out."""
    if len(labels) <= limit:
        return labels
    kept = dict(sorted(labels.items())[: limit - 1])
    kept[LABELS_DROPPED] = str(len(labels) - len(kept))
    return kept


def concat(tables: list[pa.Table]) -> pa.Table:
    """One ingest batch from per-stream batches (empty when there are none)."""
    return pa.concat_tables(tables) if tables else INGEST_SCHEMA.empty_table()


def pipeline_of(request: Request) -> Pipeline:
    return request.app.state.pipeline


async def read_body(request: Request, limit: int) -> bytes:
    """Authenticate, then read the body, decompressed if gzip/deflate.

    401 without a valid token (before the body is read), 413 beyond ``limit`` bytes, compressed
    or not. The caller that ingests is then checked for the streams it writes.
    """
    request.state.principal = pipeline_of(request).auth.authenticate(request.headers)
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise IngestError(413, f"body of {declared} bytes exceeds the limit of {limit}")
        except ValueError:
            raise IngestError(400, "invalid Content-Length header") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise IngestError(413, f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "deflate"):
        return await off_loop(inflate, body, encoding, limit)
    raise IngestError(415, f"unsupported Content-Encoding {encoding!r}: use gzip or deflate")


#: Most gzip members one body may hold: each costs a fresh inflater, so this caps the work a
#: request can cause (shippers send one member, or a few when they append compressed chunks).
MAX_GZIP_MEMBERS = 10_000
#: Input handed to an inflater first; doubled while a member goes on, so each member costs
#: work in proportion to its own size, never to the rest of the body.
_FIRST_INPUT = 64


def inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """Every member of a gzip body (RFC 1952 allows several), or one zlib stream.

    Linear in the body: each member is fed from a view of the body in growing slices, so
    the remainder is never copied per member. 413 beyond ``limit`` bytes or
    :data:`MAX_GZIP_MEMBERS` members, 400 for invalid or truncated data.
    """
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    view = memoryview(body)
    parts: list[bytes] = []
    size = pos = members = 0
    while True:
        members += 1
        if members > MAX_GZIP_MEMBERS:
            raise IngestError(413, f"body has more than {MAX_GZIP_MEMBERS} gzip members")
        inflater = zlib.decompressobj(wbits)
        step = _FIRST_INPUT
        while not inflater.eof and pos < len(view):
            piece = view[pos : pos + step]
            pos += len(piece)
            step *= 2
            try:
                out = inflater.decompress(piece, limit + 1 - size)
            except zlib.error as e:
                raise IngestError(400, f"body is not valid {encoding}: {e}") from None
            size += len(out)
            if size > limit or inflater.unconsumed_tail:
                raise IngestError(413, f"decompressed body exceeds the limit of {limit} bytes")
            parts.append(out)
        if not inflater.eof:
            raise IngestError(400, f"body is truncated {encoding} data")
        pos -= len(inflater.unused_data)
        if pos >= len(view):
            return b"".join(parts)
        if encoding != "gzip":
            raise IngestError(400, f"body has data after the end of the {encoding} stream")


#: Threads that decompress and parse request bodies: CPU work stays off the event loop, and
#: away from the default pool that other handlers (``/healthz``) use, so they stay fast.
_PARSERS = anyio.CapacityLimiter(4)


async def off_loop(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a parser thread: decompression and parsing never block the
    event loop, and at most four bodies are worked on at once whatever the client count."""
    return await anyio.to_thread.run_sync(function, *args, limiter=_PARSERS)


def loads(text: str | bytes) -> Any:
    """Parse JSON with orjson (several times faster); what it refuses (lone surrogates,
    ``NaN``, invalid UTF-8 in bytes, nesting beyond 1,024) goes to the standard library's
    parser, whose result or error (``ValueError``, ``RecursionError``) is returned as before.

    One difference remains: an integer beyond 64 bits becomes a float.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(decode_text(text) if isinstance(text, bytes) else text)


def decode_text(body: bytes) -> str:
    """UTF-8 text; invalid bytes become U+FFFD rather than being dropped."""
    return body.decode("utf-8", errors="replace")


def text_array(values: list[str]) -> pa.Array:
    """Strings as a string array; lone surrogates (see :func:`clean_text`) become U+FFFD."""
    try:
        return pa.array(values, pa.string())
    except UnicodeEncodeError:
        return pa.array([clean_text(v) for v in values], pa.string())


def utf8_array(values: list[bytes]) -> pa.Array:
    """Raw lines as a string array; invalid UTF-8 becomes U+FFFD (see :func:`decode_text`)."""
    array = pa.array(values, pa.binary())
    try:
        return array.cast(pa.string())  # validates; the common case of valid UTF-8
    except pa.ArrowInvalid:
        return pa.array([decode_text(v) for v in values], pa.string())


def parse_ts(value: object, default_ns: int) -> int:
    """Event time in ns from an int/float epoch (s, ms, us or ns by magnitude) or ISO-8601.

    ``ValueError`` for anything else, or a time outside the int64 nanosecond range.
    """
    if value is None:
        return default_ns
    if isinstance(value, bool):
        raise ValueError("ts must be a number or an ISO-8601 string, not a boolean")
    if isinstance(value, int | float):
        v = abs(value)
        scale = 1 if v >= 1e17 else 1_000 if v >= 1e14 else 1_000_000 if v >= 1e11 else 1e9
        try:
            ns = int(value * scale)
        except OverflowError:
            raise ValueError("ts is out of range") from None
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"ts {value[:40]!r} is not ISO-8601") from None
        if dt.tzinfo is None:
            raise ValueError(f"ts {value[:40]!r} has no time zone")
        whole = int(dt.replace(microsecond=0).timestamp())
        ns = whole * 1_000_000_000 + dt.microsecond * 1_000
    else:
        raise ValueError("ts must be a number or an ISO-8601 string")
    if not -(2**63) <= ns < 2**63:
        raise ValueError("ts is out of range")
    return ns


async def ingest(request: Request, table: pa.Table, source: str) -> int:
    """Check the writer may use the table's streams, then append durably.

    The pipeline applies line limits and backpressure (429/503 as :class:`IngestError`).
    Returns the number of lines accepted.
    """
    pipeline = pipeline_of(request)
    principal = getattr(request.state, "principal", None)
    if principal is None:
        principal = pipeline.auth.authenticate(request.headers)
    streams = pc.unique(table.column("stream")).to_pylist() if table.num_rows else []
    pipeline.auth.authorize(principal, streams)
    try:
        return await run_in_threadpool(pipeline.ingest, table, source)
    except IngestError as e:
        pipeline.metrics.requests_rejected.labels(source, str(e.status)).inc()
        raise
