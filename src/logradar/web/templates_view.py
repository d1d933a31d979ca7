"""The templates view's rows: every template of a stream with its count in the time range,
first/last seen, a sparkline, its level (from its words), and whether it is muted or was
marked expected."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from logradar.schema import now_ns
from logradar.store import reads
from logradar.web.api import iso

if TYPE_CHECKING:
    from logradar.pipeline import Pipeline

SPARK_BINS = 24
SPARK_W, SPARK_H = 96, 20
MAX_TEMPLATES = 500
_LEVELS = [
    (
        "error",
        re.compile(r"(?i)\b(error|err|exception|fatal|fail(ed|ure)?|critical|panic|severe)\b"),
    ),
    ("warn", re.compile(r"(?i)\b(warn(ing)?|timeout|retry(ing)?|refused|denied)\b")),
    ("debug", re.compile(r"(?i)\b(debug|trace)\b")),
]


def template_level(text: str) -> str:
    """``error``, ``warn``, ``debug`` or ``info``, from the words of the template."""
    return next((name for name, pattern in _LEVELS if pattern.search(text)), "info")


def sparkline(values: list[int]) -> str:
    """SVG polyline points for ``values`` in a ``SPARK_W`` x ``SPARK_H`` box."""
    peak = max(values, default=0) or 1
    step = SPARK_W / max(len(values) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{SPARK_H - 1 - (SPARK_H - 2) * v / peak:.1f}" for i, v in enumerate(values)
    )


def load_templates(
    pipeline: Pipeline, stream: str, since_ns: int, until_ns: int
) -> list[dict[str, Any]]:
    """The rows (blocking: run it in a thread), most lines in the range first."""
    store = pipeline.store
    stats = reads.stream_templates(store, stream, since_ns, until_ns)[:MAX_TEMPLATES]
    # the trend spans the stream's data in the range, not the empty part before it
    first = min((t.first_seen_ns for t in stats), default=since_ns)
    spark_since = min(max(since_ns, first), until_ns - 1)
    series = reads.stream_template_series(
        store, stream, spark_since, until_ns, SPARK_BINS, [t.id for t in stats]
    )
    muted = set(reads.active_mutes(store, stream, now_ns()))
    return [
        {
            "id": t.id,
            "template": t.template,
            "count": t.count,
            "first_seen": iso(t.first_seen_ns),
            "last_seen": iso(t.last_seen_ns),
            "level": template_level(t.template),
            "anomalies": t.anomalies,
            "muted": None in muted or t.id in muted,
            "expected": t.expected,
            "series": series[t.id],
            "sparkline": sparkline(series[t.id]),
        }
        for t in stats
    ]
