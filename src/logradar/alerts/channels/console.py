"""Console channel: one readable log line per notification, plus an optional callback."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from logradar.alerts.channels.base import subject

logger = logging.getLogger("logradar.alerts")


class ConsoleChannel:
    """Log each notification on logger ``logradar.alerts`` (warning level) and pass the
    payload to ``callback`` if given (the demo prints alerts with it)."""

    name = "console"

    def __init__(self, callback: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.callback = callback

    def send(self, payload: dict[str, Any]) -> str:
        line = subject(payload)
        if payload.get("url"):
            line += f" {payload['url']}"
        logger.warning("%s", line)
        if self.callback is not None:
            self.callback(payload)
        return "logged"
