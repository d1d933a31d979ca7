"""Where alerts are delivered. A channel sends one JSON-ready payload and raises on failure.

Channel names are stored with every queued alert, so they must be stable across restarts and
unique within one outbox.
"""

from typing import Any, Protocol, runtime_checkable

from logradar.alerts.channels.console import ConsoleChannel
from logradar.alerts.channels.webhook import WebhookChannel, WebhookError


@runtime_checkable
class Channel(Protocol):
    """A delivery target: ``send`` returns when delivered and raises otherwise."""

    name: str

    def send(self, payload: dict[str, Any]) -> None: ...


__all__ = ["Channel", "ConsoleChannel", "WebhookChannel", "WebhookError"]
