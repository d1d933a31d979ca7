"""Read and write the results database: templates, window counts, anomalies and alerts.

One :class:`Store` per process, shared by threads: the engine thread writes, web handlers
read and the alert dispatcher updates the outbox. It holds one SQLAlchemy engine with a
connection pool; every method is one short transaction. SQLite runs in WAL mode with a busy
timeout so readers never block the writer; PostgreSQL is used through ``psycopg`` (3).

Writes are idempotent on natural keys, so replaying input after a crash changes nothing:
window counts upsert on ``(stream, window_start, template_id)``, anomalies are inserted once
per fingerprint and alerts once per ``(anomaly_id, channel)``. Times are int nanoseconds at
this API; the database keeps timezone-aware timestamps (see :mod:`logradar.store.schema`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from logradar.schema import Anomaly, Severity, now_ns
from logradar.store.schema import (
    ALL_TEMPLATES,
    alerts,
    anomalies,
    feedback,
    metadata,
    mutes,
    ns_to_datetime,
    templates,
    window_counts,
)

SQLITE_BUSY_TIMEOUT_MS = 10_000


@dataclass(frozen=True, slots=True)
class TemplateRow:
    """One learned template as stored in ``templates``."""

    id: int
    template: str
    parent_id: int | None
    first_seen_ns: int
    last_seen_ns: int
    count: int


@dataclass(frozen=True, slots=True)
class AlertRow:
    """A pending alert due for delivery, with its anomaly rebuilt from the database."""

    id: int
    anomaly_id: int
    channel: str
    attempts: int
    """Delivery attempts made so far."""
    anomaly: Anomaly


@dataclass(frozen=True, slots=True)
class MuteRow:
    """One mute: alerts for matching anomalies are suppressed until ``until_ns``."""

    id: int
    stream: str | None
    template_id: int | None
    until_ns: int
    reason: str | None
    created_ns: int

    def matches(self, anomaly: Anomaly, now_ns: int) -> bool:
        """True while active, for anomalies of its stream and template (None: any)."""
        return (
            now_ns < self.until_ns
            and (self.stream is None or self.stream == anomaly.stream)
            and (self.template_id is None or self.template_id == anomaly.template_id)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "stream": self.stream,
            "template_id": self.template_id,
            "until": _iso(self.until_ns),
            "reason": self.reason,
            "created_at": _iso(self.created_ns),
        }


def _iso(ns: int | None) -> str | None:
    return None if ns is None else ns_to_datetime(ns).isoformat().replace("+00:00", "Z")


class StoreUrlError(ValueError, RuntimeError):
    """A store URL logradar cannot use."""


class StoreUnavailable(RuntimeError):
    """The store's database cannot be reached or opened."""


def _create_engine(url: str) -> sa.Engine:
    try:
        u = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise StoreUrlError(
            "the store URL is not a URL: use sqlite:///path/to/file.db or "
            "postgresql+psycopg://user@host/db"
        ) from None
    if u.drivername in ("postgres", "postgresql"):  # Heroku/libpq style: use psycopg 3
        u = u.set(drivername="postgresql+psycopg")
    backend = u.get_backend_name()
    if backend == "postgresql":
        return sa.create_engine(u, pool_pre_ping=True)
    if backend != "sqlite":
        raise StoreUrlError(
            f"unsupported store URL {u.render_as_string(hide_password=True)!r}: "
            "use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db"
        )
    if not u.database or u.database == ":memory:" or u.database.startswith("file:"):
        raise StoreUrlError(
            f"store URL {url!r} must name a SQLite file (sqlite:///path/to/file.db): the "
            "store is shared by threads, which an in-memory database cannot do"
        )
    Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(u)

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


def _anomaly_values(a: Anomaly, created_ns: int) -> dict[str, Any]:
    return {
        "fingerprint": a.fingerprint,
        "detector": a.detector,
        "kind": a.kind,
        "stream": a.stream,
        "window_start": a.start,
        "window_end": a.end,
        "template_id": a.template_id,
        "template": a.template,
        "session": a.session,
        "expected": a.expected,
        "observed": a.observed,
        "score": a.score,
        "severity": str(a.severity),
        "severity_rank": int(a.severity),
        "examples": list(a.examples),
        "explanation": a.explanation,
        "created_at": created_ns,
    }


def _row_dict(r: sa.Row[Any]) -> dict[str, Any]:
    return {
        **_row_anomaly(r).to_dict(),
        "id": r.id,
        "created_at": _iso(r.created_at),
        "status": r.status,
    }


