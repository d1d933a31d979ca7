"""Search the archive: lines matching a substring or a regular expression, newest first.

Partition pruning first (pyarrow, through :mod:`logradar.archive.layout`: only the files of
the requested stream and hours are opened, and only the columns shown are read), then
DuckDB filters the messages and keeps the newest ``limit`` rows while streaming the
batches (chosen over a plain pyarrow scan by measurement: see BENCHMARKS.md, "Archive").
Regular expressions are RE2 (DuckDB's ``regexp_matches``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from logradar.archive import layout

COLUMNS = ["offset", "stream", "ts", "host", "labels", "message"]
MAX_LIMIT = 10_000


class SearchError(ValueError):
    """A query that cannot run (e.g. an invalid regular expression); the message says why."""


@dataclass(frozen=True, slots=True)
class SearchQuery:
    text: str | None = None
    regex: bool = False
    ignore_case: bool = False
    stream: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    limit: int = 100


def _match_sql(q: SearchQuery) -> tuple[str, list[Any]]:
    if not q.text:
        return "TRUE", []
    if q.regex:
        return "regexp_matches(message, ?, ?)", [q.text, "i" if q.ignore_case else "c"]
    if q.ignore_case:
        return "contains(lower(message), lower(?))", [q.text]
    return "contains(message, ?)", [q.text]


def search(dataset: ds.Dataset, q: SearchQuery) -> pa.Table:
    """The newest ``q.limit`` archived lines matching ``q`` (``COLUMNS``), newest first."""
    import duckdb

    expr = layout.record_filter(q.since_ns, q.until_ns, q.stream)
    records = dataset.scanner(columns=COLUMNS, filter=expr).to_reader()
    match, params = _match_sql(q)
    sql = (
        f'SELECT "offset", stream, ts, host, labels, message FROM records WHERE {match} '
        'ORDER BY ts DESC, "offset" DESC LIMIT ?'
    )
    con = duckdb.connect()
    try:
        con.execute("SET threads TO 2")
        con.register("records", records)
        return con.sql(sql, params=[*params, q.limit]).to_arrow_table()
    except duckdb.InvalidInputException as e:
        raise SearchError(str(e).splitlines()[0]) from None
    finally:
        con.close()


def rows(table: pa.Table) -> list[dict[str, Any]]:
    """Search results as JSON-ready dicts (``ts`` as ISO-8601 UTC with nanoseconds)."""
    from logradar.schema import TIMESTAMP

    ts = table.column("ts").cast(TIMESTAMP).cast(pa.int64()).to_pylist()
    out = []
    for ns, row in zip(ts, table.drop_columns(["ts"]).to_pylist(), strict=True):
        out.append({"ts": iso_ns(ns), **row})
    return out


def iso_ns(ns: int) -> str:
    import time

    seconds, frac = divmod(ns, 10**9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{frac:09d}Z"
