"""Tenant isolation on reads: a token sees, marks and mutes only the streams its ``streams``
globs match (the same globs that limit what it may write). Auth off, or a ``*`` token: all.

- anomalies (with their example lines), volumes, the UI pages and notifications list only readable
  streams; asking for another stream (``?stream=``) is 403;
- marking an anomaly expected, and creating or ending a mute, need its stream to be
  readable; a mute without a stream (template only) applies to every stream, so only a
  token that may read every stream (``*``) may create or end one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.exceptions import HTTPException

from logradar.sources.auth import Principal
from logradar.store import Store


def sees_everything(principal: Principal) -> bool:
    return "*" in principal.streams


def check_stream(principal: Principal, stream: str | None) -> None:
    """403 unless ``principal`` may read ``stream`` (None: every stream)."""
    allowed = sees_everything(principal) if stream is None else principal.may_read(stream)
    if not allowed:
        what = f"stream {stream!r}" if stream is not None else "every stream"
        raise HTTPException(403, f"tenant {principal.tenant!r} may not read {what}")


def readable_streams(store: Store, principal: Principal) -> list[str]:
    """The known streams ``principal`` may read, sorted."""
    return [s for s in store.streams() if principal.may_read(s)]


def _newest_first(row: dict[str, Any]) -> tuple[datetime, int]:
    return datetime.fromisoformat(row["end"].replace("Z", "+00:00")), row["id"]


def list_anomalies(
    store: Store, principal: Principal, stream: str | None, since_ns: int | None, limit: int
) -> list[dict[str, Any]]:
    """:meth:`Store.list_anomalies` limited to the readable streams (exactly ``limit`` newest
    when there are as many: one query per readable stream, merged)."""
    if stream is not None:
        check_stream(principal, stream)
    if stream is not None or sees_everything(principal):
        return store.list_anomalies(stream=stream, since_ns=since_ns, limit=limit)
    rows = [
        row
        for s in readable_streams(store, principal)
        for row in store.list_anomalies(stream=s, since_ns=since_ns, limit=limit)
    ]
    return sorted(rows, key=_newest_first, reverse=True)[:limit]


def volume(
    store: Store, principal: Principal, since_ns: int, stream: str | None
) -> list[tuple[str, int, int]]:
    """:meth:`Store.volume` limited to the readable streams."""
    if stream is not None:
        check_stream(principal, stream)
    rows = store.volume(since_ns=since_ns, stream=stream)
    return [row for row in rows if principal.may_read(row[0])]


def list_alerts(store: Store, principal: Principal, limit: int) -> list[dict[str, Any]]:
    """Incident notifications, newest first (each also naming its receiver as ``channel``,
    as alerts did before incidents), limited to incidents of readable streams (of the newest
    ``limit`` notifications)."""
    rows = [{**r, "channel": r["receiver"]} for r in store.list_notifications(limit=limit)]
    if sees_everything(principal):
        return rows
    streams: dict[int, str | None] = {}
    for row in rows:
        if row["incident_id"] not in streams:
            incident = store.get_incident(row["incident_id"])
            streams[row["incident_id"]] = incident.stream if incident else None
    return [r for r in rows if (s := streams[r["incident_id"]]) and principal.may_read(s)]


def check_anomaly(store: Store, principal: Principal, anomaly_id: int) -> None:
    """404 for an unknown anomaly, 403 for one of a stream ``principal`` may not read."""
    anomaly = store.get_anomaly(anomaly_id)
    if anomaly is None:
        raise HTTPException(404, f"no anomaly with id {anomaly_id}")
    check_stream(principal, anomaly["stream"])


def check_mute(store: Store, principal: Principal, mute_id: int) -> None:
    """403 when the mute (if it exists) is on a stream ``principal`` may not read."""
    for mute in store.list_mutes(None):
        if mute.id == mute_id:
            check_stream(principal, mute.stream)
