"""The incidents table, the anomaly -> incident link and the notifications outbox rows."""

from __future__ import annotations

import sqlalchemy as sa

from logradar.schema import Anomaly, Severity
from logradar.store import Store

S = 10**9
T0 = 1_709_294_400 * S


def _anomaly(stream: str = "pay", start: int = T0, template_id: int = 7) -> Anomaly:
    return Anomaly(
        "frequency", "spike", stream, start, start + 10 * S, 0.9, Severity.HIGH, "40 vs 3",
        template_id=template_id, examples=["GET /a 500"],
    )  # fmt: skip


def _incident(store: Store, stream: str = "pay", last_seen: int = T0, **kw) -> int:
    fields = {
        "group_key": f'{{"stream": "{stream}"}}',
        "stream": stream,
        "detector": "frequency",
        "kind": "spike",
        "template_id": 7,
        "status": "firing",
        "first_seen_ns": T0,
        "last_seen_ns": last_seen,
        "anomaly_count": 1,
        "summary": f"{stream}: 40 vs 3",
        "severity": Severity.HIGH,
        "now_ns": T0,
    }
    return store.add_incident(**{**fields, **kw})


def test_incident_roundtrip_update_and_filters(store: Store) -> None:
    pay = _incident(store)
    web = _incident(store, "web", T0 + 5 * S, severity="low")
    row = store.get_incident(pay)
    assert row is not None
    assert (row.stream, row.severity, row.status, row.anomaly_count) == (
        "pay",
        Severity.HIGH,
        "firing",
        1,
    )
    assert row.resolved_ns is None and row.examples == [] and row.flaps == 0

    store.update_incident(
        pay, now_ns=T0 + 9 * S, status="resolved", resolved_ns=T0 + 9 * S, anomaly_count=4
    )
    row = store.get_incident(pay)
    assert (row.status, row.resolved_ns, row.anomaly_count) == ("resolved", T0 + 9 * S, 4)
    assert row.to_dict()["resolved_at"] == "2024-03-01T12:00:09Z"

    assert [i.id for i in store.list_incidents()] == [web, pay]  # most recently seen first
    assert [i.id for i in store.list_incidents(status="firing")] == [web]
    assert [i.id for i in store.list_incidents(stream="pay")] == [pay]
    assert [i.id for i in store.list_incidents(min_severity="medium")] == [pay]
    assert [i.id for i in store.list_incidents(since_ns=T0 + S)] == [web]
    assert len(store.list_incidents(limit=1)) == 1
    assert store.get_incident(9999) is None


def test_anomalies_link_to_their_incident(store: Store) -> None:
    (a, _), (b, _), (c, _) = store.add_anomalies(
        [_anomaly(), _anomaly(start=T0 + 10 * S), _anomaly("web")]
    )
    pay = _incident(store)
    store.link_anomalies(pay, [a, b])
    assert [x["id"] for x in store.incident_anomalies(pay)] == [b, a]
    assert store.get_anomaly(a)["incident_id"] == pay
    assert store.get_anomaly(c)["incident_id"] is None


def test_old_store_gets_the_incident_column(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # an anomalies table from before incidents existed
        conn.execute(sa.text("CREATE TABLE anomalies (id INTEGER PRIMARY KEY, stream TEXT)"))
    engine.dispose()
    store = Store(url)
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("anomalies")}
    assert "incident_id" in columns
    store.close()


def test_notifications_queue_once_in_order_and_wait_for_older(store: Store) -> None:
    pay = _incident(store)
    first = store.add_notifications(
        pay, ["pd", "mail", "pd"], event="firing", seq=1, payload={"n": 1}, now_ns=T0
    )
    assert len(first) == 2
    again = store.add_notifications(pay, ["pd"], event="firing", seq=1, payload={}, now_ns=T0)
    assert again == []  # already queued
    store.add_notifications(pay, ["pd"], event="resolved", seq=2, payload={"n": 2}, now_ns=T0)
    due = store.due_notifications(T0)
    assert [(n.receiver, n.seq, n.payload) for n in due] == [
        ("pd", 1, {"n": 1}),
        ("mail", 1, {"n": 1}),
        ("pd", 2, {"n": 2}),
    ]
    assert store.due_notifications(T0 - 1) == []
    assert [n.receiver for n in store.due_notifications(T0, receivers=["mail"])] == ["mail"]
    resolve = due[2]
    assert store.pending_before(resolve) == T0
    store.update_notification(due[0].id, attempted=True, status="delivered", delivered_at=T0)
    assert store.pending_before(resolve) is None
    store.update_notification(due[1].id, attempted=True, next_attempt_at=T0 + 5 * S)
    assert [n.id for n in store.due_notifications(T0 + S)] == [resolve.id]
    rows = {r["id"]: r for r in store.list_notifications(incident_id=pay)}
    assert rows[due[0].id]["status"] == "delivered" and rows[due[0].id]["attempts"] == 1
    assert rows[due[1].id]["status"] == "pending" and rows[due[1].id]["attempts"] == 1
