"""Operational endpoints: ``GET /healthz`` and ``GET /metrics`` (Prometheus text format).

``/healthz`` is always open (load balancers); ``/metrics`` needs a ``read`` token when auth is
on (Prometheus: ``authorization: {credentials: T}`` in the scrape config).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from logradar.sources.common import pipeline_of
from logradar.web.access import require_read

#: The text exposition format ``generate_latest`` writes (prometheus_client's own
#: ``CONTENT_TYPE_LATEST`` now names a newer version).
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


async def healthz(request: Request) -> JSONResponse:
    """The pipeline's health; 200 when ``status`` is ``ok``, else 503."""
    health = await run_in_threadpool(pipeline_of(request).health)
    return JSONResponse(health, 200 if health.get("status") == "ok" else 503)


async def metrics(request: Request) -> Response:
    """Every metric of this process, lag gauges refreshed first."""
    require_read(request)
    pipeline = pipeline_of(request)
    await run_in_threadpool(pipeline.refresh_gauges)
    return Response(pipeline.metrics.render(), media_type=PROMETHEUS_TEXT)


routes = [Route("/healthz", healthz), Route("/metrics", metrics)]
