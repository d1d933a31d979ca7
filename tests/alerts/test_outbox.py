"""The durable outbox against real webhook receivers and real stores."""

from __future__ import annotations

import threading

import pytest

from helpers import free_port
from logradar.alerts import ConsoleChannel, Outbox, WebhookChannel, build_outbox
from logradar.config import AlertsConfig
from logradar.store import Store

S = 10**9
T0 = 1_709_294_400 * S


def status(store, alert_id):
    return next(r for r in store.list_alerts(limit=1000) if r["id"] == alert_id)


def test_retries_with_exponential_backoff_then_delivers(store, start_receiver, make_anomaly):
    r = start_receiver(fail_first=2)
    hook = WebhookChannel(r.url, timeout=5)
    outbox = Outbox(store, [hook], max_attempts=5, backoff_seconds=2, jitter=0)
    a = make_anomaly()
    ((aid, _),) = store.add_anomalies([a])
    (alert_id,) = outbox.enqueue(aid, a, at_ns=T0)

    assert outbox.deliver_due(T0) == 0
    row = status(store, alert_id)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["next_attempt_at"] == "2024-03-01T12:00:02Z"  # T0 + 2 s
    assert "500" in row["last_error"]

    assert outbox.deliver_due(T0 + 2 * S - 1) == 0  # not due yet: no request
    assert len(r.requests) == 1
    assert outbox.deliver_due(T0 + 2 * S) == 0
    assert status(store, alert_id)["next_attempt_at"] == "2024-03-01T12:00:06Z"  # + 4 s
    assert outbox.deliver_due(T0 + 6 * S - 1) == 0
    assert len(r.requests) == 2

    assert outbox.deliver_due(T0 + 6 * S) == 1
    row = status(store, alert_id)
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 3, None)
    assert row["delivered_at"] == "2024-03-01T12:00:06Z"
    assert outbox.deliver_due(T0 + 100 * S) == 0
    assert len(r.requests) == 3

    (body,) = r.delivered
    assert body == {
        "alert_id": alert_id,
        "anomaly_id": aid,
        "channel": hook.name,
        "summary": "[high] web: template 7: 40 lines, expected 3",
        "anomaly": a.to_dict(),
    }


def test_backoff_is_capped_and_jitter_only_adds(store):
    outbox = Outbox(store, [], backoff_seconds=1, backoff_max_seconds=10, jitter=0.1)
    for attempts, base in [(0, 1), (1, 2), (3, 8), (4, 10), (30, 10), (5000, 10)]:
        delays = [outbox.retry_delay(attempts) for _ in range(50)]
        assert all(base <= d <= base * 1.1 for d in delays)
    assert len({outbox.retry_delay(0) for _ in range(10)}) > 1


def test_gives_up_after_max_attempts(store, start_receiver, make_anomaly):
    r = start_receiver(fail_first=10**6)
    outbox = Outbox(
        store,
        [WebhookChannel(r.url, timeout=5)],
        max_attempts=3,
        backoff_seconds=1,
        backoff_max_seconds=1.5,
        jitter=0,
    )
    ((aid, a),) = store.add_anomalies([make_anomaly()])
    (alert_id,) = outbox.enqueue(aid, a, at_ns=T0)
    outbox.deliver_due(T0)
    assert status(store, alert_id)["next_attempt_at"] == "2024-03-01T12:00:01Z"
    outbox.deliver_due(T0 + S)
    assert status(store, alert_id)["next_attempt_at"] == "2024-03-01T12:00:02.500000Z"  # capped
    outbox.deliver_due(T0 + 3 * S)
    row = status(store, alert_id)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    outbox.deliver_due(T0 + 10**4 * S)
    assert len(r.requests) == 3


def test_receiver_down_keeps_alert_pending_and_restart_delivers(
    tmp_path, start_receiver, make_anomaly
):
    url = f"sqlite:///{tmp_path / 'results.db'}"
    port = free_port()
    hook_url = f"http://127.0.0.1:{port}/hook"

    store = Store(url)
    outbox = Outbox(store, [WebhookChannel(hook_url, timeout=2)], backoff_seconds=1, jitter=0)
    a, b = make_anomaly(), make_anomaly(start=T0 + 10 * S)
    for aid, x in store.add_anomalies([a, b]):
        outbox.enqueue(aid, x, at_ns=T0)
    assert outbox.deliver_due(T0) == 0
    assert outbox.deliver_due(T0 + 3600 * S) == 0
    rows = store.list_alerts()
    assert [r["status"] for r in rows] == ["pending", "pending"]
    assert sum(r["attempts"] for r in rows) == 2  # one try per call while the channel is down
    store.close()  # the process stops

    r = start_receiver(port)  # the receiver comes back on the same URL
    store = Store(url)  # a new process
    outbox = Outbox(store, [WebhookChannel(hook_url, timeout=5)])
    assert outbox.deliver_due(T0 + 7200 * S) == 2
    assert sorted(body["anomaly"]["start"] for body in r.delivered) == [
        a.to_dict()["start"],
        b.to_dict()["start"],
    ]
    assert [x["status"] for x in store.list_alerts()] == ["delivered", "delivered"]
    store.close()


