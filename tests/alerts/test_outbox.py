"""The per-receiver outbox: durable, ordered, retried with backoff, rate limited, Retry-After."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from alert_helpers import RESOLVED, T0, Clock, S, add_incident, make_payload
from logradar.alerts.channels import ChannelError, ConsoleChannel
from logradar.alerts.outbox import Outbox
from logradar.store import Store


class Flaky:
    """A channel that fails while ``down`` (optionally asking to retry after some seconds)."""

    def __init__(self, name: str = "flaky", retry_after: float | None = None) -> None:
        self.name = name
        self.down = False
        self.retry_after = retry_after
        self.sent: list[dict[str, Any]] = []
        self.tries = 0

    def send(self, payload: dict[str, Any]) -> str:
        self.tries += 1
        if self.down:
            raise ChannelError(f"{self.name}: HTTP 429 slow down", self.retry_after)
        self.sent.append(payload)
        return "HTTP 200 ok"


def queue(outbox: Outbox, incident_id: int, seq: int, receivers: list[str]) -> list[int]:
    event = RESOLVED if seq > 1 else "firing"
    payload = make_payload(event, incident_id, seq)
    return outbox.queue(incident_id, receivers, event=event, seq=seq, payload=payload)


def test_delivers_once_and_records_the_answer(store: Store) -> None:
    ch, clock = Flaky(), Clock()
    outbox = Outbox(store, [ch], clock=clock)
    inc = add_incident(store)
    queue(outbox, inc, 1, ["flaky", "not-configured"])
    assert outbox.deliver_due() == 1 and outbox.deliver_due() == 0
    assert [p["seq"] for p in ch.sent] == [1] and ch.sent[0]["receiver"] == "flaky"
    (row,) = store.list_notifications()
    assert (row["status"], row["attempts"], row["response"]) == ("delivered", 1, "HTTP 200 ok")


def test_backoff_doubles_and_is_capped(store: Store) -> None:
    outbox = Outbox(store, [], backoff_seconds=2, backoff_max_seconds=30, jitter=0.1)
    assert 2 <= outbox.retry_delay(0) <= 2.2
    assert 16 <= outbox.retry_delay(3) <= 17.6
    assert 30 <= outbox.retry_delay(50) <= 33


def test_a_down_receiver_retries_with_backoff_and_others_go_on(store: Store) -> None:
    down, up, clock = Flaky("down"), Flaky("up"), Clock()
    outbox = Outbox(store, [down, up], clock=clock, backoff_seconds=1, jitter=0)
    down.down = True
    inc = add_incident(store)
    queue(outbox, inc, 1, ["down", "up"])
    assert outbox.deliver_due() == 1 and down.tries == 1 and len(up.sent) == 1
    clock.advance(0.5)
    outbox.deliver_due()
    assert down.tries == 1  # not due before 1 s
    clock.advance(0.5)
    outbox.deliver_due()
    assert down.tries == 2  # second failure: next try after 2 s more
    clock.advance(1.9)
    outbox.deliver_due()
    assert down.tries == 2
    down.down = False
    clock.advance(0.1)
    assert outbox.deliver_due() == 1 and len(down.sent) == 1


def test_retry_after_is_honoured_over_a_shorter_backoff(store: Store) -> None:
    ch, clock = Flaky(retry_after=30), Clock()
    outbox = Outbox(store, [ch], clock=clock, backoff_seconds=1, jitter=0)
    ch.down = True
    inc = add_incident(store)
    queue(outbox, inc, 1, ["flaky"])
    queue(outbox, add_incident(store, "web"), 1, ["flaky"])
    outbox.deliver_due()
    assert ch.tries == 1  # the receiver asked to wait: the second is not tried either
    ch.down = False
    clock.advance(29)
    assert outbox.deliver_due() == 0 and ch.tries == 1
    clock.advance(1)
    assert outbox.deliver_due() == 2


def test_rate_limit_per_receiver(store: Store) -> None:
    slow, fast, clock = Flaky("slow"), Flaky("fast"), Clock()
    outbox = Outbox(store, [slow, fast], clock=clock, min_intervals={"slow": 1.0})
    for stream in ("a", "b", "c"):
        queue(outbox, add_incident(store, stream), 1, ["slow", "fast"])
    assert outbox.deliver_due() == 4  # all three to fast, one to slow
    clock.advance(0.5)
    assert outbox.deliver_due() == 0
    clock.advance(0.5)
    assert outbox.deliver_due() == 1
    clock.advance(1)
    assert outbox.deliver_due() == 1 and len(slow.sent) == 3


def test_a_resolve_never_overtakes_its_firing(store: Store) -> None:
    ch, clock = Flaky(), Clock()
    outbox = Outbox(store, [ch], clock=clock, backoff_seconds=1, jitter=0)
    inc = add_incident(store)
    ch.down = True
    queue(outbox, inc, 1, ["flaky"])
    outbox.deliver_due()  # firing fails, retried after 1 s
    ch.down = False
    queue(outbox, inc, 2, ["flaky"])  # the resolve is due now, before the firing's retry
    outbox.deliver_due()
    assert ch.sent == []
    clock.advance(1)
    outbox.deliver_due()
    clock.advance(0.001)
    outbox.deliver_due()
    assert [p["event"] for p in ch.sent] == ["firing", "resolved"]


def test_gives_up_after_max_attempts(store: Store) -> None:
    ch, clock = Flaky(), Clock()
    ch.down = True
    outbox = Outbox(store, [ch], clock=clock, max_attempts=3, backoff_seconds=1, jitter=0)
    queue(outbox, add_incident(store), 1, ["flaky"])
    for _ in range(10):
        outbox.deliver_due()
        clock.advance(10)
    (row,) = store.list_notifications()
    assert (row["status"], row["attempts"], ch.tries) == ("failed", 3, 3)
    assert "HTTP 429" in row["last_error"]


def test_down_for_ten_minutes_loses_nothing_and_delivers_once(store: Store) -> None:
    from alert_helpers import deliver_through_outage

    ch = Flaky()
    rows = deliver_through_outage(store, ch, lambda down: setattr(ch, "down", down))
    assert [r["event"] for r in rows] == ["firing", "resolved"]
    assert [p["event"] for p in ch.sent] == ["firing", "resolved"]  # each once, in order
    assert ch.tries > 10  # it really was retried through the outage


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("pg", marks=pytest.mark.integration)])
def test_pending_notifications_survive_a_restart(backend, tmp_path, request) -> None:
    url = (
        f"sqlite:///{tmp_path / 'r.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    first = Store(url)
    ch = Flaky()
    ch.down = True
    outbox = Outbox(first, [ch], clock=Clock(), backoff_seconds=1)
    queue(outbox, add_incident(first), 1, ["flaky"])
    outbox.deliver_due()
    first.close()
    second = Store(url)
    ch2 = Flaky()
    assert Outbox(second, [ch2], clock=Clock(T0 + 5 * S)).deliver_due() == 1
    assert [p["seq"] for p in ch2.sent] == [1]
    second.close()


def test_run_delivers_in_the_background_and_wakes_at_once(store: Store) -> None:
    got: list[dict[str, Any]] = []
    delivered = threading.Event()
    console = ConsoleChannel(lambda p: (got.append(p), delivered.set()))
    outbox = Outbox(store, [console])
    stop = threading.Event()
    thread = threading.Thread(target=outbox.run, args=(stop, 60.0))
    thread.start()
    try:
        queue(outbox, add_incident(store), 1, ["console"])
        assert delivered.wait(10), "queue() must wake the dispatcher (poll is 60 s)"
    finally:
        stop.set()
        outbox.wake()
        thread.join(10)
    assert got[0]["incident"]["stream"] == "payments"


def test_receiver_names_must_be_unique(store: Store) -> None:
    with pytest.raises(ValueError, match="unique"):
        Outbox(store, [Flaky("x"), Flaky("x")])
