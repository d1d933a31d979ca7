"""The ``[alerts]`` settings of incident alerting: receivers (one model per type) and routes.

Kept apart from the channel code so that loading the configuration imports no HTTP or SMTP
client. :class:`~logradar.config.AlertsConfig` uses these models and checks that routes
name existing receivers.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, field_validator

MATCH_FIELDS = ("stream", "severity", "detector", "kind", "template_id")
"""Anomaly fields a route may match on (and incidents may be grouped by)."""

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"

_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def check_glob(pattern: str) -> str:
    """A glob (``*``, ``?``, ``[abc]``, ``[!abc]``) or ValueError saying what is wrong."""
    if not pattern:
        raise ValueError("empty pattern: use '*' to match anything")
    rest = pattern
    while "[" in rest:
        rest = rest[rest.index("[") + 1 :]
        body = rest[1:] if rest[:1] in ("!", "^") else rest
        close = body.find("]", 1)  # ']' right after '[' is a literal
        if close < 0:
            raise ValueError(f"bad glob {pattern!r}: '[' without a closing ']'")
        rest = body[close + 1 :]
    return pattern


class _Receiver(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(description="Unique receiver name that routes refer to.")
    min_interval_seconds: float = Field(
        0.0, ge=0, description="Rate limit: at least this long between two sends."
    )
    timeout_seconds: float = Field(10.0, gt=0, description="Per-request timeout.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("use 1-64 letters, digits, '_', '.', ':' or '-'")
        return v


class EmailReceiver(_Receiver):
    """SMTP with optional STARTTLS and auth; plain-text and HTML body."""

    type: Literal["email"]
    smtp_host: str
    smtp_port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None
    password: SecretStr | None = None
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)


class SmnReceiver(_Receiver):
    """Huawei Cloud SMN topic publish, signed with AK/SK (SDK-HMAC-SHA256)."""

    type: Literal["smn"]
    endpoint: AnyHttpUrl
    project_id: str
    topic_urn: str
    access_key: str
    secret_key: SecretStr


class PagerDutyReceiver(_Receiver):
    """PagerDuty Events API v2: trigger and resolve with ``dedup_key`` = incident id."""

    type: Literal["pagerduty"]
    routing_key: SecretStr
    url: AnyHttpUrl = AnyHttpUrl(PAGERDUTY_EVENTS_URL)


class SlackReceiver(_Receiver):
    """Slack (or Mattermost / Rocket.Chat compatible) incoming webhook with Block Kit."""

    type: Literal["slack"]
    webhook_url: AnyHttpUrl
    min_interval_seconds: float = Field(1.0, ge=0, description="Slack allows ~1 msg/s.")


class AlertmanagerReceiver(_Receiver):
    """A Prometheus Alertmanager: ``POST /api/v2/alerts`` with ``startsAt``/``endsAt``."""

    type: Literal["alertmanager"]
    url: AnyHttpUrl


class WebhookReceiver(_Receiver):
    """JSON POST: logradar's own payload or the Alertmanager v4 webhook payload."""

    type: Literal["webhook"]
    url: AnyHttpUrl
    headers: dict[str, str] = Field(default_factory=dict)
    format: Literal["logradar", "alertmanager"] = "logradar"


ReceiverConfig = Annotated[
    EmailReceiver
    | SmnReceiver
    | PagerDutyReceiver
    | SlackReceiver
    | AlertmanagerReceiver
    | WebhookReceiver,
    Field(discriminator="type"),
]


class RouteConfig(BaseModel):
    """Incidents whose first anomaly matches every ``match`` glob go to ``receivers``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    match: dict[str, str] = Field(default_factory=dict)
    receivers: list[str] = Field(min_length=1)
    continue_: bool = Field(False, alias="continue")

    @field_validator("match")
    @classmethod
    def _match(cls, v: dict[str, str]) -> dict[str, str]:
        for key, pattern in v.items():
            if key not in MATCH_FIELDS:
                raise ValueError(f"cannot match on {key!r}: use {', '.join(MATCH_FIELDS)}")
            try:
                check_glob(pattern)
            except ValueError as e:
                raise ValueError(f"match.{key}: {e}") from None
        return v
