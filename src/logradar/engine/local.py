"""The local engine: micro-batches from the tank through the engine host, in-process.

Exactly-where-it-stopped: the core's whole state (templates, open windows and sessions,
detector baselines) is saved as one JSON snapshot, atomically, together with the last tank
offset it reflects; only then is that offset committed in the tank. After a crash the engine
restores the snapshot and replays the records after its offset. Results written in between
(window counts, anomalies) are idempotent in the store, so a replay adds nothing twice.

Results before offsets (:mod:`logradar.engine.host`): a micro-batch counts as done (engine
lag, backpressure, the committed offset) only once its results are stored. If the store
fails, the engine retries storing that batch's results with exponential backoff (0.1 s to
``RETRY_MAX_SECONDS``), logs the failure once and its recovery once, reads nothing new
meanwhile, and ``/healthz`` reports the store as failing.

Latency: each step's anomalies (those found early in open windows included) are stored and
handed to the alert rules before the next step starts, so a micro-batch should take well under
a second: ``engine.max_batch_rows`` bounds it while the engine catches up (and a long gap in
event time costs O(1) per stream), and an idle engine looks for new records every
``engine.poll_seconds``.
"""

from __future__ import annotations

import logging
import threading
import time

from logradar.config import Settings
from logradar.engine.host import AnomalySink, EngineHost, write_json_atomic
from logradar.metrics import Metrics
from logradar.store import Store
from logradar.tank import Tank

log = logging.getLogger("logradar.engine")

CONSUMER = "engine"
#: Longest wait between two attempts to store a batch's results.
RETRY_MAX_SECONDS = 5.0

__all__ = ["CONSUMER", "AnomalySink", "LocalEngine", "write_json_atomic"]


class LocalEngine:
    """Runs an :class:`EngineHost` over the tank."""

    def __init__(
        self,
        settings: Settings,
        tank: Tank,
        store: Store,
        metrics: Metrics,
        on_anomalies: AnomalySink,
    ) -> None:
        self.settings = settings
        self.tank = tank
        self.host = EngineHost(settings, store, metrics, on_anomalies)
        self.core = self.host.core
        self.feedback = self.host.feedback
        self.trained = self.host.trained
        self.snapshot_path = self.host.snapshot_path
        self._last_snapshot = time.monotonic()
        tank.register(CONSUMER)

    @property
    def done_offset(self) -> int:
        """The last tank offset whose results are stored (what lag is measured from)."""
        return self.host.done_offset

    @property
    def store_error(self) -> str | None:
        """Why storing results last failed, while it keeps failing (for ``/healthz``)."""
        return self.host.store_error

    def step(self, now_ns: int | None) -> int:
        """Process one micro-batch (or just advance the clock); return the lines processed.

        Stores the previous batch's results first if they are still pending; raises what
        the store raised when it fails.
        """
        if self.host.pending:
            self.host.retry()
        batch = self.tank.read(self.core.offset, self.settings.engine.max_batch_rows)
        self.host.process(batch, now_ns)
        return batch.num_rows

    def snapshot(self) -> None:
        """Save the core's state, then commit its offset in the tank (not while results of
        a batch are pending: a restart then replays from the previous snapshot)."""
        offset = self.host.snapshot()
        if offset is not None and offset >= 0:
            self.tank.commit(CONSUMER, offset)
        self._last_snapshot = time.monotonic()

    def run(self, stop: threading.Event) -> None:
        """Process until ``stop`` is set; then drain what was accepted and snapshot."""
        cfg = self.settings.engine
        backoff = 0.0
        while not stop.is_set():
            try:
                processed = self.step(time.time_ns())
                if time.monotonic() - self._last_snapshot >= cfg.snapshot_seconds:
                    self.snapshot()
            except Exception as e:
                backoff = min(RETRY_MAX_SECONDS, max(0.1, 2 * backoff))
                if backoff == 0.1:  # the first failure of an episode: say it once, fully
                    log.exception("engine step failed (%s); retrying with backoff", e)
                stop.wait(backoff)
                continue
            if backoff:
                log.warning("engine step succeeded again; results stored")
                backoff = 0.0
            if processed == 0:
                stop.wait(cfg.poll_seconds)
        try:
            while self.step(time.time_ns()):
                pass
        finally:
            self.snapshot()
