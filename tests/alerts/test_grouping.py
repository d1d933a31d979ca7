"""Grouper: incidents, group_wait/interval/repeat, resolve, inhibition, silences, flapping."""

from __future__ import annotations

from typing import Any

import pytest

from logradar.alerts.grouping import FIRING, RESOLVED, Grouper, Incident, Notice
from logradar.alerts.routing import Router
from logradar.alerts.settings import RouteConfig
from logradar.config import AlertsConfig
from logradar.schema import Anomaly, Severity

S = 10**9
T0 = 1_709_294_400 * S


def anomaly(
    stream: str = "pay",
    *,
    template_id: int | None = 7,
    severity: Severity = Severity.HIGH,
    detector: str = "frequency",
    kind: str = "spike",
) -> Anomaly:
    return Anomaly(
        detector, kind, stream, T0, T0 + 10 * S, 0.9, severity, f"template {template_id}: 40",
        template_id=template_id, examples=["GET /pay 500"],
    )  # fmt: skip


def grouper(
    routes: list[RouteConfig] | None = None,
    receivers: tuple[str, ...] = ("hook",),
    silenced: Any = None,
    **cfg: Any,
) -> Grouper:
    base = {
        "group_wait_seconds": 30,
        "group_interval_seconds": 300,
        "repeat_interval_seconds": 3600,
        "resolve_after_seconds": 600,
    }
    config = AlertsConfig(**{**base, **cfg})
    router = Router(routes or [], all_receivers=receivers)
    kwargs = {} if silenced is None else {"silenced": silenced}
    return Grouper(config, router, **kwargs)


def events(notices: list[Notice]) -> list[tuple[str, str, int, tuple[str, ...]]]:
    return [(n.incident.stream, n.event, n.seq, n.receivers) for n in notices]


def test_a_burst_is_one_incident_notified_once_after_group_wait() -> None:
    g = grouper()
    first = g.add(anomaly(), T0, anomaly_id=1)
    for i in range(2, 20):
        assert g.add(anomaly(), T0 + i * S, anomaly_id=i) is first
    assert first.anomaly_count == 19 and first.new_anomaly_ids == list(range(1, 20))
    assert g.due(T0 + 29 * S) == []
    assert events(g.due(T0 + 30 * S)) == [("pay", FIRING, 1, ("hook",))]
    assert g.due(T0 + 31 * S) == []  # nothing new: no second notification
    assert g.due(T0 + 299 * S) == []


def test_groups_follow_group_by() -> None:
    g = grouper()
    a = g.add(anomaly(template_id=1), T0)
    assert g.add(anomaly(template_id=2), T0) is not a
    assert g.add(anomaly("web", template_id=1), T0) is not a
    assert g.add(anomaly(kind="drop", template_id=1), T0) is a  # kind is not in group_by
    coarse = grouper(group_by=["stream"])
    b = coarse.add(anomaly(template_id=1), T0)
    assert coarse.add(anomaly(template_id=2, detector="new_pattern"), T0) is b
    assert len(coarse.open) == 1


def test_below_min_severity_opens_nothing() -> None:
    g = grouper(min_severity="high")
    assert g.add(anomaly(severity=Severity.MEDIUM), T0) is None
    assert g.open == {} and g.due(T0 + 60 * S) == []


def test_escalation_notifies_again_after_group_interval_and_reminders_repeat() -> None:
    g = grouper(inhibit_severity=None)
    g.add(anomaly(severity=Severity.MEDIUM), T0)
    assert [n.seq for n in g.due(T0 + 30 * S)] == [1]
    g.add(anomaly(severity=Severity.CRITICAL), T0 + 40 * S)
    assert g.due(T0 + 100 * S) == []  # worse, but within group_interval of the last one
    (again,) = g.due(T0 + 330 * S)
    assert (again.seq, again.incident.severity) == (2, Severity.CRITICAL)
    for minute in range(6, 60, 5):  # keeps seeing anomalies, no change: quiet until repeat
        g.add(anomaly(severity=Severity.HIGH), T0 + minute * 60 * S)
        assert g.due(T0 + minute * 60 * S + S) == []
    (reminder,) = g.due(T0 + 330 * S + 3600 * S)
    assert (reminder.event, reminder.seq) == (FIRING, 3)


def test_resolves_once_quiet_and_tells_who_was_told() -> None:
    g = grouper(receivers=("hook", "pd"))
    inc = g.add(anomaly(), T0)
    g.due(T0 + 30 * S)
    g.add(anomaly(), T0 + 100 * S)
    assert g.due(T0 + 699 * S) == []
    (resolved,) = g.due(T0 + 700 * S)
    assert (resolved.event, resolved.seq, resolved.receivers) == (RESOLVED, 2, ("hook", "pd"))
    assert inc.status == RESOLVED and inc.resolved_ns == T0 + 700 * S
    assert g.open == {} and g.due(T0 + 2000 * S) == []
    again = g.add(anomaly(), T0 + 800 * S)  # the same problem later: a new incident
    assert again is not inc and again.flaps == 1


def test_resolving_before_anyone_was_told_sends_nothing() -> None:
    g = grouper(group_wait_seconds=900)
    inc = g.add(anomaly(), T0)
    assert g.due(T0 + 600 * S) == []
    assert inc.status == RESOLVED and inc in g.take_changed()


def test_no_receivers_no_notification() -> None:
    g = grouper(receivers=())
    g.add(anomaly(), T0)
    assert g.due(T0 + 60 * S) == []


