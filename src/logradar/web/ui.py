"""The anomalies page ``GET /anomalies``: recent anomalies and a per-stream volume chart, and
the page rendering (:func:`render`, :func:`denied`) every UI view shares.

Rendered server-side with Jinja2 (autoescaping on: log lines are untrusted input); the chart
is inline SVG and a few lines of inline JavaScript refresh the page content, so the page needs
no network assets. A Content-Security-Policy with a per-response nonce allows only that script.

When auth is on the page needs a ``read`` token: without one it answers 401 with a ``Basic``
challenge, so the browser asks (any user name, the token as password) and then sends the
credentials with the page's own same-origin requests too.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from logradar.sources.auth import Principal
from logradar.sources.common import pipeline_of
from logradar.web import tenancy
from logradar.web.access import BROWSER_CHALLENGE, require_read
from logradar.web.chart import build_chart
from logradar.web.params import PageQuery, QueryError, parse_query

if TYPE_CHECKING:
    from logradar.pipeline import Pipeline

SINCE_CHOICES = ("15m", "1h", "6h", "24h", "7d")
REFRESH_SECONDS = 5
MAX_ANOMALIES = 100
EXAMPLE_CHARS = 2000
"""Longer example lines are cut for display (the API returns them whole)."""


def _when(iso: str | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return "" if iso is None else datetime.fromisoformat(iso).astimezone(UTC).strftime(fmt)


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _clip(text: str, limit: int = EXAMPLE_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more chars)"


_env = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("ui")),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _ns_iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="seconds")


def _ns_when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S")


_env.filters.update(when=_when, num=_num, clip=_clip, ns_iso=_ns_iso, ns_when=_ns_when)


def _iso_ns(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp()) * 10**9


def _mark_label(a: dict[str, Any]) -> str:
    return f"{a['severity']} {a['detector']}/{a['kind']} on {a['stream']}: " + _clip(
        a["explanation"], 200
    )


def _load(pipeline: Pipeline, q: PageQuery, principal: Principal) -> dict[str, Any]:
    """Everything the page shows of the streams ``principal`` may read, read in one go
    (blocking: run it in a thread)."""
    store = pipeline.store
    since = q.since_ns
    anomalies = tenancy.list_anomalies(store, principal, q.stream, since, MAX_ANOMALIES)
    streams = tenancy.readable_streams(store, principal)
    chart = build_chart(
        tenancy.volume(store, principal, since, q.stream),
        int(pipeline.settings.engine.window_seconds * 1e9),
        anomalies=[(_iso_ns(a["start"]), a["severity"], _mark_label(a)) for a in anomalies],
        streams=streams,
    )
    if q.stream and q.stream not in streams:
        streams.append(q.stream)
    return {
        "health": pipeline.health(),
        "streams": streams,
        "anomalies": anomalies,
        "chart": chart,
    }


def render(
    status: int,
    *,
    error_title: str = "Bad request",
    sign_in: bool = False,
    page: str = "index.html",
    view: str = "anomalies",
    **context: Any,
) -> HTMLResponse:
    """The UI template ``page`` with a fresh CSP nonce and the security headers."""
    nonce = secrets.token_urlsafe(16)
    html = _env.get_template(page).render(
        view=view,
        nonce=nonce,
        error_title=error_title,
        sign_in=sign_in,
        since_choices=SINCE_CHOICES,
        refresh_seconds=REFRESH_SECONDS,
        now=datetime.now(UTC).strftime("%H:%M:%S"),
        **context,
    )
    csp = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
        "connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    return HTMLResponse(html, status, headers=headers)


def denied(e: HTTPException) -> HTMLResponse:
    """The page without data, saying why; 401 challenges the browser for a token."""
    title = "Sign-in required" if e.status_code == 401 else "Not allowed"
    page = render(
        e.status_code, error_title=title, sign_in=True, error=e.detail, query=PageQuery(), data=None
    )
    if e.status_code == 401:
        page.headers["WWW-Authenticate"] = BROWSER_CHALLENGE
    return page


async def index(request: Request) -> HTMLResponse:
    """The page; ``?stream=`` filters by stream, ``?since=`` sets the time range."""
    try:
        principal = require_read(request)
    except HTTPException as e:
        return denied(e)
    try:
        q = parse_query(PageQuery, request.query_params)
    except QueryError as e:
        return render(400, error=str(e), query=PageQuery(), data=None)
    try:
        data = await run_in_threadpool(_load, pipeline_of(request), q, principal)
    except HTTPException as e:
        return denied(e)
    return render(200, error=None, query=q, data=data)


routes = [Route("/anomalies", index)]
