"""Slack incoming webhook with Block Kit; Mattermost and Rocket.Chat read its ``text``.

The message has a header (FIRING/RESOLVED, severity, stream), fields (severity, stream,
detector, anomalies), the explanation, the first example line and a button to the incident.
``text`` carries the same in mrkdwn for notifications and for servers without blocks.
Slack answers ``ok``; 429 comes with ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

import httpx

from logradar.alerts.channels.base import post_json

HEADER_CHARS = 150
SECTION_CHARS = 3000


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text[:SECTION_CHARS]}


def message(payload: dict[str, Any]) -> dict[str, Any]:
    """The webhook body for a notification."""
    incident = payload["incident"]
    state = payload["event"].upper()
    title = f"{state} {incident['severity']} {incident['stream']}: {incident['summary']}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:HEADER_CHARS]}},
        {
            "type": "section",
            "fields": [
                _mrkdwn(f"*Severity*\n{incident['severity']}"),
                _mrkdwn(f"*Stream*\n{incident['stream']}"),
                _mrkdwn(f"*Detector*\n{incident['detector']} ({incident['kind']})"),
                _mrkdwn(f"*Anomalies*\n{incident['anomaly_count']}"),
            ],
        },
        {"type": "section", "text": _mrkdwn(incident["explanation"])},
    ]
    if incident["examples"]:
        example = incident["examples"][0].replace("`", "'")
        blocks.append({"type": "context", "elements": [_mrkdwn(f"Example: `{example}`")]})
    text = f"*{title}*\n{incident['explanation']}"
    if payload.get("url"):
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": f"Incident {incident['id']}"},
                        "url": payload["url"],
                    }
                ],
            }
        )
        text += f"\n<{payload['url']}|Incident {incident['id']}>"
    return {"text": text[:SECTION_CHARS], "blocks": blocks}


class SlackChannel:
    """POST each notification to a Slack-compatible incoming webhook."""

    def __init__(self, name: str, webhook_url: str, *, timeout: float = 10.0) -> None:
        self.name = name
        self.url = str(webhook_url)
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, payload: dict[str, Any]) -> str:
        return post_json(self._client, self.name, self.url, message(payload))

    def close(self) -> None:
        self._client.close()
