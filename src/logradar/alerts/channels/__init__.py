"""Where notifications are delivered: one class per receiver type, built from the config.

Channel names are stored with every queued notification, so they must be stable across
restarts and unique within one outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from logradar.alerts.channels.base import Channel, ChannelError
from logradar.alerts.channels.console import ConsoleChannel
from logradar.alerts.channels.webhook import WebhookChannel
from logradar.alerts.settings import (
    AlertmanagerReceiver,
    EmailReceiver,
    PagerDutyReceiver,
    ReceiverConfig,
    SlackReceiver,
    SmnReceiver,
    WebhookReceiver,
)
from logradar.config import AlertsConfig


def build_channel(receiver: ReceiverConfig, cfg: AlertsConfig) -> Channel:
    """The channel for one ``[[alerts.receivers]]`` entry."""
    timeout = receiver.timeout_seconds
    if isinstance(receiver, EmailReceiver):
        from logradar.alerts.channels.email import EmailChannel

        return EmailChannel(
            receiver.name,
            smtp_host=receiver.smtp_host,
            smtp_port=receiver.smtp_port,
            starttls=receiver.starttls,
            username=receiver.username,
            password=receiver.password.get_secret_value() if receiver.password else None,
            sender=receiver.from_,
            to=receiver.to,
            timeout=timeout,
        )
    if isinstance(receiver, SmnReceiver):
        from logradar.alerts.channels.smn import SmnChannel

        return SmnChannel(
            receiver.name,
            endpoint=str(receiver.endpoint),
            project_id=receiver.project_id,
            topic_urn=receiver.topic_urn,
            access_key=receiver.access_key,
            secret_key=receiver.secret_key.get_secret_value(),
            timeout=timeout,
        )
    if isinstance(receiver, PagerDutyReceiver):
        from logradar.alerts.channels.pagerduty import PagerDutyChannel

        key = receiver.routing_key.get_secret_value()
        return PagerDutyChannel(receiver.name, key, str(receiver.url), timeout=timeout)
    if isinstance(receiver, SlackReceiver):
        from logradar.alerts.channels.slack import SlackChannel

        return SlackChannel(receiver.name, str(receiver.webhook_url), timeout=timeout)
    if isinstance(receiver, AlertmanagerReceiver):
        from logradar.alerts.channels.alertmanager import AlertmanagerChannel

        ttl = cfg.repeat_interval + cfg.resolve_after_seconds
        return AlertmanagerChannel(
            receiver.name, str(receiver.url), firing_ttl_seconds=ttl, timeout=timeout
        )
    assert isinstance(receiver, WebhookReceiver)
    return WebhookChannel(
        str(receiver.url),
        timeout,
        name=receiver.name,
        headers=receiver.headers,
        format=receiver.format,
    )


def build_channels(
    cfg: AlertsConfig, console_callback: Callable[[dict[str, Any]], None] | None = None
) -> tuple[list[Channel], list[str]]:
    """Every channel of ``cfg``, and the names of the default ones (``webhooks`` URLs and
    ``console``: they get every incident)."""
    channels = [build_channel(r, cfg) for r in cfg.receivers]
    defaults: list[Channel] = [WebhookChannel(str(u), cfg.timeout_seconds) for u in cfg.webhooks]
    if cfg.console:
        defaults.append(ConsoleChannel(console_callback))
    return channels + defaults, [c.name for c in defaults]


__all__ = [
    "Channel",
    "ChannelError",
    "ConsoleChannel",
    "WebhookChannel",
    "build_channel",
    "build_channels",
]
