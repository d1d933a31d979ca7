"""The UI views besides the anomalies list: incidents (``GET /``, the default), anomaly
detail (``GET /anomalies/{id}``), an incident (``GET /incidents/{id}``, the link every alert
notification carries: its newest anomaly's detail) and templates (``GET /templates?stream=S``).

Server-rendered like :mod:`.ui` (same CSP, escaping and sign-in); every filter and the time
range live in the URL, so a view can be shared as a link.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from logradar.schema import Severity, now_ns
from logradar.sources.common import pipeline_of
from logradar.store import reads
from logradar.web import incidents, templates_view, tenancy
from logradar.web.access import require_read
from logradar.web.context import MAX_CONTEXT
from logradar.web.detail import DEFAULT_CONTEXT, load_detail
from logradar.web.params import QueryError, Stream, parse_query
from logradar.web.timerange import PRESETS, TimeRange, resolve_range
from logradar.web.ui import denied, render

if TYPE_CHECKING:
    from logradar.pipeline import Pipeline
    from logradar.sources.auth import Principal

SEVERITIES = [str(s) for s in Severity]
INCIDENTS_REFRESH_SECONDS = 15


class IncidentsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    severity: str = Field("medium", pattern="^(info|low|medium|high|critical)$")
    stream: Stream = None
    detector: str | None = Field(None, max_length=100)
    status: str | None = Field(None, pattern=f"^({'|'.join(incidents.STATUSES)})?$")

    def params(self) -> dict[str, str | None]:
        return {
            "severity": None if self.severity == "medium" else self.severity,
            "stream": self.stream,
            "detector": self.detector or None,
            "status": self.status or None,
        }


class TemplatesQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    stream: Stream = None


class DetailQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    context: int = Field(DEFAULT_CONTEXT, ge=0, le=MAX_CONTEXT)


def time_range(pipeline: Pipeline, request: Request) -> TimeRange:
    """The range the request asks for; the default follows the newest stored data."""
    span = reads.data_span(pipeline.store)
    return resolve_range(request.query_params, now_ns(), None if span is None else span[1])


def _range_links(tr: TimeRange, path: str, params: dict[str, str | None]) -> dict[str, Any]:
    links = {}
    for p in PRESETS:
        preset = TimeRange(0, 0, p, False)
        links[p] = preset.url(path, **params)
    now_link = TimeRange(0, 0, None, False, tr.preset or "24h", "now").url(path, **params)
    return {"range_links": links, "now_link": now_link, "presets": list(PRESETS)}


def _incidents_data(
    pipeline: Pipeline, request: Request, q: IncidentsQuery, principal: Principal
) -> dict[str, Any]:
    store = pipeline.store
    if q.stream is not None:
        tenancy.check_stream(principal, q.stream)
    tr = time_range(pipeline, request)
    common = {
        "since_ns": tr.since_ns,
        "until_ns": tr.until_ns,
        "stream": q.stream,
        "detector": q.detector or None,
        "status": q.status or None,
    }
    rows = incidents.incident_rows(store, min_severity=Severity.parse(q.severity), **common)
    rows = [r for r in rows if principal.may_read(r.stream)]
    hidden = 0
    if q.severity != "info":
        every = incidents.incident_rows(store, min_severity=Severity.INFO, **common)
        every = [r for r in every if principal.may_read(r.stream)]
        hidden = sum(r.count for r in every) - sum(r.count for r in rows)
    show_all = tr.url("/", **{**q.params(), "severity": "info"})
    return {
        "rows": rows,
        "hidden": hidden,
        "show_all": show_all,
        "tr": tr,
        "streams": tenancy.readable_streams(store, principal),
        "detectors": reads.detectors(store),
        "health": pipeline.health(),
        **_range_links(tr, "/", q.params()),
    }


async def incidents_page(request: Request) -> HTMLResponse:
    """Incidents with severity/stream/detector/status filters and a time range."""
    try:
        principal = require_read(request)
    except HTTPException as e:
        return denied(e)
    pipeline = pipeline_of(request)
    try:
        q = parse_query(IncidentsQuery, request.query_params)
        data = await run_in_threadpool(_incidents_data, pipeline, request, q, principal)
    except HTTPException as e:
        return denied(e)
    except QueryError as e:
        return render(400, page="layout.html", view="incidents", error=str(e), health=None)
    return render(
        200,
        page="incidents.html",
        view="incidents",
        error=None,
        q=q,
        severities=SEVERITIES,
        statuses=incidents.STATUSES,
        auto_refresh=INCIDENTS_REFRESH_SECONDS,
        **data,
    )


async def anomaly_page(request: Request) -> HTMLResponse:
    """One anomaly: explanation, chart, examples in context, history, feedback buttons."""
    try:
        principal = require_read(request)
    except HTTPException as e:
        return denied(e)
    pipeline = pipeline_of(request)
    anomaly_id = request.path_params["anomaly_id"]
    try:
        await run_in_threadpool(tenancy.check_anomaly, pipeline.store, principal, anomaly_id)
    except HTTPException as e:
        if e.status_code != 404:  # an unknown anomaly gets the page's own 404
            return denied(e)
    try:
        q = parse_query(DetailQuery, request.query_params)
    except QueryError as e:
        return render(400, page="layout.html", view="incidents", error=str(e), health=None)
    d = await run_in_threadpool(load_detail, pipeline, anomaly_id, q.context)
    if d is None:
        return render(
            404,
            page="layout.html",
            view="incidents",
            error_title="Not found",
            error=f"There is no anomaly #{anomaly_id}.",
            health=None,
        )
    return render(
        200,
        page="anomaly.html",
        view="incidents",
        error=None,
        d=d,
        n=q.context,
        max_context=MAX_CONTEXT,
        health=None,
    )


async def incident_page(request: Request) -> Response:
    """An incident: redirects to its newest anomaly's detail page (which links the rest)."""
    try:
        principal = require_read(request)
    except HTTPException as e:
        return denied(e)
    incident_id = request.path_params["incident_id"]
    store = pipeline_of(request).store
    found = await run_in_threadpool(store.incident_anomalies, incident_id, 1)
    if found and not principal.may_read(found[0]["stream"]):
        return denied(HTTPException(403, f"tenant {principal.tenant!r} may not read it"))
    if not found:
        return render(
            404,
            page="layout.html",
            view="incidents",
            error_title="Not found",
            error=f"There is no incident #{incident_id}.",
            health=None,
        )
    return RedirectResponse(f"{request.scope.get('root_path', '')}/anomalies/{found[0]['id']}", 303)


