"""Context lines for an anomaly's examples, read from the Parquet archive.

For each example line, the lines of the same stream around it (``n`` before and after, in
arrival order, i.e. tank offset) from the window the anomaly was found in, widened by
``margin_ns`` each side. :func:`read_stream_lines` is the only code that knows the archive
layout (``stream=/date=/hour=`` hive partitions of :mod:`logradar.archive.parquet`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from logradar.archive.parquet import HOUR_NS, open_filesystem

MAX_CONTEXT = 50
MAX_HOURS = 48
"""Longest span read (hour partitions); wider windows are cut at their end."""
_PARTITIONS = ds.partitioning(
    pa.schema([("date", pa.string()), ("hour", pa.int32())]), flavor="hive"
)


def read_stream_lines(
    archive_url: str, s3_endpoint: str | None, stream: str, since_ns: int, until_ns: int
) -> pa.Table:
    """``offset``, ``ts`` (int ns) and ``message`` of ``stream``'s archived lines with event
    time in ``[since_ns, until_ns)``, in offset order (empty if none are archived)."""
    empty = pa.table(
        {
            "offset": pa.array([], pa.int64()),
            "ts": pa.array([], pa.int64()),
            "message": pa.array([], pa.string()),
        }
    )
    fs, root = open_filesystem(archive_url, s3_endpoint)
    base = f"{root}/stream={stream}"
    if fs.get_file_info(base).type != pafs.FileType.Directory:
        return empty
    first_hour = max(since_ns // HOUR_NS, (until_ns - 1) // HOUR_NS - MAX_HOURS + 1)
    hours = range(first_hour, (until_ns - 1) // HOUR_NS + 1)
    wanted = None
    for h in hours:
        when = datetime.fromtimestamp(h * 3600, UTC)
        part = (ds.field("date") == when.strftime("%Y-%m-%d")) & (ds.field("hour") == when.hour)
        wanted = part if wanted is None else wanted | part
    dataset = ds.dataset(base, filesystem=fs, format="parquet", partitioning=_PARTITIONS)
    ts = ds.field("ts").cast(pa.int64())
    table = dataset.to_table(
        columns=["offset", "ts", "message"],
        filter=wanted & (ts >= since_ns) & (ts < until_ns),
    )
    if table.num_rows == 0:
        return empty
    table = table.set_column(1, "ts", table.column("ts").cast(pa.int64()))
    return table.sort_by("offset")


def context_for_examples(
    lines: pa.Table, examples: list[str], window: tuple[int, int], n: int
) -> list[dict[str, Any]]:
    """Per example: ``{"example", "found", "lines": [{"offset", "ts", "message", "match"}]}``
    with up to ``n`` lines before and after the first archived occurrence in ``window``."""
    from logradar.web.api import iso

    messages = lines.column("message")
    ts = lines.column("ts").to_pylist()
    offsets = lines.column("offset").to_pylist()
    start, end = window
    in_window = [start <= t < end for t in ts]
    out = []
    for example in examples:
        hits = pc.indices_nonzero(pc.equal(messages, example)).to_pylist()
        hit = next((i for i in hits if in_window[i]), hits[0] if hits else None)
        if hit is None:
            out.append({"example": example, "found": False, "lines": []})
            continue
        span = range(max(0, hit - n), min(len(offsets), hit + n + 1))
        out.append(
            {
                "example": example,
                "found": True,
                "lines": [
                    {
                        "offset": offsets[i],
                        "ts": iso(ts[i]),
                        "message": messages[i].as_py(),
                        "match": i == hit,
                    }
                    for i in span
                ],
            }
        )
    return out
