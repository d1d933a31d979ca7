"""IncidentAlerting on a real store: incidents saved, anomalies linked, notifications queued
once per receiver, resolve, silences from mutes, restart."""

from __future__ import annotations

from typing import Any

from alert_helpers import T0, Clock, S, make_anomaly
from logradar.alerts.manager import IncidentAlerting, build_alerting
from logradar.alerts.outbox import Outbox
from logradar.alerts.routing import Router
from logradar.alerts.settings import RouteConfig
from logradar.config import AlertsConfig
from logradar.schema import Severity
from logradar.store import Store


class Recorder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[dict[str, Any]] = []

    def send(self, payload: dict[str, Any]) -> str:
        self.sent.append(payload)
        return "ok"


def alerting(store: Store, clock: Clock, *names: str, **cfg: Any) -> IncidentAlerting:
    config = AlertsConfig(
        group_wait_seconds=30, resolve_after_seconds=600, ui_url="http://ui.example/", **cfg
    )
    channels = [Recorder(n) for n in names]
    outbox = Outbox(store, channels, clock=clock)
    routes = [RouteConfig(match={"stream": "pay*"}, receivers=list(names))]
    return IncidentAlerting(store, config, outbox, Router(routes, all_receivers=names), clock=clock)


def stored(store: Store, anomalies) -> list:
    return store.add_anomalies(anomalies)


def test_anomalies_become_one_incident_notified_once_then_resolved(store: Store) -> None:
    clock = Clock()
    a = alerting(store, clock, "pd", "mail")
    pd, mail = a.outbox.channels["pd"], a.outbox.channels["mail"]
    ids = []
    for i in range(5):
        clock.advance(5)
        new = stored(store, [make_anomaly_at(i)])
        ids += [x for x, _ in new]
        a.observe(new)
    assert len(ids) == 5
    (incident,) = store.list_incidents()
    assert (incident.status, incident.anomaly_count, incident.notifications) == ("firing", 5, 0)
    assert {x["id"] for x in store.incident_anomalies(incident.id)} == set(ids)
    clock.advance(10)  # 35 s after the first anomaly
    assert a.tick() == 2
    a.outbox.deliver_due()
    assert [p["event"] for p in pd.sent] == ["firing"] and len(mail.sent) == 1
    body = pd.sent[0]
    assert body["incident"]["id"] == incident.id and body["incident"]["anomaly_count"] == 5
    assert body["url"] == f"http://ui.example/incidents/{incident.id}"
    assert body["anomaly_id"] == ids[-1] and body["anomaly"]["stream"] == "payments"
    clock.advance(589)  # 599 s after the last anomaly
    assert a.tick() == 0
    clock.advance(1)
    assert a.tick() == 2
    a.outbox.deliver_due()
    assert [p["event"] for p in pd.sent] == ["firing", "resolved"]
    row = store.get_incident(incident.id)
    assert (row.status, row.resolved_ns, row.notifications) == ("resolved", clock.now, 2)


def make_anomaly_at(i: int):
    from dataclasses import replace

    return replace(make_anomaly(), start=T0 + i * 10 * S, end=T0 + (i + 1) * 10 * S)


def test_unrouted_and_low_anomalies(store: Store) -> None:
    clock = Clock()
    a = alerting(store, clock, "pd")
    web = stored(store, [make_anomaly("web")])
    low = stored(store, [make_anomaly("payments", severity=Severity.LOW, template_id=8)])
    a.observe(web + low)
    (incident,) = store.list_incidents()  # the LOW one is below min_severity
    assert incident.stream == "web"
    assert store.get_anomaly(low[0][0])["incident_id"] is None
    clock.advance(60)
    assert a.tick() == 0  # no route sends web anywhere


def test_a_mute_silences_a_firing_incident(store: Store) -> None:
    clock = Clock()
    a = alerting(store, clock, "pd")
    a.observe(stored(store, [make_anomaly()]))
    store.add_mute(stream="payments", template_id=None, until_ns=T0 + 100 * S, reason="deploy",
                   now_ns=T0)  # fmt: skip
    clock.advance(30)
    assert a.tick() == 0
    assert store.list_incidents()[0].suppressed == "silenced"
    clock.advance(70)
    assert a.tick() == 1
    assert store.list_incidents()[0].suppressed is None


def test_restart_picks_up_firing_incidents(store: Store) -> None:
    clock = Clock()
    first = alerting(store, clock, "pd")
    first.observe(stored(store, [make_anomaly()]))
    clock.advance(30)
    assert first.tick() == 1
    first.outbox.deliver_due()
    again = alerting(store, clock, "pd")  # a new process on the same store
    assert len(again.grouper.open) == 1
    again.observe(stored(store, [make_anomaly_at(3)]))
    clock.advance(60)
    assert again.tick() == 0  # already told: no second firing
    clock.advance(600)
    assert again.tick() == 1  # but its resolve
    again.outbox.deliver_due()
    (incident,) = store.list_incidents()
    assert (incident.status, incident.anomaly_count) == ("resolved", 2)
    assert [p["event"] for p in again.outbox.channels["pd"].sent] == ["resolved"]


def test_build_alerting_from_config_keeps_old_webhooks_and_console(store: Store) -> None:
    cfg = AlertsConfig(
        webhooks=["http://127.0.0.1:9/hook"],
        receivers=[{"name": "pd", "type": "pagerduty", "routing_key": "k"}],
        routes=[{"match": {"stream": "pay*"}, "receivers": ["pd"]}],
    )
    a = build_alerting(store, cfg)
    names = list(a.outbox.channels)
    assert names[0] == "pd" and names[-1] == "console" and names[1].startswith("webhook:127")
    assert a.grouper.router.receivers({"stream": "web"}) == tuple(names[1:])
    assert a.grouper.router.receivers({"stream": "pay"}) == tuple(names)
    assert list(build_alerting(store, AlertsConfig(console=False)).outbox.channels) == []
