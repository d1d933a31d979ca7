"""Token authentication: who is calling, may they do this (a scope), and write this stream.

Scopes: ``ingest`` for the receivers, ``read`` for the UI, the read API, ``/metrics`` and
feedback (see :data:`logradar.config.TOKEN_SCOPES`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from dataclasses import dataclass
from fnmatch import fnmatchcase

from starlette.datastructures import Headers

from logradar.config import TOKEN_SCOPES, AuthConfig, TokenScope
from logradar.sources.common import IngestError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Principal:
    tenant: str
    streams: tuple[str, ...]
    scopes: frozenset[str] = frozenset({"ingest"})

    def may_write(self, stream: str) -> bool:
        return any(fnmatchcase(stream, pattern) for pattern in self.streams)

    def may_read(self, stream: str) -> bool:
        """The same globs limit reads: anomalies, examples, volumes, alerts, feedback."""
        return self.may_write(stream)


SCOPE_USES: dict[str, str] = {
    "ingest": "needed to send logs",
    "read": "needed for the UI, the read API, /metrics and feedback",
}

ANONYMOUS = Principal(tenant="anonymous", streams=("*",), scopes=frozenset(TOKEN_SCOPES))


def presented_token(headers: Headers) -> str | None:
    """The token a client sent: Bearer, ApiKey, Basic password, or LTS's X-Auth-Token."""
    if token := headers.get("x-auth-token"):
        return token.strip()
    scheme, _, value = headers.get("authorization", "").strip().partition(" ")
    scheme = scheme.lower()
    if scheme in ("bearer", "apikey") and value:
        return value.strip()
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


class Authenticator:
    """Checks tokens in constant time; never logs or echoes them."""

    def __init__(self, cfg: AuthConfig, enabled: bool) -> None:
        self.enabled = enabled
        self._tokens = [
            (
                t.token.get_secret_value().encode(),
                Principal(t.tenant, tuple(t.streams), frozenset(t.scopes)),
            )
            for t in cfg.tokens
        ]
        if enabled and not any("read" in p.scopes for _, p in self._tokens):
            log.warning(
                "no token has the 'read' scope: the UI, the read API and /metrics answer 403 "
                'to every token (add scopes = ["read"] to a token of [[auth.tokens]])'
            )

    def authenticate(self, headers: Headers, scope: TokenScope = "ingest") -> Principal:
        """The caller's principal if its token is valid and has ``scope``.

        :class:`IngestError` 401 without a token or with an unknown one, 403 when the token
        lacks ``scope``. Auth off: :data:`ANONYMOUS`, which may do everything.
        """
        if not self.enabled:
            return ANONYMOUS
        token = presented_token(headers)
        if token is None:
            raise IngestError(401, "authentication required: send 'Authorization: Bearer <token>'")
        given = token.encode()
        found = None
        for secret, principal in self._tokens:  # check all: timing does not reveal which
            if hmac.compare_digest(secret, given):
                found = principal
        if found is None:
            raise IngestError(401, "invalid token")
        if scope not in found.scopes:
            raise IngestError(
                403,
                f"the token of tenant {found.tenant!r} lacks the {scope!r} scope "
                f"({SCOPE_USES[scope]}); it has: {', '.join(sorted(found.scopes))}",
            )
        return found

    @staticmethod
    def authorize(principal: Principal, streams: list[str]) -> None:
        for stream in streams:
            if not principal.may_write(stream):
                raise IngestError(
                    403, f"tenant {principal.tenant!r} may not write to stream {stream!r}"
                )
