"""Slack incoming webhook against a local server that checks Block Kit as documented."""

from __future__ import annotations

import pytest

from alert_helpers import RESOLVED, Request, deliver_through_outage, make_payload
from logradar.alerts.channels import ChannelError
from logradar.alerts.channels.slack import SlackChannel
from logradar.store import Store


def block_problems(body: dict) -> list[str]:
    """The Block Kit rules a Slack webhook enforces, for the blocks logradar sends."""
    problems = []
    if not body.get("text") and not body.get("blocks"):
        problems.append("no_text")
    for block in body.get("blocks", []):
        kind = block.get("type")
        if kind == "header":
            text = block["text"]
            if text["type"] != "plain_text" or not 0 < len(text["text"]) <= 150:
                problems.append("invalid header")
        elif kind == "section":
            fields = block.get("fields", [])
            if not block.get("text") and not fields:
                problems.append("section without text or fields")
            if len(fields) > 10 or any(len(f["text"]) > 2000 for f in fields):
                problems.append("invalid fields")
            if block.get("text") and len(block["text"]["text"]) > 3000:
                problems.append("section text too long")
        elif kind == "context":
            if not 0 < len(block["elements"]) <= 10:
                problems.append("invalid context")
        elif kind == "actions":
            for e in block["elements"]:
                if e["type"] != "button" or not e["url"].startswith("http"):
                    problems.append("invalid button")
        else:
            problems.append(f"unknown block type {kind}")
    return problems


def slack(request: Request):
    if request.headers.get("content-type") != "application/json":
        return 400, {}, b"invalid_payload"
    problems = block_problems(request.json())
    return (400, {}, b"invalid_blocks") if problems else (200, {}, b"ok")


def test_block_kit_message_with_severity_stream_explanation_example_link(http_service) -> None:
    service = http_service(slack)
    channel = SlackChannel("chat", service.url + "/services/T0/B0/XYZ", timeout=5)
    assert channel.send(make_payload()) == "HTTP 200 ok"
    body = service.accepted[0].json()
    header, fields, explanation, context, actions = body["blocks"]
    assert header["text"]["text"].startswith("FIRING high payments: template 7")
    assert [f["text"].split("\n")[1] for f in fields["fields"]] == [
        "high", "payments", "frequency (spike)", "5",
    ]  # fmt: skip
    assert "expected 3" in explanation["text"]["text"]
    assert "POST /pay/123 500 upstream timeout" in context["elements"][0]["text"]
    assert actions["elements"][0]["url"] == "http://logradar.example:8080/incidents/12"
    # Mattermost / Rocket.Chat read `text`: it carries the same, with the link
    assert body["text"].startswith("*FIRING high payments")
    assert "<http://logradar.example:8080/incidents/12|Incident 12>" in body["text"]
    channel.send(make_payload(RESOLVED, seq=2))
    assert service.accepted[1].json()["blocks"][0]["text"]["text"].startswith("RESOLVED")


def test_a_long_summary_still_fits_the_header(http_service) -> None:
    service = http_service(slack)
    payload = make_payload()
    payload["incident"]["summary"] = "x" * 500
    SlackChannel("chat", service.url, timeout=5).send(payload)
    assert len(service.accepted) == 1


def test_429_retry_after_is_passed_on(http_service) -> None:
    throttled = http_service(lambda r: (429, {"Retry-After": "3"}, b"rate_limited"))
    with pytest.raises(ChannelError, match="429") as e:
        SlackChannel("chat", throttled.url, timeout=5).send(make_payload())
    assert e.value.retry_after == 3


def test_down_for_ten_minutes_loses_nothing(http_service, store: Store) -> None:
    service = http_service(slack)
    channel = SlackChannel("chat", service.url, timeout=5)
    rows = deliver_through_outage(store, channel, lambda down: setattr(service, "down", down))
    assert [r["status"] for r in rows] == ["delivered", "delivered"]
    headers = [r.json()["blocks"][0]["text"]["text"].split()[0] for r in service.accepted]
    assert headers == ["FIRING", "RESOLVED"]
