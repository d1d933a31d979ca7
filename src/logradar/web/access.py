"""Who may read: the UI, the read API, ``/metrics`` and feedback need a ``read`` token when
auth is on (see :mod:`logradar.sources.auth`); ``/healthz`` stays open for load balancers.

401 (no token, unknown token) carries a ``WWW-Authenticate`` challenge: ``Bearer`` for the
API and ``/metrics``, ``Basic`` for UI pages so a browser asks for it (any user name, the
token as password). 403: the token lacks the ``read`` scope.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

from logradar.sources.auth import Principal
from logradar.sources.common import IngestError, pipeline_of

BROWSER_CHALLENGE = 'Basic realm="logradar", charset="UTF-8"'


def require_read(request: Request) -> Principal:
    """The caller, if it may read; :class:`HTTPException` 401/403 otherwise."""
    try:
        return pipeline_of(request).auth.authenticate(request.headers, "read")
    except IngestError as e:
        raise HTTPException(e.status, e.reason, e.headers) from None
