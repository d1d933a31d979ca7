"""Durable alert delivery: queue in the store, send to channels, retry with backoff.

:meth:`Outbox.enqueue` writes one ``pending`` row per channel to the ``alerts`` table before
anything is sent, so an alert survives a channel being down and a process restart: any
``Outbox`` on the same store delivers the rows still pending. :meth:`Outbox.deliver_due`
sends each due row; a failure reschedules it after ``backoff_seconds * 2**attempts`` (capped at
``backoff_max_seconds``, plus up to ``jitter`` of that as random spread), and the
``max_attempts``-th failure marks it ``failed``.

Delivery is at least once: a crash between sending and recording the success sends again.
Run one dispatcher (``run`` in a thread) per store.
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Any

from logradar.alerts.channels import Channel
from logradar.schema import Anomaly, now_ns
from logradar.store import AlertRow, Store

logger = logging.getLogger("logradar.alerts")


def summary(anomaly: Anomaly) -> str:
    """One line for humans: ``[severity] stream: explanation``."""
    text = " ".join(anomaly.explanation.split())
    return f"[{anomaly.severity}] {anomaly.stream}: {text}"


class Outbox:
    """Queue alerts durably in ``store`` and deliver them to ``channels``."""

    def __init__(
        self,
        store: Store,
        channels: list[Channel],
        *,
        max_attempts: int = 12,
        backoff_seconds: float = 1.0,
        backoff_max_seconds: float = 300.0,
        jitter: float = 0.1,
        batch_size: int = 100,
    ) -> None:
        names = [c.name for c in channels]
        if len(set(names)) != len(names):
            raise ValueError(f"alert channel names must be unique, got {names}")
        self.store = store
        self.channels = {c.name: c for c in channels}
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.jitter = jitter
        self.batch_size = batch_size
        self._queued = threading.Event()

    def enqueue(self, anomaly_id: int, anomaly: Anomaly, *, at_ns: int | None = None) -> list[int]:
        """Queue ``anomaly`` (stored as ``anomaly_id``) for every channel, due at ``at_ns``
        (default now); return the new alert ids. Delivery reads the anomaly back from the
        store, so a restart loses nothing."""
        ids = self.store.add_alerts(anomaly_id, self.channels, now_ns() if at_ns is None else at_ns)
        self._queued.set()
        logger.debug(
            "queued %d alert(s) for anomaly %d: %s", len(ids), anomaly_id, summary(anomaly)
        )
        return ids

    def retry_delay(self, attempts: int) -> float:
        """Seconds to wait after the failure of attempt number ``attempts + 1``."""
        delay = min(self.backoff_seconds * 2 ** min(attempts, 60), self.backoff_max_seconds)
        return delay * (1 + self.jitter * random.random())

    def deliver_due(self, now_ns: int) -> int:
        """Send every pending alert due at ``now_ns``; return how many were delivered.

        A channel that fails is not tried again in the same call, so one channel being down
        costs one timeout per call rather than one per queued alert.
        """
        delivered = 0
        healthy = set(self.channels)
        while healthy:
            due = self.store.due_alerts(now_ns, channels=healthy, limit=self.batch_size)
            for row in due:
                if row.channel not in healthy:
                    continue
                if self._deliver(row, now_ns):
                    delivered += 1
                else:
                    healthy.discard(row.channel)
            if len(due) < self.batch_size:
                break
        return delivered

    def _deliver(self, row: AlertRow, now_ns: int) -> bool:
        channel = self.channels[row.channel]
        try:
            channel.send(self.payload(row))
        except Exception as e:  # a channel may fail in any way; the outbox must keep going
            error = f"{type(e).__name__}: {e}"[:1000]
            if row.attempts + 1 >= self.max_attempts:
                self.store.mark_failed(row.id, error)
                logger.error(
                    "alert %d to %s failed after %d attempts, giving up: %s",
                    row.id,
                    row.channel,
                    row.attempts + 1,
                    error,
                )
            else:
                delay = self.retry_delay(row.attempts)
                self.store.mark_retry(row.id, now_ns + int(delay * 1e9), error)
                logger.warning(
                    "alert %d to %s failed (attempt %d), retrying in %.1fs: %s",
                    row.id,
                    row.channel,
                    row.attempts + 1,
                    delay,
                    error,
                )
            return False
        self.store.mark_delivered(row.id, now_ns)
        return True

    @staticmethod
    def payload(row: AlertRow) -> dict[str, Any]:
        """The JSON body every channel receives."""
        return {
            "alert_id": row.id,
            "anomaly_id": row.anomaly_id,
            "channel": row.channel,
            "summary": summary(row.anomaly),
            "anomaly": row.anomaly.to_dict(),
        }

    def run(self, stop: threading.Event, poll_seconds: float = 0.5) -> None:
        """Deliver due alerts until ``stop`` is set (the body of a background thread).

        Polls every ``poll_seconds`` (retries come due), and wakes at once when
        :meth:`enqueue` queues a new alert."""
        while not stop.is_set():
            try:
                self.deliver_due(now_ns())
            except Exception:  # e.g. the database is briefly unavailable; try again later
                logger.exception("alert delivery loop failed; retrying")
            self._queued.wait(poll_seconds)
            self._queued.clear()

    def wake(self) -> None:
        """Make :meth:`run` deliver now (also used to let it notice ``stop``)."""
        self._queued.set()
