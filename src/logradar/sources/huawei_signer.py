"""Huawei Cloud AK/SK request signing (``SDK-HMAC-SHA256``), as the official SDKs do it.

The canonical request is ``METHOD\\nURI/\\nQUERY\\nHEADERS\\nSIGNED_HEADERS\\nSHA256(body)``
(path segments percent-encoded with a trailing ``/``; query pairs sorted and encoded; every
header without ``_`` lower-cased, sorted, ``name:value``). The string to sign is
``SDK-HMAC-SHA256\\n<X-Sdk-Date>\\nSHA256(canonical request)``, the signature its HMAC-SHA256
with the secret key, and the ``Authorization`` header
``SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<h1;h2>, Signature=<hex>``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote, urlsplit

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
DATE_HEADER = "X-Sdk-Date"
CONTENT_HASH_HEADER = "X-Sdk-Content-Sha256"


def _encode(value: str) -> str:
    return quote(value, safe="~")


def canonical_request(
    method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
) -> tuple[str, str]:
    """The canonical request and the signed-header list for a request as sent."""
    uri = "/".join(_encode(part) for part in unquote(path).split("/"))
    if not uri.endswith("/"):
        uri += "/"
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    canonical_query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in pairs)
    lowered = {k.lower(): str(v).strip() for k, v in headers.items()}
    signed = sorted(k for k in lowered if "_" not in k)
    canonical_headers = "".join(f"{k}:{lowered[k]}\n" for k in signed)
    payload = lowered.get(CONTENT_HASH_HEADER.lower()) or hashlib.sha256(body).hexdigest()
    parts = (method.upper(), uri, canonical_query, canonical_headers, ";".join(signed), payload)
    return "\n".join(parts), ";".join(signed)


def signature(secret_key: str, date: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{date}\n{digest}"
    return hmac.new(secret_key.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    access_key: str,
    secret_key: str,
    now: datetime | None = None,
) -> dict[str, str]:
    """Return ``headers`` plus ``Host``, ``X-Sdk-Date`` and ``Authorization`` for the request.

    Send these headers as they are: the server recomputes the signature over the headers
    listed in ``SignedHeaders`` (headers the HTTP client adds later are not signed).
    """
    parts = urlsplit(url)
    out = dict(headers)
    out.setdefault("Host", parts.netloc)
    out[DATE_HEADER] = (now or datetime.now(UTC)).strftime(DATE_FORMAT)
    canonical, signed = canonical_request(method, parts.path or "/", parts.query, out, body)
    sig = signature(secret_key, out[DATE_HEADER], canonical)
    out["Authorization"] = (
        f"{ALGORITHM} Access={access_key}, SignedHeaders={signed}, Signature={sig}"
    )
    return out
