"""Console channel: one readable log line per alert, plus an optional callback."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("logradar.alerts")


class ConsoleChannel:
    """Log each alert on logger ``logradar.alerts`` (warning level) and pass the payload to
    ``callback`` if given (the demo prints alerts with it)."""

    name = "console"

    def __init__(self, callback: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.callback = callback

    def send(self, payload: dict[str, Any]) -> None:
        a = payload["anomaly"]
        explanation = " ".join(str(a["explanation"]).split())
        logger.warning("ALERT %s stream=%s: %s", a["severity"], a["stream"], explanation)
        if self.callback is not None:
            self.callback(payload)
