"""Generic JSON webhook: POST the alert payload; any 2xx answer means delivered."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

import httpx


class WebhookError(RuntimeError):
    """The receiver answered with a non-2xx status."""


class WebhookChannel:
    """POST each alert as JSON to ``url``.

    A non-2xx answer raises :class:`WebhookError`; timeouts and connection failures raise the
    underlying :class:`httpx.HTTPError`. The default ``name`` is ``webhook:<host>:<hash>``: stable
    for the URL, without the path or credentials (webhook URLs often embed a secret).
    """

    def __init__(self, url: str, timeout: float = 10.0, *, name: str | None = None) -> None:
        self.url = str(url)
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:8]
        self.name = name or f"webhook:{urlsplit(self.url).hostname}:{digest}"
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, payload: dict[str, Any]) -> None:
        response = self._client.post(self.url, json=payload)
        if not response.is_success:
            raise WebhookError(
                f"{self.name} answered HTTP {response.status_code}: {response.text[:200]!r}"
            )

    def close(self) -> None:
        self._client.close()
