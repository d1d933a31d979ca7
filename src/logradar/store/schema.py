"""The results database schema (SQLAlchemy Core). Grafana reads these tables directly.

Every timestamp is a timezone-aware ``TIMESTAMPTZ`` (UTC) in PostgreSQL; SQLite keeps it as
UTC text. Python code never sees ``datetime``: :class:`NsTimestamp` converts to and from
integer nanoseconds since the epoch (microsecond precision is kept in the database).

``templates``
    One row per learned log template. ``id`` (the template id used everywhere), ``template``
    (text with ``<*>`` wildcards), ``parent_id`` (template it was generalized from, or null),
    ``first_seen``, ``last_seen``, ``count`` (lines matched so far).
``window_counts``
    Lines per ``stream``, event-time window ``[window_start, window_end)`` and ``template_id``;
    ``template_id = -1`` (:data:`ALL_TEMPLATES`) is the stream's total. Primary key
    ``(stream, window_start, template_id)``, so a replay overwrites instead of double counting.
``anomalies``
    One row per anomaly, unique on ``fingerprint``: ``detector``, ``kind``, ``stream``,
    ``window_start``, ``window_end``, ``template_id``, ``template``, ``session``, ``expected``,
    ``observed``, ``score`` (0..1), ``severity`` (name) and ``severity_rank`` (10 info ..
    50 critical, for sorting and thresholds), ``examples`` (JSON list of raw lines),
    ``explanation``, ``created_at`` and ``status`` (``open`` by default).
``alerts``
    The durable outbox: one row per anomaly and channel (unique together). ``status`` is
    ``pending``, ``delivered`` or ``failed``; ``attempts``, ``next_attempt_at``,
    ``last_error``, ``created_at``, ``delivered_at``.
``feedback``
    Operator feedback the engine learns from, in order: ``anomaly_id``, ``action``
    (``expected``: marked by a person; ``baselined``: left open past the visibility period)
    and ``created_at``. Anomaly ``status`` values: ``open``, ``expected`` (marked, or like one
    marked), ``baselined`` and ``muted`` (matched a mute when detected).
``mutes``
    Alerts suppressed until ``until`` for anomalies of ``stream`` and/or ``template_id``
    (null matches any); ``reason`` and ``created_at``. Muted anomalies are still stored.
    Mutes are the silences of incident alerting.
``incidents``
    One row per incident: anomalies sharing the ``alerts.group_by`` fields, open together.
    ``id`` (also the PagerDuty ``dedup_key`` and the UI link), ``group_key`` (JSON object of
    the ``group_by`` fields and values, e.g. ``{"detector": "frequency", "stream": "pay",
    "template_id": 7}``), ``stream``, ``detector``, ``kind``, ``template_id``, ``template``
    (of the first anomaly), ``severity`` / ``severity_rank`` (highest seen), ``status``
    (``firing`` or ``resolved``), ``first_seen`` / ``last_seen`` (when the first / latest
    anomaly was detected), ``anomaly_count``, ``resolved_at`` (null while firing),
    ``summary`` (one line for humans), ``explanation`` and ``examples`` (JSON list, of the most
    severe anomaly), ``flaps`` (times it resolved and fired again), ``suppressed`` (null, or
    why no notification is sent now: ``silenced``, ``inhibited``, ``flapping``),
    ``notifications`` (notifications queued so far), ``last_notified_at``, ``updated_at``.
    Each anomaly of an incident points to it with ``anomalies.incident_id`` (null: the anomaly
    alerted nobody, e.g. below ``alerts.min_severity``, expected or muted before grouping).
``notifications``
    The durable outbox of incident alerting: one row per incident notification and receiver,
    unique on ``(incident_id, receiver, seq)``. ``event`` (``firing``, ``resolved``),
    ``seq`` (the incident's notification number), ``payload`` (JSON: what is sent, frozen
    when queued), ``status`` (``pending``, ``delivered``, ``failed``), ``attempts``,
    ``next_attempt_at``, ``last_error``, ``response`` (the channel's answer, shortened),
    ``created_at``, ``delivered_at``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

ALL_TEMPLATES = -1
"""``window_counts.template_id`` of the row holding all lines of a stream in a window."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def ns_to_datetime(ns: int) -> datetime:
    """Nanoseconds since the epoch to an aware UTC datetime (truncated to microseconds)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def datetime_to_ns(value: datetime) -> int:
    """An aware (or naive UTC) datetime to nanoseconds since the epoch."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _MICROSECOND * 1000


