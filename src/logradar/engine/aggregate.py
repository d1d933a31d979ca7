"""Aggregates of mapped lines that the reduce step consumes: stateless, vectorized.

The reduce step never needs single lines, only what these functions compute from a mapped
batch (template ids filled, sorted by event time): per (stream, window, template) counts, error
counts and example lines; per (stream, window, template, position) numeric statistics; per
session its events in order. The local engine computes them in-process; the Spark engine can
compute them where the lines are (on the executors) and send only the aggregates to the driver.

Window groups come in the order of their first line in the batch (that order decides which
example lines the reduce step keeps).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logradar.engine.numbers import numeric_tokens

#: :func:`window_groups` columns, in the order :meth:`DetectionCore.absorb_windows` reads them.
WINDOW_GROUP_COLUMNS = (
    "stream",
    "window",
    "template_id",
    "count",
    "errors",
    "ts_min",
    "ts_max",
    "first_line",
    "last_line",
)
#: :func:`param_groups` columns, in the order :meth:`DetectionCore.absorb_params` reads them.
PARAM_GROUP_COLUMNS = (
    "stream",
    "window",
    "template_id",
    "position",
    "count",
    "log_sum",
    "log2_sum",
    "value_max",
    "value_min",
    "max_line",
    "min_line",
)
#: :func:`session_groups` columns, in the order :meth:`DetectionCore.absorb_sessions` reads them.
SESSION_GROUP_COLUMNS = ("session", "events", "ts_min", "ts_max", "stream", "example")


def window_starts(ts: pa.ChunkedArray | pa.Array, window_ns: int) -> pa.ChunkedArray | pa.Array:
    """Start of each line's event-time window ``[k*W, (k+1)*W)``."""
    return pc.multiply(pc.divide(ts, window_ns), window_ns)  # integer division: floor, ts >= 0


def window_groups(mapped: pa.Table, window: pa.ChunkedArray | pa.Array) -> pa.Table:
    """Per (stream, window, template): lines, error lines, event-time range, and the first and
    last line (``last_line`` null when the group has one line)."""
    keyed = pa.table(
        {
            "stream": mapped.column("stream"),
            "window": window,
            "template_id": mapped.column("template_id"),
            "is_error": mapped.column("is_error").cast(pa.int64()),
            "ts": mapped.column("ts"),
            "row": pa.array(np.arange(mapped.num_rows, dtype=np.int64)),
        }
    )
    groups = keyed.group_by(["stream", "window", "template_id"], use_threads=False).aggregate(
        [
            ("row", "count"),
            ("is_error", "sum"),
            ("row", "min"),
            ("row", "max"),
            ("ts", "min"),
            ("ts", "max"),
        ]
    )
    groups = groups.sort_by([("row_min", "ascending")])
    raw = mapped.column("raw")
    row_min, row_max = groups.column("row_min"), groups.column("row_max")
    single = pc.equal(row_min, row_max)
    last_line = pc.if_else(single, pa.scalar(None, pa.string()), raw.take(row_max))
    return pa.table(
        {
            "stream": groups.column("stream"),
            "window": groups.column("window"),
            "template_id": groups.column("template_id"),
            "count": groups.column("row_count"),
            "errors": groups.column("is_error_sum"),
            "ts_min": groups.column("ts_min"),
            "ts_max": groups.column("ts_max"),
            "first_line": raw.take(row_min),
            "last_line": last_line,
        }
    )


def param_stride(lines: int, max_rows: int) -> int:
    """Every how many offsets a batch of ``lines`` lines samples parameters (0: no
    parameters, ``max_rows`` 0)."""
    return max(1, -(-lines // max_rows)) if max_rows else 0


def param_groups(mapped: pa.Table, window: pa.ChunkedArray | pa.Array, max_rows: int) -> pa.Table:
    """Numeric tokens per (stream, window, template, position): count, sums of the signed
    log1p of the values and of its square, extremes and the lines holding them.

    Above ``max_rows`` lines a deterministic sample is used: the lines whose offset is a
    multiple of :func:`param_stride` (the same lines wherever the batch is aggregated).
    """
    n = mapped.num_rows
    rows = np.arange(n)
    stride = param_stride(n, max_rows)
    if stride > 1:
        offsets = mapped.column("offset").to_numpy()
        rows = rows[offsets % stride == 0]
    messages = mapped.column("message")
    if len(rows) < n:
        messages = messages.take(pa.array(rows))
    numbers = numeric_tokens(messages)
    if len(numbers.value) == 0:
        return pa.table({c: pa.array([], pa.null()) for c in PARAM_GROUP_COLUMNS})
    value, position = numbers.value, numbers.position
    row = rows[numbers.row]
    take = pa.array(row)
    log_value = np.sign(value) * np.log1p(np.abs(value))
    keyed = pa.table(
        {
            "stream": pc.take(mapped.column("stream"), take),
            "window": pc.take(window, take),
            "template_id": pc.take(mapped.column("template_id"), take),
            "position": position,
            "value": value,
            "log": log_value,
            "log2": log_value * log_value,
            "row": row,
        }
    ).sort_by([("value", "descending")])
    groups = keyed.group_by(
        ["stream", "window", "template_id", "position"], use_threads=False
    ).aggregate(
        [
            ("log", "count"),
            ("log", "sum"),
            ("log2", "sum"),
            ("value", "max"),
            ("value", "min"),
            ("row", "first"),
            ("row", "last"),
        ]
    )
    raw = mapped.column("raw")
    return pa.table(
        {
            "stream": groups.column("stream"),
            "window": groups.column("window"),
            "template_id": groups.column("template_id"),
            "position": groups.column("position"),
            "count": groups.column("log_count"),
            "log_sum": groups.column("log_sum"),
            "log2_sum": groups.column("log2_sum"),
            "value_max": groups.column("value_max"),
            "value_min": groups.column("value_min"),
            "max_line": raw.take(groups.column("row_first")),
            "min_line": raw.take(groups.column("row_last")),
        }
    )


def session_groups(mapped: pa.Table) -> pa.Table:
    """Per session key: its template ids in line order, event-time range, stream and first
    line. Lines without a session key are left out."""
    with_key = mapped.filter(pc.is_valid(mapped.column("session")))
    grouped = with_key.group_by(["session"], use_threads=False).aggregate(
        [
            ("template_id", "list"),
            ("ts", "min"),
            ("ts", "max"),
            ("stream", "first"),
            ("raw", "first"),
        ]
    )
    return pa.table(
        {
            "session": grouped.column("session"),
            "events": grouped.column("template_id_list"),
            "ts_min": grouped.column("ts_min"),
            "ts_max": grouped.column("ts_max"),
            "stream": grouped.column("stream_first"),
            "example": grouped.column("raw_first"),
        }
    )
