"""Context lines for an anomaly's examples, read from the Parquet archive.

For each example line, the lines of the same stream around it (``n`` before and after, in
arrival order, i.e. tank offset) from the window the anomaly was found in, widened by
``margin_ns`` each side, read through the archive's layout module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from logradar.archive.layout import HOUR_NS, open_dataset, record_filter

if TYPE_CHECKING:
    from logradar.config import ArchiveConfig

MAX_CONTEXT = 50
MAX_HOURS = 48
"""Longest span read (hour partitions); wider windows are cut at their end."""


def read_stream_lines(
    archive_url: str, cfg: ArchiveConfig, stream: str, since_ns: int, until_ns: int
) -> pa.Table:
    """``offset``, ``ts`` (int ns) and ``message`` of ``stream``'s archived lines with event
    time in ``[since_ns, until_ns)``, in offset order (empty if none are archived)."""
    since_ns = max(since_ns, (until_ns - 1) // HOUR_NS * HOUR_NS - (MAX_HOURS - 1) * HOUR_NS)
    table = open_dataset(archive_url, cfg).to_table(
        columns=["offset", "ts", "message"], filter=record_filter(since_ns, until_ns, stream)
    )
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
