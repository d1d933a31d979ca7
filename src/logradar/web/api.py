"""The read-only JSON API: ``/api/v1/anomalies``, ``/api/v1/volume`` and ``/api/v1/alerts``.

Invalid query parameters answer 400 with ``{"error": reason}`` (see :mod:`.app`).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from logradar.sources.common import pipeline_of
from logradar.store.schema import ns_to_datetime
from logradar.web.params import AlertQuery, AnomalyQuery, VolumeQuery, parse_query


def iso(ns: int) -> str:
    return ns_to_datetime(ns).isoformat().replace("+00:00", "Z")


async def anomalies(request: Request) -> JSONResponse:
    """Anomalies newest first: ``?stream=&since=&limit=`` (limit 1..1000, default 100)."""
    q = parse_query(AnomalyQuery, request.query_params)
    store = pipeline_of(request).store
    rows = await run_in_threadpool(
        store.list_anomalies, stream=q.stream, since_ns=q.since, limit=q.limit
    )
    return JSONResponse(rows)


def volume_series(rows: list[tuple[str, int, int]]) -> list[dict[str, Any]]:
    """Group ``(stream, window_start_ns, lines)`` rows into one series per stream."""
    series: dict[str, list[dict[str, Any]]] = {}
    for stream, start, lines in rows:
        series.setdefault(stream, []).append({"start": iso(start), "lines": lines})
    return [{"stream": s, "points": points} for s, points in series.items()]


async def volume(request: Request) -> JSONResponse:
    """Lines per window and stream: ``?since=`` (default 1h) and ``?stream=``."""
    q = parse_query(VolumeQuery, request.query_params)
    pipeline = pipeline_of(request)
    rows = await run_in_threadpool(pipeline.store.volume, since_ns=q.since_ns, stream=q.stream)
    return JSONResponse(
        {
            "since": iso(q.since_ns),
            "window_seconds": pipeline.settings.engine.window_seconds,
            "series": volume_series(rows),
        }
    )


async def alerts(request: Request) -> JSONResponse:
    """Recent alerts with their delivery status, newest first: ``?limit=``."""
    q = parse_query(AlertQuery, request.query_params)
    rows = await run_in_threadpool(pipeline_of(request).store.list_alerts, q.limit)
    return JSONResponse(rows)


routes = [
    Route("/api/v1/anomalies", anomalies),
    Route("/api/v1/volume", volume),
    Route("/api/v1/alerts", alerts),
]
