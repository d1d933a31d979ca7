"""Huawei Cloud SMN: publish to a topic with a message structure, signed with AK/SK.

``POST {endpoint}/v2/{project_id}/notifications/topics/{topic_urn}/publish`` with ``subject``
(the mail subject, at most 512 bytes) and ``message_structure``: a JSON string with a short
text for ``sms`` subscribers and the full text for ``email`` and ``default`` (every other
protocol). SMN answers ``{"request_id": ..., "message_id": ...}``. Requests are signed with
``SDK-HMAC-SHA256`` (:mod:`logradar.sources.huawei_signer`).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx

from logradar.alerts.channels.base import ChannelError, check_response, subject, text_body
from logradar.sources.huawei_signer import sign

SUBJECT_BYTES = 512
SMS_CHARS = 300


def _cut_utf8(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def publish_body(payload: dict[str, Any]) -> dict[str, str]:
    """The publish request body for a notification."""
    sms = subject(payload).removeprefix("[logradar] ")
    if payload.get("url"):
        sms += f" {payload['url']}"
    full = text_body(payload)
    structure = {"default": full, "email": full, "sms": sms[:SMS_CHARS]}
    return {
        "subject": _cut_utf8(subject(payload), SUBJECT_BYTES),
        "message_structure": json.dumps(structure, ensure_ascii=False),
    }


class SmnChannel:
    """Publish each notification to one SMN topic."""

    def __init__(
        self,
        name: str,
        *,
        endpoint: str,
        project_id: str,
        topic_urn: str,
        access_key: str,
        secret_key: str,
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        base = str(endpoint).rstrip("/")
        self.url = (
            f"{base}/v2/{quote(project_id, safe='')}/notifications/topics/"
            f"{quote(topic_urn, safe=':')}/publish"
        )
        self.access_key = access_key
        self.secret_key = secret_key
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, payload: dict[str, Any]) -> str:
        body = json.dumps(publish_body(payload), ensure_ascii=False).encode("utf-8")
        headers = sign(
            "POST",
            self.url,
            {"Content-Type": "application/json;charset=UTF-8"},
            body,
            self.access_key,
            self.secret_key,
        )
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as e:
            raise ChannelError(f"{self.name}: {type(e).__name__}: {e}") from e
        return check_response(self.name, response)

    def close(self) -> None:
        self._client.close()
