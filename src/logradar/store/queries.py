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
from logradar.store import migrate
from logradar.store.schema import (
    ALL_TEMPLATES,
    alerts,
    anomalies,
    feedback,
    incidents,
    mutes,
    notifications,
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


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """One incident as stored in ``incidents`` (see :mod:`logradar.store.schema`)."""

    id: int
    group_key: str
    stream: str
    detector: str
    kind: str
    template_id: int | None
    template: str | None
    severity: Severity
    status: str
    first_seen_ns: int
    last_seen_ns: int
    anomaly_count: int
    resolved_ns: int | None
    summary: str
    explanation: str
    examples: list[str]
    flaps: int
    suppressed: str | None
    notifications: int
    last_notified_ns: int | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: times as ISO-8601 strings, severity by name."""
        return {
            "id": self.id,
            "group_key": self.group_key,
            "stream": self.stream,
            "detector": self.detector,
            "kind": self.kind,
            "template_id": self.template_id,
            "template": self.template,
            "severity": str(self.severity),
            "status": self.status,
            "first_seen": _iso(self.first_seen_ns),
            "last_seen": _iso(self.last_seen_ns),
            "anomaly_count": self.anomaly_count,
            "resolved_at": _iso(self.resolved_ns),
            "summary": self.summary,
            "explanation": self.explanation,
            "examples": list(self.examples),
            "flaps": self.flaps,
            "suppressed": self.suppressed,
            "notifications": self.notifications,
            "last_notified_at": _iso(self.last_notified_ns),
        }


INCIDENT_FIELDS = {
    "group_key": "group_key",
    "stream": "stream",
    "detector": "detector",
    "kind": "kind",
    "template_id": "template_id",
    "template": "template",
    "status": "status",
    "first_seen_ns": "first_seen",
    "last_seen_ns": "last_seen",
    "anomaly_count": "anomaly_count",
    "resolved_ns": "resolved_at",
    "summary": "summary",
    "explanation": "explanation",
    "examples": "examples",
    "flaps": "flaps",
    "suppressed": "suppressed",
    "notifications": "notifications",
    "last_notified_ns": "last_notified_at",
}
"""IncidentRow attribute -> ``incidents`` column (``severity`` is written as two columns)."""


def _incident_values(**fields: Any) -> dict[str, Any]:
    values = {INCIDENT_FIELDS[k]: v for k, v in fields.items() if k != "severity"}
    if "severity" in fields:
        severity = Severity.parse(fields["severity"])
        values["severity"] = str(severity)
        values["severity_rank"] = int(severity)
    return values


def _row_incident(r: sa.Row[Any]) -> IncidentRow:
    return IncidentRow(
        id=r.id,
        group_key=r.group_key,
        stream=r.stream,
        detector=r.detector,
        kind=r.kind,
        template_id=r.template_id,
        template=r.template,
        severity=Severity(r.severity_rank),
        status=r.status,
        first_seen_ns=r.first_seen,
        last_seen_ns=r.last_seen,
        anomaly_count=r.anomaly_count,
        resolved_ns=r.resolved_at,
        summary=r.summary,
        explanation=r.explanation,
        examples=list(r.examples),
        flaps=r.flaps,
        suppressed=r.suppressed,
        notifications=r.notifications,
        last_notified_ns=r.last_notified_at,
    )


@dataclass(frozen=True, slots=True)
class NotificationRow:
    """A pending incident notification due for delivery to one receiver."""

    id: int
    incident_id: int
    receiver: str
    event: str
    seq: int
    attempts: int
    """Delivery attempts made so far."""
    payload: dict[str, Any]


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
        "incident_id": r.incident_id,
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
    """The results database behind one SQLAlchemy URL; migrates its schema to the newest
    revision on open (:mod:`logradar.store.migrate`)."""

    def __init__(self, url: str) -> None:
        self.engine = _create_engine(url)
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert
        try:
            migrate.upgrade(self.engine)
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

        ``unalerted=True`` also returns those already stored that are still ``open``, joined
        no incident and have no (legacy) alert queued: after a crash between storing an
        anomaly and alerting on it, the replay that finds it again gets a second chance.
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
                    c.incident_id.is_(None),
                    ~sa.exists().where(alerts.c.anomaly_id == c.id),
                )
                ids.update({fp: id_ for id_, fp in conn.execute(q)})
        return [(ids[fp], a) for fp, a in unique.items() if fp in ids]

    def list_anomalies(
        self,
        *,
        stream: str | None = None,
        since_ns: int | None = None,
        limit: int = 100,
        until_ns: int | None = None,
        min_severity: Severity | str | None = None,
        detector: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest anomalies first (by window end, then id), optionally of one stream, with a
        window ending at or after ``since_ns`` and starting before ``until_ns``, at or above
        ``min_severity``, of one ``detector``. Each is :meth:`Anomaly.to_dict` plus ``id``,
        ``created_at`` (ISO-8601) and ``status``."""
        q = sa.select(anomalies).order_by(anomalies.c.window_end.desc(), anomalies.c.id.desc())
        if stream is not None:
            q = q.where(anomalies.c.stream == stream)
        if since_ns is not None:
            q = q.where(anomalies.c.window_end >= since_ns)
        if until_ns is not None:
            q = q.where(anomalies.c.window_start < until_ns)
        if min_severity is not None:
            q = q.where(anomalies.c.severity_rank >= int(Severity.parse(min_severity)))
        if detector is not None:
            q = q.where(anomalies.c.detector == detector)
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

    def pending_deliveries(self) -> dict[str, int]:
        """Deliveries waiting, per outbox: ``alerts`` and ``notifications`` (incidents)."""
        q = sa.select(
            sa.select(sa.func.count()).where(alerts.c.status == "pending").scalar_subquery(),
            sa.select(sa.func.count()).where(notifications.c.status == "pending").scalar_subquery(),
        )
        with self.engine.connect() as conn:
            n_alerts, n_notifications = conn.execute(q).one()
        return {"alerts": n_alerts, "notifications": n_notifications}

    def list_alerts(self, limit: int = 100) -> list[dict[str, Any]]:
        """Newest alerts first, times as ISO-8601 strings."""
        q = sa.select(alerts).order_by(alerts.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        times = ("next_attempt_at", "created_at", "delivered_at")
        return [{k: _iso(v) if k in times else v for k, v in r._mapping.items()} for r in rows]

    # Incidents -------------------------------------------------------------------------
    def add_incident(self, *, severity: Severity | str, now_ns: int, **fields: Any) -> int:
        """Insert an incident (``fields`` named as :class:`IncidentRow` attributes, without
        ``id``); return its id."""
        values = _incident_values(severity=severity, **fields)
        values.setdefault("examples", [])
        values["updated_at"] = now_ns
        with self.engine.begin() as conn:
            stmt = sa.insert(incidents).values(values).returning(incidents.c.id)
            return int(conn.execute(stmt).scalar_one())

    def update_incident(self, incident_id: int, *, now_ns: int, **fields: Any) -> None:
        """Set the given fields (named as :class:`IncidentRow` attributes) of an incident."""
        values = _incident_values(**fields)
        values["updated_at"] = now_ns
        with self.engine.begin() as conn:
            conn.execute(sa.update(incidents).where(incidents.c.id == incident_id).values(values))

    def link_anomalies(self, incident_id: int, anomaly_ids: Collection[int]) -> None:
        """Point the given anomalies at ``incident_id`` (``anomalies.incident_id``)."""
        if not anomaly_ids:
            return
        stmt = sa.update(anomalies).where(anomalies.c.id.in_(list(anomaly_ids)))
        with self.engine.begin() as conn:
            conn.execute(stmt.values(incident_id=incident_id))

    def get_incident(self, incident_id: int) -> IncidentRow | None:
        """One incident, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(incidents).where(incidents.c.id == incident_id)).first()
        return None if row is None else _row_incident(row)

    def list_incidents(
        self,
        *,
        status: str | None = None,
        stream: str | None = None,
        min_severity: Severity | str | None = None,
        since_ns: int | None = None,
        limit: int = 100,
        until_ns: int | None = None,
        detector: str | None = None,
    ) -> list[IncidentRow]:
        """Incidents, most recently seen first, optionally only those with ``status``
        (``firing``/``resolved``), of ``stream``, at or above ``min_severity``, seen at or
        after ``since_ns``, first seen before ``until_ns``, or described by ``detector``."""
        c = incidents.c
        q = sa.select(incidents).order_by(c.last_seen.desc(), c.id.desc())
        if status is not None:
            q = q.where(c.status == status)
        if stream is not None:
            q = q.where(c.stream == stream)
        if min_severity is not None:
            q = q.where(c.severity_rank >= int(Severity.parse(min_severity)))
        if since_ns is not None:
            q = q.where(c.last_seen >= since_ns)
        if until_ns is not None:
            q = q.where(c.first_seen < until_ns)
        if detector is not None:
            q = q.where(c.detector == detector)
        with self.engine.connect() as conn:
            return [_row_incident(r) for r in conn.execute(q.limit(limit))]

    def incident_anomalies(self, incident_id: int, limit: int = 100) -> list[dict[str, Any]]:
        """The anomalies of an incident, newest first, as :meth:`list_anomalies` shows them."""
        c = anomalies.c
        q = (
            sa.select(anomalies)
            .where(c.incident_id == incident_id)
            .order_by(c.window_end.desc(), c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_row_dict(r) for r in conn.execute(q)]

    # Notifications (the incident outbox) -------------------------------------------------
    def add_notifications(
        self,
        incident_id: int,
        receivers: Iterable[str],
        *,
        event: str,
        seq: int,
        payload: dict[str, Any],
        now_ns: int,
    ) -> list[int]:
        """Queue notification ``seq`` of an incident for each receiver, due at ``now_ns``;
        return the new ids (one already queued for that receiver and ``seq`` is kept)."""
        rows = [
            {
                "incident_id": incident_id,
                "receiver": name,
                "event": event,
                "seq": seq,
                "payload": payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now_ns,
                "created_at": now_ns,
            }
            for name in dict.fromkeys(receivers)
        ]
        if not rows:
            return []
        n = notifications.c
        stmt = (
            self._insert(notifications)
            .on_conflict_do_nothing(index_elements=[n.incident_id, n.receiver, n.seq])
            .returning(n.id)
        )
        with self.engine.begin() as conn:
            return sorted(conn.execute(stmt, rows).scalars())

    def due_notifications(
        self, now_ns: int, *, receivers: Collection[str] | None = None, limit: int = 100
    ) -> list[NotificationRow]:
        """Pending notifications with ``next_attempt_at <= now_ns``, oldest due first (and in
        queueing order), optionally only for the named receivers."""
        n = notifications.c
        q = (
            sa.select(n.id, n.incident_id, n.receiver, n.event, n.seq, n.attempts, n.payload)
            .where(n.status == "pending", n.next_attempt_at <= now_ns)
            .order_by(n.next_attempt_at, n.id)
            .limit(limit)
        )
        if receivers is not None:
            q = q.where(n.receiver.in_(list(receivers)))
        with self.engine.connect() as conn:
            return [NotificationRow(*r) for r in conn.execute(q)]

    def pending_before(self, notification: NotificationRow) -> int | None:
        """When the oldest earlier notification of the same incident and receiver that is
        still pending is due (ns), or None if there is none: a notification waits for those
        (a resolve never overtakes its firing)."""
        n = notifications.c
        q = sa.select(sa.func.min(n.next_attempt_at)).where(
            n.incident_id == notification.incident_id,
            n.receiver == notification.receiver,
            n.status == "pending",
            n.seq < notification.seq,
        )
        with self.engine.connect() as conn:
            due = conn.execute(q).scalar()
        return None if due is None else int(due)

    def update_notification(self, notification_id: int, *, attempted: bool, **values: Any) -> None:
        """Set columns of a notification (``status``, ``next_attempt_at``, ``last_error``,
        ``response``, ``delivered_at``); ``attempted`` counts one more delivery attempt."""
        stmt = sa.update(notifications).where(notifications.c.id == notification_id)
        if attempted:
            values["attempts"] = notifications.c.attempts + 1
        with self.engine.begin() as conn:
            conn.execute(stmt.values(values))

    def list_notifications(
        self, *, incident_id: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Newest notifications first (optionally of one incident), times as ISO-8601."""
        q = sa.select(notifications).order_by(notifications.c.id.desc()).limit(limit)
        if incident_id is not None:
            q = q.where(notifications.c.incident_id == incident_id)
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