def _templates_data(
    pipeline: Pipeline, request: Request, q: TemplatesQuery, principal: Principal
) -> dict[str, Any]:
    tr = time_range(pipeline, request)
    rows = []
    if q.stream:
        tenancy.check_stream(principal, q.stream)
        rows = templates_view.load_templates(pipeline, q.stream, tr.since_ns, tr.until_ns)
    return {
        "rows": rows,
        "tr": tr,
        "streams": tenancy.readable_streams(pipeline.store, principal),
        "spark_w": templates_view.SPARK_W,
        "spark_h": templates_view.SPARK_H,
        **_range_links(tr, "/templates", {"stream": q.stream}),
    }


async def templates_page(request: Request) -> HTMLResponse:
    """Every template of ``?stream=`` with counts, trend, level and flags."""
    try:
        principal = require_read(request)
    except HTTPException as e:
        return denied(e)
    pipeline = pipeline_of(request)
    try:
        q = parse_query(TemplatesQuery, request.query_params)
        data = await run_in_threadpool(_templates_data, pipeline, request, q, principal)
    except HTTPException as e:
        return denied(e)
    except QueryError as e:
        return render(400, page="layout.html", view="templates", error=str(e), health=None)
    return render(
        200, page="templates.html", view="templates", error=None, q=q, health=None, **data
    )


routes = [
    Route("/", incidents_page),
    Route("/anomalies/{anomaly_id:int}", anomaly_page),
    Route("/incidents/{incident_id:int}", incident_page),
    Route("/templates", templates_page),
]
