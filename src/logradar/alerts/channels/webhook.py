"""Generic JSON webhook: logradar's payload, or the Alertmanager v4 webhook payload.

Any 2xx answer means delivered. ``headers`` are sent with every request (e.g.
``Authorization``). ``format = "alertmanager"`` sends what Alertmanager's own webhook
receiver sends (``version`` 4), so tools written for Alertmanager work unchanged.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

import httpx

from logradar.alerts.channels.alertmanager import webhook_v4
from logradar.alerts.channels.base import post_json


class WebhookChannel:
    """POST each notification as JSON to ``url``.

    The default ``name`` is ``webhook:<host>:<hash>``: stable for the URL, without the path or
    credentials (webhook URLs often embed a secret).
    """

    def __init__(
        self,
        url: str,
        timeout: float = 10.0,
        *,
        name: str | None = None,
        headers: dict[str, str] | None = None,
        format: str = "logradar",
    ) -> None:
        self.url = str(url)
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:8]
        self.name = name or f"webhook:{urlsplit(self.url).hostname}:{digest}"
        self.headers = dict(headers or {})
        self.format = format
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, payload: dict[str, Any]) -> str:
        body = webhook_v4(payload, self.name) if self.format == "alertmanager" else payload
        return post_json(self._client, self.name, self.url, body, self.headers)

    def close(self) -> None:
        self._client.close()
