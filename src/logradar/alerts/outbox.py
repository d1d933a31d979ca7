"""Durable notification delivery: queued in the store, sent per receiver, retried with backoff.

A notification is written to the ``notifications`` table, one ``pending`` row per receiver,
before anything is sent, so it survives a receiver being down and a process restart: any
``Outbox`` on the same store delivers the rows still pending. :meth:`Outbox.deliver_due`
sends each due row. A failure reschedules it after ``backoff_seconds * 2**attempts`` (capped
at ``backoff_max_seconds``, plus up to ``jitter`` of that as random spread), or after the
``Retry-After`` the service sent with a 429/503 if that is longer; the ``max_attempts``-th
failure marks it ``failed``. The defaults keep retrying for about 18 minutes.

Per receiver, notifications go out in the order they were queued (a resolve never
overtakes its firing), at most one per ``min_interval_seconds`` (Slack: 1 s), and a receiver
that failed or asked to wait gets nothing more until its time comes. Delivery is at least
once: a crash between sending and recording the success sends again.
Run one dispatcher (``run`` in a thread) per store.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping

from logradar.alerts.channels import Channel, ChannelError
from logradar.store import NotificationRow, Store

logger = logging.getLogger("logradar.alerts")

SECOND_NS = 10**9
ERROR_CHARS = 1000


class Outbox:
    """Deliver queued notifications from ``store`` to ``channels`` (by receiver name)."""

    def __init__(
        self,
        store: Store,
        channels: list[Channel],
        *,
        min_intervals: Mapping[str, float] | None = None,
        max_attempts: int = 12,
        backoff_seconds: float = 1.0,
        backoff_max_seconds: float = 300.0,
        jitter: float = 0.1,
        batch_size: int = 100,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        names = [c.name for c in channels]
        if len(set(names)) != len(names):
            raise ValueError(f"alert receiver names must be unique, got {names}")
        self.store = store
        self.channels = {c.name: c for c in channels}
        self.min_interval_ns = {k: int(v * SECOND_NS) for k, v in (min_intervals or {}).items()}
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.jitter = jitter
        self.batch_size = batch_size
        self.clock = clock
        self._not_before: dict[str, int] = {}
        """Receiver -> earliest next send (rate limit, Retry-After)."""
        self._queued = threading.Event()

    def queue(
        self, incident_id: int, receivers: list[str], *, event: str, seq: int, payload: dict
    ) -> list[int]:
        """Queue notification ``seq`` of an incident for the known ``receivers``; return the
        new row ids. Delivery reads the payload back from the store."""
        known = [r for r in receivers if r in self.channels]
        ids = self.store.add_notifications(
            incident_id, known, event=event, seq=seq, payload=payload, now_ns=self.clock()
        )
        if ids:
            self._queued.set()
        return ids

    def retry_delay(self, attempts: int) -> float:
        """Seconds to wait after the failure of attempt number ``attempts + 1``."""
        delay = min(self.backoff_seconds * 2 ** min(attempts, 60), self.backoff_max_seconds)
        return delay * (1 + self.jitter * random.random())

    def deliver_due(self, now_ns: int | None = None) -> int:
        """Send every notification due at ``now_ns`` (default: the clock) that its receiver
        may take now; return how many were delivered."""
        now = self.clock() if now_ns is None else now_ns
        delivered = 0
        ready = {name for name in self.channels if self._not_before.get(name, 0) <= now}
        while ready:
            due = self.store.due_notifications(now, receivers=ready, limit=self.batch_size)
            for row in due:
                if row.receiver not in ready:
                    continue
                older_due = self.store.pending_before(row)
                if older_due is not None:  # after the earlier one of this incident
                    self.store.update_notification(
                        row.id, attempted=False, next_attempt_at=max(older_due, now + 1)
                    )
                    continue
                if self._deliver(row, now):
                    delivered += 1
                interval = self.min_interval_ns.get(row.receiver, 0)
                if row.receiver in self._not_before or interval:
                    self._not_before[row.receiver] = max(
                        self._not_before.get(row.receiver, 0), now + interval
                    )
                    if self._not_before[row.receiver] > now:
                        ready.discard(row.receiver)
            if len(due) < self.batch_size:
                break
        return delivered

    def _deliver(self, row: NotificationRow, now_ns: int) -> bool:
        channel = self.channels[row.receiver]
        try:
            answer = channel.send({**row.payload, "receiver": row.receiver})
        except Exception as e:  # a channel may fail in any way; the outbox must keep going
            self._failed(row, now_ns, e)
            return False
        self.store.update_notification(
            row.id,
            attempted=True,
            status="delivered",
            delivered_at=now_ns,
            last_error=None,
            response=str(answer)[:ERROR_CHARS],
        )
        return True

    def _failed(self, row: NotificationRow, now_ns: int, e: Exception) -> None:
        error = f"{type(e).__name__}: {e}"[:ERROR_CHARS]
        if row.attempts + 1 >= self.max_attempts:
            self.store.update_notification(
                row.id, attempted=True, status="failed", last_error=error
            )
            logger.error(
                "notification %d to %s failed after %d attempts, giving up: %s",
                row.id,
                row.receiver,
                row.attempts + 1,
                error,
            )
            return
        delay = self.retry_delay(row.attempts)
        retry_after = e.retry_after if isinstance(e, ChannelError) else None
        if retry_after is not None:
            delay = max(delay, retry_after)
        next_ns = now_ns + int(delay * SECOND_NS)
        self.store.update_notification(
            row.id, attempted=True, next_attempt_at=next_ns, last_error=error
        )
        self._not_before[row.receiver] = next_ns  # the receiver is down or asked to wait
        logger.warning(
            "notification %d to %s failed (attempt %d), retrying in %.1fs: %s",
            row.id,
            row.receiver,
            row.attempts + 1,
            delay,
            error,
        )

    def run(
        self,
        stop: threading.Event,
        poll_seconds: float = 0.5,
        before: Callable[[], object] | None = None,
    ) -> None:
        """Deliver due notifications until ``stop`` is set (the body of a background thread),
        calling ``before`` (e.g. incident timers) first in every round.

        Polls every ``poll_seconds`` (retries come due), and wakes at once when
        :meth:`queue` queues a new notification."""
        while not stop.is_set():
            try:
                if before is not None:
                    before()
                self.deliver_due()
            except Exception:  # e.g. the database is briefly unavailable; try again later
                logger.exception("alert delivery loop failed; retrying")
            self._queued.wait(poll_seconds)
            self._queued.clear()

    def wake(self) -> None:
        """Make :meth:`run` deliver now (also used to let it notice ``stop``)."""
        self._queued.set()