class NsTimestamp(sa.TypeDecorator[int]):
    """A ``TIMESTAMP WITH TIME ZONE`` column that Python reads and writes as int nanoseconds."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Dialect) -> datetime | None:
        return None if value is None else ns_to_datetime(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> int | None:
        return None if value is None else datetime_to_ns(value)


# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Json = sa.JSON().with_variant(JSONB(), "postgresql")

metadata = sa.MetaData()

templates = sa.Table(
    "templates",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("template", sa.Text, nullable=False),
    sa.Column("parent_id", sa.BigInteger, nullable=True),
    sa.Column("first_seen", NsTimestamp, nullable=False),
    sa.Column("last_seen", NsTimestamp, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
)

window_counts = sa.Table(
    "window_counts",
    metadata,
    sa.Column("stream", sa.Text, nullable=False),
    sa.Column("window_start", NsTimestamp, nullable=False),
    sa.Column("window_end", NsTimestamp, nullable=False),
    sa.Column("template_id", sa.BigInteger, nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("stream", "window_start", "template_id", name="window_counts_pkey"),
    sa.Index("window_counts_start_idx", "window_start"),
)

anomalies = sa.Table(
    "anomalies",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("fingerprint", sa.Text, nullable=False, unique=True),
    sa.Column("detector", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("stream", sa.Text, nullable=False),
    sa.Column("window_start", NsTimestamp, nullable=False),
    sa.Column("window_end", NsTimestamp, nullable=False),
    sa.Column("template_id", sa.BigInteger, nullable=True),
    sa.Column("template", sa.Text, nullable=True),
    sa.Column("session", sa.Text, nullable=True),
    sa.Column("expected", sa.Float, nullable=True),
    sa.Column("observed", sa.Float, nullable=True),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("severity_rank", sa.Integer, nullable=False),
    sa.Column("examples", _Json, nullable=False),
    sa.Column("explanation", sa.Text, nullable=False),
    sa.Column("created_at", NsTimestamp, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="open"),
    sa.Column("incident_id", sa.BigInteger, nullable=True),
    sa.Index("anomalies_window_end_idx", "window_end", "id"),
    sa.Index("anomalies_stream_window_end_idx", "stream", "window_end"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column(
        "anomaly_id",
        _Id,
        sa.ForeignKey("anomalies.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", NsTimestamp, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", NsTimestamp, nullable=False),
    sa.Column("delivered_at", NsTimestamp, nullable=True),
    sa.UniqueConstraint("anomaly_id", "channel", name="alerts_anomaly_channel_key"),
    sa.Index("alerts_due_idx", "status", "next_attempt_at"),
)

sa.Index("anomalies_status_created_idx", anomalies.c.status, anomalies.c.created_at)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column(
        "anomaly_id",
        _Id,
        sa.ForeignKey("anomalies.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("created_at", NsTimestamp, nullable=False),
)

mutes = sa.Table(
    "mutes",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("stream", sa.Text, nullable=True),
    sa.Column("template_id", sa.BigInteger, nullable=True),
    sa.Column("until", NsTimestamp, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("created_at", NsTimestamp, nullable=False),
    sa.Index("mutes_until_idx", "until"),
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("group_key", sa.Text, nullable=False),
    sa.Column("stream", sa.Text, nullable=False),
    sa.Column("detector", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("template_id", sa.BigInteger, nullable=True),
    sa.Column("template", sa.Text, nullable=True),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("severity_rank", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="firing"),
    sa.Column("first_seen", NsTimestamp, nullable=False),
    sa.Column("last_seen", NsTimestamp, nullable=False),
    sa.Column("anomaly_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("resolved_at", NsTimestamp, nullable=True),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("explanation", sa.Text, nullable=False, server_default=""),
    sa.Column("examples", _Json, nullable=False),
    sa.Column("flaps", sa.Integer, nullable=False, server_default="0"),
    sa.Column("suppressed", sa.Text, nullable=True),
    sa.Column("notifications", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_notified_at", NsTimestamp, nullable=True),
    sa.Column("updated_at", NsTimestamp, nullable=False),
    sa.Index("incidents_status_last_seen_idx", "status", "last_seen"),
    sa.Index("incidents_group_key_idx", "group_key", "status"),
    sa.Index("incidents_stream_last_seen_idx", "stream", "last_seen"),
)

sa.Index("anomalies_incident_idx", anomalies.c.incident_id)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column(
        "incident_id",
        _Id,
        sa.ForeignKey("incidents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("receiver", sa.Text, nullable=False),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("payload", _Json, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", NsTimestamp, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("response", sa.Text, nullable=True),
    sa.Column("created_at", NsTimestamp, nullable=False),
    sa.Column("delivered_at", NsTimestamp, nullable=True),
    sa.UniqueConstraint("incident_id", "receiver", "seq", name="notifications_incident_key"),
    sa.Index("notifications_due_idx", "status", "next_attempt_at"),
)
