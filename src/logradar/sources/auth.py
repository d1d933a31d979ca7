"""Token authentication for the receivers: who is writing, and may they write this stream."""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from fnmatch import fnmatchcase

from starlette.datastructures import Headers

from logradar.config import AuthConfig
from logradar.sources.common import IngestError


@dataclass(frozen=True, slots=True)
class Principal:
    tenant: str
    streams: tuple[str, ...]

    def may_write(self, stream: str) -> bool:
        return any(fnmatchcase(stream, pattern) for pattern in self.streams)


ANONYMOUS = Principal(tenant="anonymous", streams=("*",))


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
            (t.token.get_secret_value().encode(), Principal(t.tenant, tuple(t.streams)))
            for t in cfg.tokens
        ]

    def authenticate(self, headers: Headers) -> Principal:
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
        return found

    @staticmethod
    def authorize(principal: Principal, streams: list[str]) -> None:
        for stream in streams:
            if not principal.may_write(stream):
                raise IngestError(
                    403, f"tenant {principal.tenant!r} may not write to stream {stream!r}"
                )
