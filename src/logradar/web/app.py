"""The one ASGI app of ``logradar up``: receivers, JSON API, HTML UI, ``/metrics``, ``/healthz``.

Errors are JSON (``{"error": reason}``): unknown routes 404, wrong methods 405 (with
``Allow``), invalid query parameters 400. With auth on, receivers need an ``ingest`` token and
the UI, API, ``/metrics`` and feedback a ``read`` one (:mod:`.access`); ``/healthz`` is open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from logradar.sources import http_routes
from logradar.web import api, ops, pages, ui, views_api
from logradar.web.params import QueryError

if TYPE_CHECKING:
    from logradar.pipeline import Pipeline


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse({"error": exc.detail}, exc.status_code, headers=exc.headers)


async def _query_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, 400)


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": "internal server error"}, 500)


def create_app(pipeline: Pipeline) -> Starlette:
    """The app serving ``pipeline`` (handlers find it at ``request.app.state.pipeline``)."""
    app = Starlette(
        routes=[
            *http_routes(),
            *api.routes,
            *views_api.routes,
            *ops.routes,
            *ui.routes,
            *pages.routes,
        ],
        exception_handlers={
            HTTPException: _http_error,
            QueryError: _query_error,
            500: _server_error,
        },
    )
    app.state.pipeline = pipeline
    return app
