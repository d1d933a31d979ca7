"""The JSON API: ``/api/v1/anomalies``, ``/api/v1/volume``, ``/api/v1/alerts`` (read-only)
and feedback: ``POST /api/v1/anomalies/{id}/expected``, ``GET/POST /api/v1/mutes`` and
``DELETE /api/v1/mutes/{id}``.

Invalid query parameters answer 400 with ``{"error": reason}`` (see :mod:`.app`). When auth
is on, every endpoint here needs a token with the ``read`` scope (401 without a valid token,
403 without the scope; see :mod:`.access`). Feedback POSTs need a JSON body (415 otherwise),
which a cross-site form cannot send.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from logradar.engine.feedback import parse_duration
from logradar.schema import now_ns
from logradar.sources.auth import Principal
from logradar.sources.common import pipeline_of
from logradar.store.schema import ns_to_datetime
from logradar.web import tenancy
from logradar.web.access import require_read
from logradar.web.params import AlertQuery, AnomalyQuery, Stream, VolumeQuery, parse_query
from logradar.web.search import search_lines

MAX_MUTE_BODY_BYTES = 4096


def iso(ns: int) -> str:
    return ns_to_datetime(ns).isoformat().replace("+00:00", "Z")


async def anomalies(request: Request) -> JSONResponse:
    """Anomalies newest first: ``?stream=&since=&limit=`` (limit 1..1000, default 100)."""
    principal = require_read(request)
    q = parse_query(AnomalyQuery, request.query_params)
    store = pipeline_of(request).store
    rows = await run_in_threadpool(
        tenancy.list_anomalies, store, principal, q.stream, q.since, q.limit
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
    principal = require_read(request)
    q = parse_query(VolumeQuery, request.query_params)
    pipeline = pipeline_of(request)
    rows = await run_in_threadpool(tenancy.volume, pipeline.store, principal, q.since_ns, q.stream)
    return JSONResponse(
        {
            "since": iso(q.since_ns),
            "window_seconds": pipeline.settings.engine.window_seconds,
            "series": volume_series(rows),
        }
    )


async def alerts(request: Request) -> JSONResponse:
    """Recent incident notifications with their delivery status, newest first: ``?limit=``.
    Each row also names its receiver as ``channel``, as alerts did before incidents."""
    principal = require_read(request)
    q = parse_query(AlertQuery, request.query_params)
    store = pipeline_of(request).store
    rows = await run_in_threadpool(tenancy.list_alerts, store, principal, q.limit)
    return JSONResponse(rows)


# Feedback -----------------------------------------------------------------------------------
def _duration(value: Any) -> float | None:
    return None if value is None else parse_duration(str(value))


class MuteRequest(BaseModel):
    """``POST /api/v1/mutes``: what to mute (stream and/or template) and for how long."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    stream: Stream = None
    template_id: int | None = Field(None, ge=0)
    duration: Annotated[float | None, BeforeValidator(_duration)] = Field(
        None, alias="for", description="e.g. 30m, 2h, 1d"
    )
    until: datetime | None = Field(None, description="ISO-8601 with a time zone")
    reason: str | None = Field(None, max_length=500)

    def until_ns(self, now: int) -> int:
        """The end of the mute; ValueError unless exactly one of for/until is given and the
        mute matches something and ends in the future."""
        if self.stream is None and self.template_id is None:
            raise ValueError("give stream and/or template_id: a mute must match something")
        if (self.duration is None) == (self.until is None):
            raise ValueError("give exactly one of 'for' (e.g. 2h) and 'until' (ISO-8601)")
        if self.duration is not None:
            return now + int(self.duration * 1e9)
        assert self.until is not None
        if self.until.tzinfo is None:
            raise ValueError("'until' has no time zone (add Z or +00:00)")
        end = int(self.until.timestamp() * 1e6) * 1000
        if end <= now:
            raise ValueError("'until' is in the past")
        return end


async def _check_write(request: Request) -> Principal:
    """A ``read`` token when auth is on; for POST a JSON body (a cross-site form cannot send
    one). Returns the caller."""
    principal = require_read(request)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method == "POST" and ctype != "application/json":
        raise HTTPException(415, "send a JSON body with Content-Type: application/json")
    return principal


async def mark_expected(request: Request) -> JSONResponse:
    """Mark an anomaly expected: anomalies like it stop alerting; answers the anomaly."""
    principal = await _check_write(request)
    anomaly_id = request.path_params["anomaly_id"]
    store = pipeline_of(request).store
    await run_in_threadpool(tenancy.check_anomaly, store, principal, anomaly_id)
    row = await run_in_threadpool(store.mark_expected, anomaly_id, now_ns())
    if row is None:
        raise HTTPException(404, f"no anomaly with id {anomaly_id}")
    return JSONResponse(row)


async def list_mutes(request: Request) -> JSONResponse:
    """Active mutes, newest first; ``?all=1`` includes expired ones."""
    principal = require_read(request)
    active = None if request.query_params.get("all") in ("1", "true") else now_ns()
    rows = await run_in_threadpool(pipeline_of(request).store.list_mutes, active)
    visible = tenancy.sees_everything(principal)
    shown = [m for m in rows if visible or (m.stream and principal.may_read(m.stream))]
    return JSONResponse([m.to_dict() for m in shown])


async def add_mute(request: Request) -> JSONResponse:
    """Create a mute from ``{"stream", "template_id", "for" | "until", "reason"}``; 201."""
    principal = await _check_write(request)
    body = await request.body()
    if len(body) > MAX_MUTE_BODY_BYTES:
        raise HTTPException(413, f"mute body larger than {MAX_MUTE_BODY_BYTES} bytes")
    now = now_ns()
    try:
        req = MuteRequest.model_validate(json.loads(body or b"{}"))
        until = req.until_ns(now)
    except json.JSONDecodeError as e:
        raise HTTPException(400, f"body is not JSON: {e}") from None
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        msg = str(err["ctx"]["error"]) if err["type"] == "value_error" else err["msg"]
        raise HTTPException(400, f"invalid {where}: {msg}") from None
    except ValueError as e:
        raise HTTPException(400, str(e)) from None
    tenancy.check_stream(principal, req.stream)
    mute = await run_in_threadpool(
        pipeline_of(request).store.add_mute,
        stream=req.stream,
        template_id=req.template_id,
        until_ns=until,
        reason=req.reason,
        now_ns=now,
    )
    return JSONResponse(mute.to_dict(), 201)


async def delete_mute(request: Request) -> Response:
    """End a mute now; 204, or 404 if there is none with that id."""
    principal = await _check_write(request)
    mute_id = request.path_params["mute_id"]
    await run_in_threadpool(tenancy.check_mute, pipeline_of(request).store, principal, mute_id)
    if not await run_in_threadpool(pipeline_of(request).store.delete_mute, mute_id):
        raise HTTPException(404, f"no mute with id {mute_id}")
    return Response(status_code=204)


routes = [
    Route("/api/v1/anomalies", anomalies),
    Route("/api/v1/volume", volume),
    Route("/api/v1/alerts", alerts),
    Route("/api/v1/search", search_lines),
    Route("/api/v1/anomalies/{anomaly_id:int}/expected", mark_expected, methods=["POST"]),
    Route("/api/v1/mutes", list_mutes, methods=["GET"]),
    Route("/api/v1/mutes", add_mute, methods=["POST"]),
    Route("/api/v1/mutes/{mute_id:int}", delete_mute, methods=["DELETE"]),
]
