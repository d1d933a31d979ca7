"""Guards in front of every route against browsers turned into weapons (``logradar up``).

- **DNS rebinding**: a page on ``attacker.example`` whose name later resolves to 127.0.0.1
  reaches the loopback server with ``Host: attacker.example``. Only the names in
  ``server.allowed_hosts`` are served (by default, on a loopback address: ``localhost``,
  ``127.0.0.1``, ``::1`` and ``server.host``); others get 400.
- **Cross-site writes (CSRF)**: a page may POST ``text/plain`` to ``/api/v1/logs`` or
  ``/_bulk`` without a preflight. Writes (anything but GET/HEAD/OPTIONS) that the browser
  marks cross-site (``Sec-Fetch-Site``) or whose ``Origin`` is not this server get 403,
  unless the origin is in ``server.allowed_origins``. Clients that send neither header
  (shippers, curl, SDKs) are not browsers and pass.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from logradar.config import LOOPBACK_HOSTS, ServerConfig

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def served_hosts(server: ServerConfig) -> tuple[str, ...] | None:
    """Host name globs served, or None for any (a non-loopback address, nothing configured)."""
    if server.allowed_hosts:
        return tuple(h.lower().strip("[]") for h in server.allowed_hosts)
    if server.host in LOOPBACK_HOSTS:
        return (*LOOPBACK_NAMES, server.host.lower().strip("[]"))
    return None


def host_name(host_header: str) -> str:
    """``example.com:8080`` -> ``example.com``; ``[::1]:8080`` -> ``::1``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_cross_site(headers: Headers, allowed_origins: tuple[str, ...]) -> bool:
    """Whether a browser sent this request from another site not allowed to write here."""
    origin = headers.get("origin")
    if origin is not None and (origin in allowed_origins or "*" in allowed_origins):
        return False
    if headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return True
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc.lower() != headers.get("host", "").lower()


class RequestGuard:
    """ASGI middleware applying the Host and cross-site write checks above."""

    def __init__(self, app: ASGIApp, server: ServerConfig) -> None:
        self.app = app
        self.hosts = served_hosts(server)
        self.origins = tuple(server.allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            refusal = self._refusal(scope, headers)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope, headers: Headers) -> JSONResponse | None:
        host = headers.get("host", "")
        if self.hosts is not None and not any(
            fnmatchcase(host_name(host), pattern) for pattern in self.hosts
        ):
            reason = (
                f"Host {host[:100]!r} is not served here (a guard against DNS rebinding); "
                "add the name to server.allowed_hosts"
            )
            return JSONResponse({"error": reason}, 400)
        if scope["method"] not in SAFE_METHODS and is_cross_site(headers, self.origins):
            origin = headers.get("origin", headers.get("sec-fetch-site", ""))
            reason = (
                f"cross-site {scope['method']} from {origin[:100]!r} refused (CSRF guard); "
                "add the origin to server.allowed_origins if it may write here"
            )
            return JSONResponse({"error": reason}, 403)
        return None