def _row_mute(r: sa.Row[Any]) -> MuteRow:
    return MuteRow(r.id, r.stream, r.template_id, r.until, r.reason, r.created_at)


def _row_anomaly(row: sa.Row[Any]) -> Anomaly:
    return Anomaly(
        detector=row.detector,
        kind=row.kind,
        stream=row.stream,
        start=row.window_start,
        end=row.window_end,
        score=row.score,
        severity=Severity(row.severity_rank),
        explanation=row.explanation,
        template_id=row.template_id,
        template=row.template,
        session=row.session,
        expected=row.expected,
        observed=row.observed,
        examples=list(row.examples),
    )


class Store:
    """The results database behind one SQLAlchemy URL; creates missing tables on open."""

    def __init__(self, url: str) -> None:
        self.engine = _create_engine(url)
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert
        try:
            metadata.create_all(self.engine)
        except sa.exc.OperationalError as e:
            where = self.engine.url.render_as_string(hide_password=True)
            cause = str(e.orig).strip().splitlines()[0] if e.orig else type(e).__name__
            raise StoreUnavailable(f"cannot open the store {where}: {cause}") from None

    # Templates and window counts ---------------------------------------------------------
    def upsert_templates(self, rows: Iterable[TemplateRow]) -> None:
        """Insert templates or update them by id (text, parent, ``last_seen`` and ``count``
        are overwritten; ``first_seen`` is kept)."""
        values = {
            r.id: {
                "id": r.id,
                "template": r.template,
                "parent_id": r.parent_id,
                "first_seen": r.first_seen_ns,
                "last_seen": r.last_seen_ns,
                "count": r.count,
            }
            for r in rows
        }
        if not values:
            return
        stmt = self._insert(templates)
        stmt = stmt.on_conflict_do_update(
            index_elements=[templates.c.id],
            set_={c: stmt.excluded[c] for c in ("template", "parent_id", "last_seen", "count")},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, list(values.values()))

    def add_window_counts(self, rows: Iterable[tuple[str, int, int, int, int]]) -> None:
        """Store ``(stream, start_ns, end_ns, template_id, count)`` rows; a row whose
        ``(stream, start_ns, template_id)`` exists replaces it (replays never double count).
        Use ``template_id`` :data:`~logradar.store.schema.ALL_TEMPLATES` for stream totals."""
        values = {
            (stream, start, tid): {
                "stream": stream,
                "window_start": start,
                "window_end": end,
                "template_id": tid,
                "count": count,
            }
            for stream, start, end, tid, count in rows
        }
        if not values:
            return
        stmt = self._insert(window_counts)
        stmt = stmt.on_conflict_do_update(
            index_elements=[
                window_counts.c.stream,
                window_counts.c.window_start,
                window_counts.c.template_id,
            ],
            set_={c: stmt.excluded[c] for c in ("window_end", "count")},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, list(values.values()))

    # Anomalies ---------------------------------------------------------------------------
    def add_anomalies(
        self, items: Iterable[Anomaly], *, unalerted: bool = False
    ) -> list[tuple[int, Anomaly]]:
        """Insert anomalies not stored yet (by fingerprint); return ``(id, anomaly)`` for the
        newly inserted ones only, in input order.

        ``unalerted=True`` also returns those already stored that are still ``open`` and have
        no alert queued: after a crash between storing an anomaly and queueing its alert, the
        replay that finds it again gets a second chance to alert on it.
        """
        unique: dict[str, Anomaly] = {}
        for a in items:
            unique.setdefault(a.fingerprint, a)
        if not unique:
            return []
        created = now_ns()
        stmt = (
            self._insert(anomalies)
            .on_conflict_do_nothing(index_elements=[anomalies.c.fingerprint])
            .returning(anomalies.c.id, anomalies.c.fingerprint)
        )
        with self.engine.begin() as conn:
            result = conn.execute(stmt, [_anomaly_values(a, created) for a in unique.values()])
            ids = {fp: id_ for id_, fp in result}
            stored = [fp for fp in unique if fp not in ids]
            if unalerted and stored:
                c = anomalies.c
                q = sa.select(c.id, c.fingerprint).where(
                    c.fingerprint.in_(stored),
                    c.status == "open",
                    ~sa.exists().where(alerts.c.anomaly_id == c.id),
                )
                ids.update({fp: id_ for id_, fp in conn.execute(q)})
        return [(ids[fp], a) for fp, a in unique.items() if fp in ids]

    def list_anomalies(
        self, *, stream: str | None = None, since_ns: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Newest anomalies first (by window end, then id), optionally of one stream and with
        a window ending at or after ``since_ns``. Each is :meth:`Anomaly.to_dict` plus
        ``id``, ``created_at`` (ISO-8601) and ``status``."""
        q = sa.select(anomalies).order_by(anomalies.c.window_end.desc(), anomalies.c.id.desc())
        if stream is not None:
            q = q.where(anomalies.c.stream == stream)
        if since_ns is not None:
            q = q.where(anomalies.c.window_end >= since_ns)
        with self.engine.connect() as conn:
            rows = conn.execute(q.limit(limit)).all()
        return [_row_dict(r) for r in rows]

    def volume(self, *, since_ns: int, stream: str | None = None) -> list[tuple[str, int, int]]:
        """``(stream, window_start_ns, lines)`` per window starting at or after ``since_ns``,
        ordered by stream then window start."""
        c = window_counts.c
        q = (
            sa.select(c.stream, c.window_start, c.count)
            .where(c.template_id == ALL_TEMPLATES, c.window_start >= since_ns)
            .order_by(c.stream, c.window_start)
        )
        if stream is not None:
            q = q.where(c.stream == stream)
        with self.engine.connect() as conn:
            return [(s, start, n) for s, start, n in conn.execute(q)]

    def streams(self) -> list[str]:
        """Every stream with window counts or anomalies, sorted."""
        q = sa.union(sa.select(window_counts.c.stream), sa.select(anomalies.c.stream))
        with self.engine.connect() as conn:
            return sorted(conn.execute(q).scalars())

    # Alerts (the durable outbox) ---------------------------------------------------------
    def add_alerts(self, anomaly_id: int, channels: Iterable[str], now_ns: int) -> list[int]:
        """Queue one pending alert per channel, due at ``now_ns``; return the new ids (an
        alert that already exists for this anomaly and channel is left as it is)."""
        rows = [
            {
                "anomaly_id": anomaly_id,
                "channel": ch,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now_ns,
                "created_at": now_ns,
            }
            for ch in dict.fromkeys(channels)
        ]
        if not rows:
            return []
        stmt = (
            self._insert(alerts)
            .on_conflict_do_nothing(index_elements=[alerts.c.anomaly_id, alerts.c.channel])
            .returning(alerts.c.id)
        )
        with self.engine.begin() as conn:
            return sorted(conn.execute(stmt, rows).scalars())

    def due_alerts(
        self, now_ns: int, *, channels: Collection[str] | None = None, limit: int = 100
    ) -> list[AlertRow]:
        """Pending alerts with ``next_attempt_at <= now_ns`` (oldest due first), optionally
        only for the named channels."""
        q = (
            sa.select(alerts.c.id.label("alert_id"), alerts.c.channel, alerts.c.attempts, anomalies)
            .join(anomalies, anomalies.c.id == alerts.c.anomaly_id)
            .where(alerts.c.status == "pending", alerts.c.next_attempt_at <= now_ns)
            .order_by(alerts.c.next_attempt_at, alerts.c.id)
            .limit(limit)
        )
        if channels is not None:
            q = q.where(alerts.c.channel.in_(list(channels)))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [AlertRow(r.alert_id, r.id, r.channel, r.attempts, _row_anomaly(r)) for r in rows]

    def mark_delivered(self, alert_id: int, now_ns: int) -> None:
        """Record a successful delivery."""
        self._update_alert(alert_id, status="delivered", delivered_at=now_ns, last_error=None)

    def mark_retry(self, alert_id: int, next_attempt_ns: int, error: str) -> None:
        """Record a failed attempt; the alert stays pending until ``next_attempt_ns``."""
        self._update_alert(alert_id, next_attempt_at=next_attempt_ns, last_error=error)

    def mark_failed(self, alert_id: int, error: str) -> None:
        """Record a failed last attempt; the alert is given up."""
        self._update_alert(alert_id, status="failed", last_error=error)

    def _update_alert(self, alert_id: int, **values: Any) -> None:
        stmt = (
            sa.update(alerts)
            .where(alerts.c.id == alert_id)
            .values(attempts=alerts.c.attempts + 1, **values)
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def list_alerts(self, limit: int = 100) -> list[dict[str, Any]]:
        """Newest alerts first, times as ISO-8601 strings."""
        q = sa.select(alerts).order_by(alerts.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        times = ("next_attempt_at", "created_at", "delivered_at")
        return [{k: _iso(v) if k in times else v for k, v in r._mapping.items()} for r in rows]

    # Feedback ----------------------------------------------------------------------------
    def get_anomaly(self, anomaly_id: int) -> dict[str, Any] | None:
        """One anomaly as :meth:`list_anomalies` shows it, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(anomalies).where(anomalies.c.id == anomaly_id)).first()
        return None if row is None else _row_dict(row)

    def mark_expected(self, anomaly_id: int, now_ns: int) -> dict[str, Any] | None:
        """Set the anomaly's status to ``expected`` and log it in ``feedback`` (once: marking
        an expected anomaly again changes nothing). Return the anomaly, or None if unknown."""
        with self.engine.begin() as conn:
            status = conn.execute(
                sa.select(anomalies.c.status).where(anomalies.c.id == anomaly_id)
            ).scalar()
            if status is None:
                return None
            if status != "expected":
                conn.execute(
                    sa.update(anomalies)
                    .where(anomalies.c.id == anomaly_id)
                    .values(status="expected")
                )
                conn.execute(
                    sa.insert(feedback).values(
                        anomaly_id=anomaly_id, action="expected", created_at=now_ns
                    )
                )
        return self.get_anomaly(anomaly_id)

    def baseline_open(self, detected_before_ns: int, now_ns: int) -> int:
        """Mark ``open`` anomalies detected before ``detected_before_ns`` as ``baselined`` and
        log each in ``feedback``; return how many."""
        c = anomalies.c
        with self.engine.begin() as conn:
            ids = list(
                conn.execute(
                    sa.select(c.id)
                    .where(c.status == "open", c.created_at < detected_before_ns)
                    .order_by(c.id)
                ).scalars()
            )
            if ids:
                conn.execute(sa.update(anomalies).where(c.id.in_(ids)).values(status="baselined"))
                conn.execute(
                    sa.insert(feedback),
                    [{"anomaly_id": i, "action": "baselined", "created_at": now_ns} for i in ids],
                )
        return len(ids)

    def pending_feedback(
        self, after_id: int, limit: int = 1000
    ) -> list[tuple[int, str, int, Anomaly]]:
        """Feedback logged after ``after_id``, oldest first: ``(feedback id, action,
        anomaly id, anomaly)``."""
        q = (
            sa.select(feedback.c.id.label("feedback_id"), feedback.c.action, anomalies)
            .join(anomalies, anomalies.c.id == feedback.c.anomaly_id)
            .where(feedback.c.id > after_id)
            .order_by(feedback.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [(r.feedback_id, r.action, r.id, _row_anomaly(r)) for r in rows]

    def set_anomaly_status(self, anomaly_ids: Collection[int], status: str) -> None:
        """Set the status of the given anomalies."""
        if not anomaly_ids:
            return
        stmt = sa.update(anomalies).where(anomalies.c.id.in_(list(anomaly_ids)))
        with self.engine.begin() as conn:
            conn.execute(stmt.values(status=status))

    def add_mute(
        self,
        *,
        stream: str | None,
        template_id: int | None,
        until_ns: int,
        reason: str | None,
        now_ns: int,
    ) -> MuteRow:
        """Create a mute and return it."""
        values = {
            "stream": stream,
            "template_id": template_id,
            "until": until_ns,
            "reason": reason,
            "created_at": now_ns,
        }
        with self.engine.begin() as conn:
            mute_id = conn.execute(sa.insert(mutes).values(values).returning(mutes.c.id)).scalar()
        return MuteRow(mute_id, stream, template_id, until_ns, reason, now_ns)

    def list_mutes(self, active_at_ns: int | None = None) -> list[MuteRow]:
        """Mutes newest first; only those still active at ``active_at_ns`` if given."""
        q = sa.select(mutes).order_by(mutes.c.id.desc())
        if active_at_ns is not None:
            q = q.where(mutes.c.until > active_at_ns)
        with self.engine.connect() as conn:
            return [_row_mute(r) for r in conn.execute(q)]

    def delete_mute(self, mute_id: int) -> bool:
        """Remove a mute; False if there was none with that id."""
        with self.engine.begin() as conn:
            return conn.execute(sa.delete(mutes).where(mutes.c.id == mute_id)).rowcount > 0

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
