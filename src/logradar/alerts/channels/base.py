"""What every channel shares: the error it raises, HTTP posting, and the message texts.

A channel turns a notification payload (see :func:`logradar.alerts.payload.notification`)
into its service's request. ``send`` returns the service's answer (shortened text) when the
notification was accepted and raises :class:`ChannelError` otherwise; ``retry_after`` carries
a ``Retry-After`` the service asked for (429 or 503).
"""

from __future__ import annotations

import email.utils
import time
from typing import Any, Protocol, runtime_checkable

import httpx

ANSWER_CHARS = 500


class ChannelError(RuntimeError):
    """The service refused or could not be reached; ``retry_after`` is seconds, if it said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@runtime_checkable
class Channel(Protocol):
    """A delivery target: ``send`` returns the service's answer when delivered, else raises."""

    name: str

    def send(self, payload: dict[str, Any]) -> str: ...


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds from now, or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def answer_text(response: httpx.Response) -> str:
    """``HTTP <status> <body>``, shortened."""
    return f"HTTP {response.status_code} {response.text[:ANSWER_CHARS]}".rstrip()


def check_response(name: str, response: httpx.Response) -> str:
    """The answer of a 2xx response; :class:`ChannelError` (with Retry-After) otherwise."""
    if response.is_success:
        return answer_text(response)
    retry = None
    if response.status_code in (429, 503):
        retry = retry_after_seconds(response.headers.get("Retry-After"))
    raise ChannelError(f"{name}: {answer_text(response)}", retry)


def post_json(
    client: httpx.Client,
    name: str,
    url: str,
    body: Any,
    headers: dict[str, str] | None = None,
) -> str:
    """POST ``body`` as JSON; the answer text, or :class:`ChannelError`."""
    try:
        response = client.post(url, json=body, headers=headers)
    except httpx.HTTPError as e:
        raise ChannelError(f"{name}: {type(e).__name__}: {e}") from e
    return check_response(name, response)


def subject(payload: dict[str, Any]) -> str:
    """``[logradar] FIRING|RESOLVED <severity> <stream>: <summary>``."""
    i = payload["incident"]
    return f"[logradar] {payload['event'].upper()} {i['severity']} {i['stream']}: {i['summary']}"


def text_body(payload: dict[str, Any]) -> str:
    """The full plain-text description of a notification."""
    i = payload["incident"]
    lines = [
        subject(payload),
        "",
        f"Incident {i['id']} ({i['status']}): {i['anomaly_count']} anomalies, "
        f"first {i['first_seen']}, last {i['last_seen']}"
        + (f", resolved {i['resolved_at']}" if i["resolved_at"] else ""),
        f"Stream: {i['stream']}  Detector: {i['detector']} ({i['kind']})  "
        f"Severity: {i['severity']}",
    ]
    if i["template"]:
        lines.append(f"Template {i['template_id']}: {i['template']}")
    lines += ["", i["explanation"]]
    if i["examples"]:
        lines += ["", "Example lines:", *(f"  {line}" for line in i["examples"])]
    if payload.get("url"):
        lines += ["", f"Open: {payload['url']}"]
    return "\n".join(lines) + "\n"
