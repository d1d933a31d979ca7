"""Everything the anomaly detail page and ``GET /api/v1/anomalies/{id}`` show, read in one go.

The anomaly and its incident, the template's lines per window around it (``BEFORE`` windows
before, ``AFTER`` after) with the baseline band, its examples with ``n`` context lines each
from the archive, and the template's earlier anomalies on the stream.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from logradar.store import ALL_TEMPLATES, reads
from logradar.web.api import iso
from logradar.web.band_chart import Baseline, baseline, build_band_chart
from logradar.web.context import context_for_examples, read_stream_lines

if TYPE_CHECKING:
    from logradar.pipeline import Pipeline

log = logging.getLogger("logradar.web")

BEFORE, AFTER = 30, 10
"""Windows shown before and after the anomaly's window."""
DEFAULT_CONTEXT = 5


def load_detail(pipeline: Pipeline, anomaly_id: int, n: int) -> dict[str, Any] | None:
    """The detail of an anomaly (blocking: run it in a thread), or None if there is none.

    ``context`` is a list per example (see :func:`.context.context_for_examples`); when the
    archive is off or unreadable it is empty and ``context_error`` says why.
    """
    store, settings = pipeline.store, pipeline.settings
    a = reads.get_anomaly(store, anomaly_id)
    if a is None:
        return None
    window_ns = int(settings.engine.window_seconds * 1e9)
    start, end = a["start_ns"], a["end_ns"]
    since = start - BEFORE * window_ns
    until = max(end, start + window_ns) + AFTER * window_ns
    tid = a["template_id"] if a["template_id"] is not None else ALL_TEMPLATES
    rows = reads.template_counts(store, a["stream"], tid, since, until)
    counts = {s: n_ for s, n_, _ in rows}
    before = [counts.get(s, 0) for s in range(since, start, window_ns)]
    band = baseline(before)
    incident = None
    if a["incident_id"] is not None:
        incident = reads.incidents_by_id(store, {a["incident_id"]}).get(a["incident_id"])
    context, context_error = _context(pipeline, a, window_ns, n)
    return {
        "anomaly": a,
        "incident": incident,
        "series": [{"start": iso(s), "count": c, "total": t} for s, c, t in rows],
        "series_of": "template" if tid != ALL_TEMPLATES else "stream",
        "baseline": band,
        "chart": build_band_chart(counts, since, until, window_ns, (start, end), band),
        "context": context,
        "context_error": context_error,
        "history": [
            h
            for h in reads.template_history(store, a["stream"], a["template_id"])
            if h["id"] != a["id"]
        ],
    }


def _context(
    pipeline: Pipeline, a: dict[str, Any], window_ns: int, n: int
) -> tuple[list[dict[str, Any]], str | None]:
    settings = pipeline.settings
    if not settings.archive.enabled:
        return [], "the archive is off ([archive] enabled = false)"
    try:
        lines = read_stream_lines(
            settings.archive_url,
            settings.archive,
            a["stream"],
            a["start_ns"] - window_ns,
            a["end_ns"] + window_ns,
        )
    except (OSError, ValueError) as e:
        log.warning("archive read for anomaly %s failed: %s", a["id"], e)
        return [], f"the archive could not be read: {e}"
    return context_for_examples(lines, list(a["examples"]), (a["start_ns"], a["end_ns"]), n), None


def detail_json(detail: dict[str, Any]) -> dict[str, Any]:
    """The JSON form: the anomaly's fields at the top level, plus the rest (not the chart
    layout, which is for the page)."""
    band: Baseline | None = detail["baseline"]
    return {
        **detail["anomaly"],
        "incident": detail["incident"],
        "series_of": detail["series_of"],
        "series": detail["series"],
        "baseline": None
        if band is None
        else {"mean": band.mean, "low": band.low, "high": band.high, "windows": band.windows},
        "context": detail["context"],
        "context_error": detail["context_error"],
        "history": detail["history"],
    }
