"""``GET /api/v1/search``: archived lines, the same filters as ``logradar search``.

``?q=`` (substring; every line without it), ``regex=true`` (``q`` is RE2), ``ignore_case=
true``, ``stream=``, ``since=``/``until=`` (ISO-8601, epoch seconds or a duration ago) and
``limit=`` (1..10000, default 100). Answers ``{"lines": [...]}`` newest first; an invalid
parameter or regular expression answers 400. Needs the ``read`` scope when auth is on.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from logradar.sources.common import pipeline_of
from logradar.web import tenancy
from logradar.web.access import require_read
from logradar.web.params import QueryError, Since, Stream, _Query, parse_query


class SearchParams(_Query):
    q: str | None = None
    regex: bool = False
    ignore_case: bool = False
    stream: Stream = None
    since: Since = None
    until: Since = None
    limit: Annotated[int, Field(ge=1, le=10_000)] = 100


def _run(settings, params: SearchParams) -> list[dict]:
    from logradar.archive.layout import open_dataset
    from logradar.archive.search import SearchError, SearchQuery, rows, search

    query = SearchQuery(
        text=params.q,
        regex=params.regex,
        ignore_case=params.ignore_case,
        stream=params.stream,
        since_ns=params.since,
        until_ns=params.until,
        limit=params.limit,
    )
    try:
        return rows(search(open_dataset(settings.archive_url, settings.archive), query))
    except SearchError as e:
        raise QueryError(f"invalid q: {e}") from None


async def search_lines(request: Request) -> JSONResponse:
    principal = require_read(request)
    params = parse_query(SearchParams, request.query_params)
    if params.stream is not None:
        tenancy.check_stream(principal, params.stream)
    lines = await run_in_threadpool(_run, pipeline_of(request).settings, params)
    if not tenancy.sees_everything(principal):  # of the newest ``limit`` lines
        lines = [line for line in lines if principal.may_read(line["stream"])]
    return JSONResponse({"lines": lines})