def test_a_high_incident_inhibits_lower_ones_on_its_stream() -> None:
    g = grouper(resolve_after_seconds=120)
    high = g.add(anomaly(template_id=1, severity=Severity.HIGH), T0)
    medium = g.add(anomaly(template_id=2, severity=Severity.MEDIUM), T0)
    other = g.add(anomaly("web", template_id=2, severity=Severity.MEDIUM), T0)
    notices = g.due(T0 + 30 * S)
    assert {id(n.incident) for n in notices} == {id(high), id(other)}
    assert medium.suppressed == "inhibited" and high.suppressed is None
    g.add(anomaly(template_id=2, severity=Severity.MEDIUM), T0 + 60 * S)  # keeps it open
    notices = [n for n in g.due(T0 + 121 * S) if n.incident is not other]
    # the high one resolved; the medium one may speak now
    assert [(n.incident is high, n.event) for n in notices] == [(True, RESOLVED), (False, FIRING)]
    assert notices[1].incident is medium and medium.suppressed is None


def test_inhibition_can_be_switched_off() -> None:
    g = grouper(inhibit_severity=None)
    g.add(anomaly(template_id=1, severity=Severity.CRITICAL), T0)
    g.add(anomaly(template_id=2, severity=Severity.LOW), T0)
    assert len(g.due(T0 + 30 * S)) == 1  # LOW is below min_severity (medium)
    g.add(anomaly(template_id=3, severity=Severity.MEDIUM), T0 + 31 * S)
    assert len(g.due(T0 + 61 * S)) == 1


def test_silenced_incidents_say_nothing_until_the_silence_ends() -> None:
    until = {"t": T0 + 100 * S}

    def silenced(incident: Incident, now_ns: int) -> bool:
        return incident.stream == "pay" and now_ns < until["t"]

    g = grouper(silenced=silenced)
    inc = g.add(anomaly(), T0)
    assert g.due(T0 + 30 * S) == [] and inc.suppressed == "silenced"
    (n,) = g.due(T0 + 100 * S)
    assert n.event == FIRING and inc.suppressed is None


def test_flapping_group_is_held_open_instead_of_paging_again() -> None:
    g = grouper(flap_threshold=2, flap_period_seconds=3600, resolve_after_seconds=60,
                group_wait_seconds=0)  # fmt: skip
    t, pages = T0, []
    for _ in range(4):  # fire, go quiet, fire again ...
        g.add(anomaly(), t)
        pages += g.due(t)
        t += 61 * S
        pages += g.due(t)
        t += 10 * S
    assert [n.event for n in pages] == [FIRING, RESOLVED, FIRING, RESOLVED, FIRING]
    (held,) = g.open.values()
    assert held.held and held.suppressed == "flapping" and held.flaps == 2
    for _ in range(5):  # it keeps flapping: joins the held incident, pages nobody
        g.add(anomaly(), t)
        assert g.due(t + 61 * S) == []
        t += 600 * S
    assert held.anomaly_count == 2 + 5
    quiet_from = held.last_seen_ns
    assert g.due(quiet_from + 3599 * S) == []
    (n,) = g.due(quiet_from + 3600 * S)  # quiet for the whole flap period: resolved at last
    assert n.event == RESOLVED and n.incident is held


def test_routes_pick_receivers_and_escalation_adds_its_route() -> None:
    routes = [
        RouteConfig(match={"stream": "pay*", "severity": "critical"}, receivers=["pd"],
                    continue_=True),
        RouteConfig(match={"stream": "pay*"}, receivers=["chat"]),
        RouteConfig(receivers=["mail"]),
    ]  # fmt: skip
    g = grouper(routes, receivers=("pd", "chat", "mail"), inhibit_severity=None)
    pay = g.add(anomaly("payments", template_id=1, severity=Severity.HIGH), T0)
    web = g.add(anomaly("web", template_id=1), T0)
    assert pay.receivers == ("chat",) and web.receivers == ("mail",)
    g.due(T0 + 30 * S)
    g.add(anomaly("payments", template_id=1, severity=Severity.CRITICAL), T0 + 60 * S)
    assert pay.receivers == ("chat", "pd")
    (n,) = g.due(T0 + 330 * S)
    assert n.receivers == ("chat", "pd") and n.seq == 2


@pytest.mark.parametrize(
    ("match", "fields", "hit"),
    [
        ({"stream": "pay*"}, {"stream": "payments"}, True),
        ({"stream": "pay*"}, {"stream": "web-pay"}, False),
        ({"template_id": "7"}, {"template_id": 7}, True),
        ({"template_id": "*"}, {"template_id": None}, True),
        ({"template_id": "?*"}, {"template_id": None}, False),
        ({"severity": "[hc]*"}, {"severity": "high"}, True),
        ({"severity": "[hc]*"}, {"severity": "medium"}, False),
        ({"kind": "spike", "detector": "freq*"}, {"kind": "spike", "detector": "x"}, False),
    ],
)
def test_route_globs(match: dict[str, str], fields: dict[str, Any], hit: bool) -> None:
    assert Router.matches(RouteConfig(match=match, receivers=["x"]), fields) is hit


def test_default_receivers_get_everything_whatever_the_routes() -> None:
    router = Router(
        [RouteConfig(match={"stream": "pay"}, receivers=["pd"])],
        all_receivers=["pd"],
        default_receivers=["console"],
    )
    assert router.receivers({"stream": "pay"}) == ("pd", "console")
    assert router.receivers({"stream": "web"}) == ("console",)
