"""Channels against a real HTTP receiver and the logging system."""

from __future__ import annotations

import logging
import socket

import httpx
import pytest

from logradar.alerts import Channel, ConsoleChannel, WebhookChannel
from logradar.alerts.channels import WebhookError


def payload(anomaly):
    return {"alert_id": 1, "anomaly_id": 2, "channel": "x", "summary": "s", "anomaly": anomaly}


def test_webhook_posts_json(start_receiver, make_anomaly):
    r = start_receiver()
    ch = WebhookChannel(r.url, timeout=5)
    assert isinstance(ch, Channel)
    body = payload(make_anomaly().to_dict())
    ch.send(body)
    ch.close()
    assert r.delivered == [body]


@pytest.mark.parametrize("status", [500, 404, 302])
def test_webhook_non_2xx_raises(start_receiver, status):
    r = start_receiver(fail_first=1, fail_status=status)
    ch = WebhookChannel(r.url, timeout=5)
    with pytest.raises(WebhookError, match=str(status)):
        ch.send({"a": 1})
    ch.send({"a": 2})
    ch.close()
    assert r.delivered == [{"a": 2}]


def test_webhook_unreachable_raises():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ch = WebhookChannel(f"http://127.0.0.1:{port}/", timeout=2)
    with pytest.raises(httpx.HTTPError):
        ch.send({"a": 1})


def test_webhook_name_is_stable_and_hides_the_path():
    url = "https://hooks.example.com/services/T000/SECRET"
    a, b = WebhookChannel(url), WebhookChannel(url)
    assert a.name == b.name
    assert a.name.startswith("webhook:hooks.example.com:")
    assert "SECRET" not in a.name
    assert WebhookChannel(url + "2").name != a.name
    assert WebhookChannel(url, name="ops").name == "ops"


def test_console_logs_one_line_and_calls_back(caplog, make_anomaly):
    got = []
    ch = ConsoleChannel(got.append)
    a = make_anomaly()
    body = payload(a.to_dict())
    with caplog.at_level(logging.INFO, logger="logradar.alerts"):
        ch.send(body)
    (rec,) = [r for r in caplog.records if r.name == "logradar.alerts"]
    line = rec.getMessage()
    assert "high" in line and "stream=web" in line and "40 lines, expected 3" in line
    assert "\n" not in line
    assert got == [body]
    ConsoleChannel().send(body)  # no callback is fine
