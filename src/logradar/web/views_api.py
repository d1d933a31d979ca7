"""JSON for the UI views: ``GET /api/v1/anomalies/{id}`` (the detail page's content,
including ``context``) and ``GET /api/v1/templates?stream=S`` (the templates view's rows).

Same rules as :mod:`.api`: a ``read`` token when auth is on, 400 with a reason for bad
parameters, 404 for an unknown anomaly.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from logradar.sources.common import pipeline_of
from logradar.web import tenancy
from logradar.web.access import require_read
from logradar.web.api import iso
from logradar.web.detail import detail_json, load_detail
from logradar.web.pages import DetailQuery, TemplatesQuery, time_range
from logradar.web.params import parse_query
from logradar.web.templates_view import load_templates


async def anomaly(request: Request) -> JSONResponse:
    """One anomaly with incident, series, baseline, ``context`` (``?context=N`` lines before
    and after each example, default 5, at most 50) and history."""
    principal = require_read(request)
    q = parse_query(DetailQuery, request.query_params)
    anomaly_id = request.path_params["anomaly_id"]
    pipeline = pipeline_of(request)
    await run_in_threadpool(tenancy.check_anomaly, pipeline.store, principal, anomaly_id)
    d = await run_in_threadpool(load_detail, pipeline, anomaly_id, q.context)
    if d is None:
        raise HTTPException(404, f"no anomaly with id {anomaly_id}")
    return JSONResponse(detail_json(d))


async def templates(request: Request) -> JSONResponse:
    """Templates of ``?stream=`` (required) in the time range (``range`` or ``from``/``to``)."""
    principal = require_read(request)
    q = parse_query(TemplatesQuery, request.query_params)
    if q.stream is None:
        raise HTTPException(400, "give ?stream=NAME")
    tenancy.check_stream(principal, q.stream)
    pipeline = pipeline_of(request)

    def load() -> dict:
        tr = time_range(pipeline, request)
        rows = load_templates(pipeline, q.stream, tr.since_ns, tr.until_ns)
        for r in rows:
            del r["sparkline"]  # the page's drawing; "series" has the numbers
        return {
            "stream": q.stream,
            "from": iso(tr.since_ns),
            "to": iso(tr.until_ns),
            "templates": rows,
        }

    return JSONResponse(await run_in_threadpool(load))


routes = [
    Route("/api/v1/anomalies/{anomaly_id:int}", anomaly, methods=["GET"]),
    Route("/api/v1/templates", templates, methods=["GET"]),
]
