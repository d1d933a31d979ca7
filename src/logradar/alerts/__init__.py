"""Alerting: rules pick anomalies, a durable outbox delivers them to channels.

Typical wiring (what ``logradar up`` does)::

    rules = AlertRules(cfg.alerts.min_severity, cfg.alerts.cooldown_seconds)
    outbox = build_outbox(store, cfg.alerts)
    for anomaly_id, anomaly in store.add_anomalies(found):
        if rules.decide(anomaly, now_ns()):
            outbox.enqueue(anomaly_id, anomaly)
    threading.Thread(target=outbox.run, args=(stop,), daemon=True).start()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from logradar.alerts.channels import Channel, ConsoleChannel, WebhookChannel
from logradar.alerts.outbox import Outbox
from logradar.alerts.rules import AlertRules
from logradar.config import AlertsConfig
from logradar.store import Store


def build_outbox(
    store: Store,
    cfg: AlertsConfig,
    console_callback: Callable[[dict[str, Any]], None] | None = None,
) -> Outbox:
    """An :class:`Outbox` with the channels and retry policy of ``cfg``."""
    channels: list[Channel] = [WebhookChannel(str(u), cfg.timeout_seconds) for u in cfg.webhooks]
    if cfg.console:
        channels.append(ConsoleChannel(console_callback))
    return Outbox(
        store,
        channels,
        max_attempts=cfg.max_attempts,
        backoff_seconds=cfg.backoff_seconds,
        backoff_max_seconds=cfg.backoff_max_seconds,
    )


__all__ = [
    "AlertRules",
    "Channel",
    "ConsoleChannel",
    "Outbox",
    "WebhookChannel",
    "build_outbox",
]
