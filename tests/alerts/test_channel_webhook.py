"""Webhook: logradar's payload or Alertmanager's v4 webhook payload, with headers."""

from __future__ import annotations

import logging
import socket

import pytest

from alert_helpers import RESOLVED, Request, deliver_through_outage, make_payload
from logradar.alerts.channels import Channel, ChannelError, ConsoleChannel, WebhookChannel
from logradar.store import Store

V4_KEYS = {
    "version", "groupKey", "truncatedAlerts", "status", "receiver", "groupLabels",
    "commonLabels", "commonAnnotations", "externalURL", "alerts",
}  # fmt: skip
V4_ALERT_KEYS = {
    "status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint",
}  # fmt: skip


def ok(request: Request):
    return 200, {}, b"thanks"


def test_logradar_format_with_headers(http_service) -> None:
    service = http_service(ok)
    channel = WebhookChannel(
        service.url + "/hook", 5, name="hook", headers={"Authorization": "Bearer t0ken"}
    )
    assert isinstance(channel, Channel)
    payload = make_payload()
    assert channel.send(payload) == "HTTP 200 thanks"
    (request,) = service.accepted
    assert request.headers["authorization"] == "Bearer t0ken"
    body = request.json()
    assert body == payload
    assert body["event"] == "firing" and body["incident"]["id"] == 12
    assert body["anomaly"]["stream"] == "payments" and body["anomaly_id"] == 99  # old fields


def test_alertmanager_v4_format(http_service) -> None:
    service = http_service(ok)
    channel = WebhookChannel(service.url, 5, name="hook", format="alertmanager")
    channel.send(make_payload())
    channel.send(make_payload(RESOLVED, seq=2))
    firing, resolved = (r.json() for r in service.accepted)
    assert set(firing) == V4_KEYS and firing["version"] == "4"
    assert (firing["status"], resolved["status"]) == ("firing", "resolved")
    assert firing["receiver"] == "hook"
    assert firing["groupLabels"] == {"detector": "frequency", "stream": "payments",
                                     "template_id": "7"}  # fmt: skip
    (alert,) = firing["alerts"]
    assert set(alert) == V4_ALERT_KEYS
    assert alert["labels"]["alertname"] == "LogAnomaly"
    assert alert["labels"]["severity"] == "high" and alert["labels"]["template_id"] == "7"
    assert alert["startsAt"] == "2024-03-01T12:00:00Z"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"  # what Alertmanager sends while firing
    assert resolved["alerts"][0]["endsAt"] == "2024-03-01T12:11:00Z"
    assert alert["fingerprint"] == resolved["alerts"][0]["fingerprint"]
    assert firing["externalURL"] == "http://logradar.example:8080/incidents/12"


@pytest.mark.parametrize("status", [500, 404, 302])
def test_non_2xx_raises(http_service, status) -> None:
    service = http_service(lambda r: (status, {}, b"no"))
    with pytest.raises(ChannelError, match=str(status)):
        WebhookChannel(service.url, 5).send(make_payload())


def test_unreachable_raises() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ChannelError, match="ConnectError"):
        WebhookChannel(f"http://127.0.0.1:{port}/", 2).send(make_payload())


def test_default_name_is_stable_and_hides_the_path() -> None:
    url = "https://hooks.example.com/services/T000/SECRET"
    a, b = WebhookChannel(url), WebhookChannel(url)
    assert a.name == b.name and a.name.startswith("webhook:hooks.example.com:")
    assert "SECRET" not in a.name and WebhookChannel(url + "2").name != a.name


def test_console_logs_the_subject_and_calls_back(caplog) -> None:
    got = []
    with caplog.at_level(logging.WARNING, "logradar.alerts"):
        assert ConsoleChannel(got.append).send(make_payload()) == "logged"
    assert "[logradar] FIRING high payments: template 7" in caplog.text
    assert got[0]["incident"]["id"] == 12


@pytest.mark.parametrize("fmt", ["logradar", "alertmanager"])
def test_down_for_ten_minutes_loses_nothing(http_service, store: Store, fmt) -> None:
    service = http_service(ok)
    channel = WebhookChannel(service.url, 5, name="hook", format=fmt)
    rows = deliver_through_outage(store, channel, lambda down: setattr(service, "down", down))
    assert [r["status"] for r in rows] == ["delivered", "delivered"]
    key = "event" if fmt == "logradar" else "status"
    assert [r.json()[key] for r in service.accepted] == ["firing", "resolved"]
