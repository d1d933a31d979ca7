"""Search latency over a large archive: ``logradar search``'s engine (pyarrow pruning +
DuckDB) against a plain pyarrow dataset scan, in the same run, on the same files.

The archive is written by the real writer (:class:`ParquetArchiver`'s file and manifest
path) from generated lines: ``--lines`` over ``--streams`` streams and ``--hours`` hours.
Queries: one stream and one hour, a substring, a case-insensitive substring and a regex.
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logradar.archive.layout import open_dataset, record_filter
from logradar.archive.parquet import ParquetArchiver
from logradar.archive.search import COLUMNS, SearchQuery, search
from logradar.schema import RECORD_SCHEMA
from logradar.tank import SqliteTank

HOUR_NS = 3600 * 10**9
T0 = 1_764_028_800_000_000_000  # 2025-11-25T00:00:00Z
WORDS = np.array(["GET", "POST", "INFO", "WARN", "ERROR", "timeout", "user", "db", "cache"])


def batch(first: int, n: int, streams: int, hours: int, rng: np.random.Generator) -> pa.Table:
    offsets = np.arange(first, first + n, dtype=np.int64)
    ts = T0 + (offsets * (hours * HOUR_NS // TOTAL[0])).astype(np.int64)
    words = rng.choice(WORDS, size=(n, 3))
    ids = rng.integers(0, 10**6, n)
    messages = [
        f"{a} /{b}/{c} id={i} took {i % 997}ms" for (a, b, c), i in zip(words, ids, strict=True)
    ]
    stream = pa.array([f"s{k}" for k in offsets % streams])
    tsa = pa.array(ts, pa.int64()).cast(RECORD_SCHEMA.field("ts").type)
    return pa.table(
        [
            pa.array(offsets),
            stream,
            tsa,
            tsa,
            pa.nulls(n, pa.string()),
            pa.nulls(n, pa.string()),
            pa.array(messages),
        ],
        schema=RECORD_SCHEMA,
    )


TOTAL = [0]


def build(root: Path, lines: int, streams: int, hours: int) -> float:
    TOTAL[0] = lines
    archiver = ParquetArchiver(SqliteTank(root.parent / "tank.db"), str(root))
    rng = np.random.default_rng(1)
    step = 500_000
    started = time.perf_counter()
    for first in range(0, lines, step):
        archiver._write(batch(first, min(step, lines - first), streams, hours, rng), archiver.state)
    return time.perf_counter() - started


def pyarrow_scan(dataset, q: SearchQuery) -> pa.Table:
    """The anchor: a plain dataset scan with the same pruning, then pyarrow compute."""
    table = dataset.to_table(
        columns=COLUMNS, filter=record_filter(q.since_ns, q.until_ns, q.stream)
    )
    message = table.column("message")
    if q.regex:
        mask = pc.match_substring_regex(message, q.text, ignore_case=q.ignore_case)
    else:
        mask = pc.match_substring(message, q.text, ignore_case=q.ignore_case)
    table = table.filter(mask).sort_by([("ts", "descending"), ("offset", "descending")])
    return table.slice(0, q.limit)


def timed(fn, *args, repeat: int = 3) -> tuple[float, pa.Table]:
    best, out = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - started)
    return best, out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lines", type=int, default=10_000_000)
    p.add_argument("--streams", type=int, default=4)
    p.add_argument("--hours", type=int, default=24)
    p.add_argument("--dir", type=Path, help="Keep the archive here (default: a temp dir).")
    args = p.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="archive-search-"))
    root = folder / "archive"
    build_seconds = build(root, args.lines, args.streams, args.hours) if not root.exists() else 0
    dataset = open_dataset(str(root))
    hour = T0 + 7 * HOUR_NS
    base = {"stream": "s1", "since_ns": hour, "until_ns": hour + HOUR_NS, "limit": 100}
    queries = {
        "substring": SearchQuery("ERROR /timeout", **base),
        "ignore_case": SearchQuery("error /TIMEOUT", ignore_case=True, **base),
        "regex": SearchQuery(r"took 99[0-9]ms", regex=True, **base),
        "all_hours_one_stream": SearchQuery("id=4242", stream="s1", limit=100),
    }
    results = {}
    for name, q in queries.items():
        duck_s, duck = timed(search, dataset, q)
        arrow_s, arrow = timed(pyarrow_scan, dataset, q)
        assert duck.column("offset").to_pylist() == arrow.column("offset").to_pylist(), name
        results[name] = {
            "duckdb_s": round(duck_s, 4),
            "pyarrow_s": round(arrow_s, 4),
            "pyarrow_over_duckdb": round(arrow_s / duck_s, 2),
            "rows": duck.num_rows,
        }
    files = len(dataset.files)
    summary = {"lines": args.lines, "files": files, "build_s": round(build_seconds, 1)}
    print(json.dumps({**summary, "queries": results}))


if __name__ == "__main__":
    main()
