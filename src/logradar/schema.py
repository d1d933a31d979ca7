"""The shapes that flow through logradar: log record batches and anomalies.

A *record batch* is an Arrow table with :data:`RECORD_SCHEMA`. Sources build one per request
(without ``offset``; the tank assigns it), the tank stores it, and the archive and the engine
read it back. An :class:`Anomaly` is what a detector returns: self-contained and explained.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

TIMESTAMP = pa.timestamp("ns", tz="UTC")

#: Columns a source provides. ``labels`` is a JSON object encoded as a string (or null).
INGEST_SCHEMA = pa.schema(
    [
        pa.field("stream", pa.string(), nullable=False),
        pa.field("ts", TIMESTAMP, nullable=False),
        pa.field("ingest_ts", TIMESTAMP, nullable=False),
        pa.field("host", pa.string()),
        pa.field("labels", pa.string()),
        pa.field("message", pa.string(), nullable=False),
    ]
)

#: Columns after the tank: every record has a unique, increasing ``offset``.
RECORD_SCHEMA = pa.schema([pa.field("offset", pa.int64(), nullable=False), *INGEST_SCHEMA])

STREAM_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")


class InvalidStreamName(ValueError):
    """A stream name that could escape a path or object key."""


def validate_stream_name(name: str) -> str:
    """Return ``name`` if it is a safe stream name, else raise :class:`InvalidStreamName`.

    Stream names become directory names and object keys, so they are limited to letters,
    digits, ``_``, ``.`` and ``-``, at most 128 characters, not starting with ``.`` or ``-``.
    """
    if not STREAM_NAME.fullmatch(name) or ".." in name:
        raise InvalidStreamName(
            f"invalid stream name {name[:80]!r}: use 1-128 characters from [A-Za-z0-9_.-], "
            "starting with a letter, digit or '_', and no '..'"
        )
    return name


def now_ns() -> int:
    """Wall-clock time in nanoseconds since the epoch."""
    return int(datetime.now(UTC).timestamp() * 1e9)


def labels_json(labels: Mapping[str, str]) -> str | None:
    """A line's labels as the tank stores them: a JSON object, keys sorted (None if empty)."""
    if not labels:
        return None
    try:
        return orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:  # lone surrogates: json escapes them
        return json.dumps(labels, sort_keys=True)


def ingest_table(
    stream: str,
    messages: list[str] | pa.Array,
    ts_ns: list[int] | pa.Array | int,
    *,
    host: str | list[str | None] | None = None,
    labels: dict[str, str] | list[str | None] | None = None,
    ingest_ns: int | None = None,
) -> pa.Table:
    """Build an ingest batch for one stream from Python lists (the sources' common path).

    ``ts_ns``, ``host`` and ``labels`` are per line (lists) or one value for every line.
    """
    n = len(messages)
    ingest_ns = now_ns() if ingest_ns is None else ingest_ns
    if isinstance(labels, dict):
        labels = labels_json(labels)
    return pa.table(
        [
            _column(stream, pa.string(), n),
            _column(ts_ns, TIMESTAMP, n),
            _column(ingest_ns, TIMESTAMP, n),
            _column(host, pa.string(), n),
            _column(labels, pa.string(), n),
            pa.array(messages, pa.string()),
        ],
        schema=INGEST_SCHEMA,
    )


def _column(value: object, type_: pa.DataType, n: int) -> pa.Array:
    """A list or array as an array; a single value repeated ``n`` times."""
    if isinstance(value, pa.Array):
        return value.cast(type_)
    if isinstance(value, list):
        return pa.array(value, type_)
    return pa.repeat(pa.scalar(value, type_), n)


class Severity(enum.IntEnum):
    """Ordered severities; alert rules compare against a threshold."""

    INFO = 10
    LOW = 20
    MEDIUM = 30
    HIGH = 40
    CRITICAL = 50

    @classmethod
    def parse(cls, value: str | int | Severity) -> Severity:
        if isinstance(value, Severity):
            return value
        if isinstance(value, int):
            return cls(value)
        try:
            return cls[value.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {value!r}: use one of {names}") from None

    def lower(self) -> Severity:
        """One step less severe (used for anomalies found while a stream is still learning)."""
        return Severity(max(Severity.INFO, self - 10))

    def __str__(self) -> str:
        return self.name.lower()


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One detected anomaly with everything a human needs to judge it.

    ``start``/``end`` are the event-time window (ns since the epoch); ``score`` is 0..1
    (1 = most anomalous); ``examples`` are a few raw lines that show it.
    """

    detector: str
    kind: str
    stream: str
    start: int
    end: int
    score: float
    severity: Severity
    explanation: str
    template_id: int | None = None
    template: str | None = None
    session: str | None = None
    expected: float | None = None
    observed: float | None = None
    examples: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        """Identity of the anomaly: a replay of the same input yields the same fingerprint."""
        return "|".join(
            str(x)
            for x in (
                self.detector,
                self.kind,
                self.stream,
                self.template_id,
                self.session,
                self.start,
                self.end,
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: times as ISO-8601 strings, severity by name."""
        d = asdict(self)
        d["severity"] = str(self.severity)
        d["start"] = _iso(self.start)
        d["end"] = _iso(self.end)
        return d
