"""Read queries behind the UI's incidents, anomaly detail and templates views.

Every function takes a :class:`~logradar.store.Store` and runs one short read; times are int
nanoseconds here too. Anomalies come back as :meth:`Store.list_anomalies` shows them, plus
``incident_id`` and the window as ``start_ns``/``end_ns``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from logradar.store.queries import Store, _row_dict, _row_incident
from logradar.store.schema import (
    ALL_TEMPLATES,
    anomalies,
    incidents,
    mutes,
    templates,
    window_counts,
)


def _anomaly(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        **_row_dict(row),
        "incident_id": row.incident_id,
        "start_ns": row.window_start,
        "end_ns": row.window_end,
    }


def find_anomalies(
    store: Store,
    *,
    since_ns: int,
    until_ns: int,
    stream: str | None = None,
    detector: str | None = None,
    min_rank: int = 0,
    limit: int = 5000,
) -> list[dict[str, Any]]:
    """Anomalies whose window starts in ``[since_ns, until_ns)``, newest first."""
    c = anomalies.c
    q = (
        sa.select(anomalies)
        .where(c.window_start >= since_ns, c.window_start < until_ns, c.severity_rank >= min_rank)
        .order_by(c.window_start.desc(), c.id.desc())
        .limit(limit)
    )
    if stream is not None:
        q = q.where(c.stream == stream)
    if detector is not None:
        q = q.where(c.detector == detector)
    with store.engine.connect() as conn:
        return [_anomaly(r) for r in conn.execute(q)]


def get_anomaly(store: Store, anomaly_id: int) -> dict[str, Any] | None:
    """One anomaly with its ``incident_id``, or None."""
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(anomalies).where(anomalies.c.id == anomaly_id)).first()
    return None if row is None else _anomaly(row)


def incidents_by_id(store: Store, ids: set[int]) -> dict[int, dict[str, Any]]:
    """The incidents with these ids, as :meth:`IncidentRow.to_dict`."""
    if not ids:
        return {}
    q = sa.select(incidents).where(incidents.c.id.in_(sorted(ids)))
    with store.engine.connect() as conn:
        return {r.id: _row_incident(r).to_dict() for r in conn.execute(q)}


def detectors(store: Store) -> list[str]:
    """Every detector that produced an anomaly, sorted."""
    with store.engine.connect() as conn:
        return sorted(conn.execute(sa.select(anomalies.c.detector).distinct()).scalars())


def data_span(store: Store) -> tuple[int, int] | None:
    """``(first, last)`` event time with stored counts or anomalies, or None when empty."""
    wc, an = window_counts.c, anomalies.c
    q = sa.select(sa.func.min(wc.window_start), sa.func.max(wc.window_end)).union_all(
        sa.select(sa.func.min(an.window_start), sa.func.max(an.window_end))
    )
    with store.engine.connect() as conn:
        rows = [(lo, hi) for lo, hi in conn.execute(q) if lo is not None]
    if not rows:
        return None
    return min(lo for lo, _ in rows), max(hi for _, hi in rows)


def template_counts(
    store: Store, stream: str, template_id: int, since_ns: int, until_ns: int
) -> list[tuple[int, int, int]]:
    """``(window_start, template lines, all lines)`` of ``stream`` per stored window in
    ``[since_ns, until_ns)``, oldest first (template lines 0 where none matched)."""
    c = window_counts.c
    q = (
        sa.select(
            c.window_start,
            sa.func.sum(sa.case((c.template_id == template_id, c.count), else_=0)),
            sa.func.sum(sa.case((c.template_id == ALL_TEMPLATES, c.count), else_=0)),
        )
        .where(
            c.stream == stream,
            c.template_id.in_([template_id, ALL_TEMPLATES]),
            c.window_start >= since_ns,
            c.window_start < until_ns,
        )
        .group_by(c.window_start)
        .order_by(c.window_start)
    )
    with store.engine.connect() as conn:
        return [(start, int(n), int(total)) for start, n, total in conn.execute(q)]


def template_history(
    store: Store, stream: str, template_id: int | None, limit: int = 20
) -> list[dict[str, Any]]:
    """The newest anomalies of the same stream and template (or, without a template, none)."""
    if template_id is None:
        return []
    c = anomalies.c
    q = (
        sa.select(anomalies)
        .where(c.stream == stream, c.template_id == template_id)
        .order_by(c.window_start.desc(), c.id.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [_anomaly(r) for r in conn.execute(q)]


@dataclass(frozen=True, slots=True)
class TemplateStats:
    """One template as seen in one stream over a time range."""

    id: int
    template: str
    count: int
    """Lines of the stream matching it in the range."""
    first_seen_ns: int
    last_seen_ns: int
    """First and last window of the stream with a line of it (over all time)."""
    anomalies: int
    expected: bool
    """An anomaly of it on this stream was marked expected."""


def stream_templates(
    store: Store, stream: str, since_ns: int, until_ns: int
) -> list[TemplateStats]:
    """Every template with lines in ``stream``, most lines in the range first."""
    wc, an = window_counts.c, anomalies.c
    in_range = sa.and_(wc.window_start >= since_ns, wc.window_start < until_ns)
    counts = (
        sa.select(
            wc.template_id.label("tid"),
            sa.func.sum(sa.case((in_range, wc.count), else_=0)).label("n"),
            sa.func.min(wc.window_start).label("first"),
            sa.func.max(wc.window_end).label("last"),
        )
        .where(wc.stream == stream, wc.template_id != ALL_TEMPLATES)
        .group_by(wc.template_id)
        .subquery()
    )
    marks = (
        sa.select(
            an.template_id.label("tid"),
            sa.func.count().label("anomalies"),
            sa.func.sum(sa.case((an.status == "expected", 1), else_=0)).label("expected"),
        )
        .where(an.stream == stream, an.template_id.is_not(None))
        .group_by(an.template_id)
        .subquery()
    )
    q = (
        sa.select(
            counts.c.tid,
            templates.c.template,
            counts.c.n,
            counts.c.first,
            counts.c.last,
            marks.c.anomalies,
            marks.c.expected,
        )
        .join(templates, templates.c.id == counts.c.tid)
        .outerjoin(marks, marks.c.tid == counts.c.tid)
        .order_by(counts.c.n.desc(), counts.c.tid)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    return [
        TemplateStats(
            id=r.tid,
            template=r.template,
            count=int(r.n),
            first_seen_ns=r.first,
            last_seen_ns=r.last,
            anomalies=int(r.anomalies or 0),
            expected=bool(r.expected),
        )
        for r in rows
    ]


def stream_template_series(
    store: Store, stream: str, since_ns: int, until_ns: int, bins: int, template_ids: list[int]
) -> dict[int, list[int]]:
    """Lines per template of ``stream`` in ``bins`` equal bins over ``[since_ns, until_ns)``."""
    if not template_ids:
        return {}
    c = window_counts.c
    q = sa.select(c.template_id, c.window_start, c.count).where(
        c.stream == stream,
        c.template_id.in_(template_ids),
        c.window_start >= since_ns,
        c.window_start < until_ns,
    )
    width = max(1, (until_ns - since_ns) // bins)
    series = {tid: [0] * bins for tid in template_ids}
    with store.engine.connect() as conn:
        for tid, start, n in conn.execute(q):
            series[tid][min(bins - 1, (start - since_ns) // width)] += n
    return series


def active_mutes(store: Store, stream: str, now_ns: int) -> list[int | None]:
    """Template ids muted on ``stream`` now (None: the whole stream is muted)."""
    c = mutes.c
    q = sa.select(c.template_id).where(
        c.until > now_ns, sa.or_(c.stream == stream, c.stream.is_(None))
    )
    with store.engine.connect() as conn:
        return list(conn.execute(q).scalars())