@pytest.mark.integration
def test_pending_alerts_survive_restart_on_postgresql(pg_url, start_receiver, make_anomaly):
    r = start_receiver()
    store = Store(pg_url)
    ((aid, a),) = store.add_anomalies([make_anomaly()])
    Outbox(store, [WebhookChannel(r.url, name="ops")]).enqueue(aid, a, at_ns=T0)
    store.close()
    store = Store(pg_url)
    assert Outbox(store, [WebhookChannel(r.url, name="ops")]).deliver_due(T0) == 1
    store.close()
    assert [body["anomaly"] for body in r.delivered] == [a.to_dict()]


def test_a_down_channel_does_not_hold_up_the_others(store, make_anomaly):
    got = []
    down = WebhookChannel(f"http://127.0.0.1:{free_port()}/", timeout=2)
    outbox = Outbox(store, [down, ConsoleChannel(got.append)], jitter=0)
    for aid, x in store.add_anomalies([make_anomaly(start=T0 + i * 10 * S) for i in range(3)]):
        outbox.enqueue(aid, x, at_ns=T0)
    assert outbox.deliver_due(T0) == 3
    assert len(got) == 3
    hook_rows = [r for r in store.list_alerts() if r["channel"] == down.name]
    assert sorted(r["attempts"] for r in hook_rows) == [0, 0, 1]
    assert all(r["status"] == "pending" for r in hook_rows)


def test_alerts_for_channels_no_longer_configured_wait(store, make_anomaly):
    got = []
    ((aid, a),) = store.add_anomalies([make_anomaly()])
    Outbox(store, [ConsoleChannel(), WebhookChannel("http://127.0.0.1:9/", name="old")]).enqueue(
        aid, a, at_ns=T0
    )
    assert Outbox(store, [ConsoleChannel(got.append)]).deliver_due(T0) == 1
    assert len(got) == 1
    assert {r["channel"]: r["status"] for r in store.list_alerts()} == {
        "console": "delivered",
        "old": "pending",
    }


def test_run_delivers_in_the_background(store, start_receiver, make_anomaly):
    r = start_receiver()
    outbox = Outbox(store, [WebhookChannel(r.url, timeout=5)])
    stop = threading.Event()
    thread = threading.Thread(target=outbox.run, args=(stop, 0.02))
    thread.start()
    try:
        ((aid, a),) = store.add_anomalies([make_anomaly()])
        outbox.enqueue(aid, a)
        for _ in range(500):
            if r.delivered:
                break
            stop.wait(0.02)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert [body["anomaly_id"] for body in r.delivered] == [aid]


def test_build_outbox_from_config(store):
    cfg = AlertsConfig(
        webhooks=["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"],
        max_attempts=4,
        backoff_seconds=0.5,
        backoff_max_seconds=7,
    )
    outbox = build_outbox(store, cfg)
    assert len(outbox.channels) == 3 and "console" in outbox.channels
    assert (outbox.max_attempts, outbox.backoff_seconds, outbox.backoff_max_seconds) == (4, 0.5, 7)
    assert list(build_outbox(store, AlertsConfig(console=False)).channels) == []


def test_channel_names_must_be_unique(store):
    with pytest.raises(ValueError, match="unique"):
        Outbox(store, [ConsoleChannel(), ConsoleChannel()])


def test_run_wakes_at_once_when_an_alert_is_queued(tmp_path):
    # with a 60 s poll, delivery within seconds can only come from enqueue waking the loop
    import threading
    import time

    from logradar.alerts.channels import ConsoleChannel
    from logradar.alerts.outbox import Outbox
    from logradar.schema import Anomaly, Severity
    from logradar.store import Store

    store = Store(f"sqlite:///{tmp_path / 'w.db'}")
    got: list[dict] = []
    outbox = Outbox(store, [ConsoleChannel(got.append)])
    stop = threading.Event()
    thread = threading.Thread(target=outbox.run, args=(stop, 60.0), daemon=True)
    thread.start()
    time.sleep(0.2)  # the loop is now waiting
    a = Anomaly("new_pattern", "new_pattern", "web", 0, 10, 1.0, Severity.HIGH, "new")
    [(anomaly_id, _)] = store.add_anomalies([a])
    outbox.enqueue(anomaly_id, a)
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    outbox.wake()
    thread.join(5)
    assert len(got) == 1 and not thread.is_alive()
    store.close()
