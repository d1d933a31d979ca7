"""The engine host: one object around the detection core, whatever feeds it.

:class:`EngineHost` owns the :class:`~logradar.engine.core.DetectionCore` and everything a
running engine does around it: operator feedback, pickup of ``logradar train`` results,
writing results to the store (window counts, templates, anomalies, alerts), metrics and the
snapshot. The local engine drives it from the tank; other drivers (the Spark job, replays)
can drive it the same way:

* ``host.process(batch, now_ns)``: one micro-batch of records (``None``: just advance the
  clock), results written before it returns; ``host.absorbed(out)`` does the writing for a
  driver that ran the core's reduce itself;
* ``host.retry()``: write the results of the last batch again after a store failure;
* ``host.snapshot()``: the core's state as JSON, saved atomically; returns the offset whose
  results are all stored (the one a driver may commit).

Results before offsets: a batch's results are stored before its offset counts as done
(:attr:`done_offset`, which lag and backpressure read). When writing fails (database locked,
disk full, failover), the results stay pending: ``process`` refuses new input until
``retry`` has stored them, the snapshot keeps the state from before them (a restart replays
the batch; the store's writes are idempotent), and ``store_error`` says what failed for
``/healthz``. The clock is injectable (``clock``) so tests and replays control it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from logradar.config import Settings
from logradar.engine.core import CoreOutput, DetectionCore
from logradar.engine.feedback import Feedback
from logradar.engine.results import store_windows_and_templates
from logradar.engine.train import TRAINED_FILE, TrainedPickup
from logradar.metrics import Metrics
from logradar.schema import Anomaly
from logradar.store import Store

log = logging.getLogger("logradar.engine")

AnomalySink = Callable[[list[tuple[int, Anomaly]]], None]


class PendingResults(RuntimeError):
    """The previous batch's results are not stored yet: call :meth:`EngineHost.retry`."""


def write_json_atomic(path: Path, data: object) -> None:
    """Write ``data`` as JSON to ``path`` so a reader sees the old or the new file, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, separators=(",", ":"))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class EngineHost:
    """Core + feedback + trained pickup + result writing + metrics + snapshot."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        metrics: Metrics,
        on_anomalies: AnomalySink,
        *,
        clock: Callable[[], int] = time.time_ns,
        snapshot_path: Path | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.on_anomalies = on_anomalies
        self.clock = clock
        self.core = DetectionCore(settings.engine, settings.parser, settings.detectors)
        self.feedback = Feedback(settings.feedback)
        self.trained = TrainedPickup(settings.state_dir / TRAINED_FILE)
        self.snapshot_path = snapshot_path or settings.state_dir / "engine.json"
        self.done_offset = -1
        """The last offset whose results are all stored."""
        self.store_error: str | None = None
        """Why the last write of results failed (None: the last one succeeded)."""
        self._pending: tuple[CoreOutput, int] | None = None
        self._clamped_seen = {"past": 0, "future": 0}
        if self.snapshot_path.exists():
            state = json.loads(self.snapshot_path.read_text(encoding="utf-8"))
            self.core.load_state_dict(state)
            if "feedback" in state:
                self.feedback.load_state_dict(state["feedback"])
                self.trained.load_state_dict(state["trained"])
            self.done_offset = self.core.offset
            log.info("engine resumed from offset %d", self.core.offset)

    @property
    def pending(self) -> bool:
        """Whether a batch's results still wait to be stored."""
        return self._pending is not None

    def process(self, batch: pa.Table | None, now_ns: int | None) -> CoreOutput:
        """Run one micro-batch (``None`` or empty: advance the clock) and store its results.

        Raises what the store raised if writing fails; the results then stay pending.
        """
        if self._pending is not None:
            raise PendingResults("the previous batch's results are not stored yet")
        self.feedback.apply(self.store, self.core)  # new expected marks, baselining
        self.trained.poll(self.core)  # a new state/trained.json from `logradar train`
        started = time.perf_counter()
        if batch is not None and batch.num_rows:
            out = self.core.process(batch, now_ns)
            self.metrics.lines_processed.inc(batch.num_rows)
            self.metrics.batch_seconds.observe(time.perf_counter() - started)
        else:
            out = self.core.tick(now_ns)
        self.absorbed(out)
        return out

    def absorbed(self, out: CoreOutput) -> None:
        """Store what the core just returned (for drivers that run the reduce themselves)."""
        self._pending = (out, self.core.offset)
        self.retry()

    def retry(self) -> None:
        """Store the pending results; raises (and keeps them pending) if the store fails."""
        if self._pending is None:
            return
        out, offset = self._pending
        try:
            self._write(out)
        except Exception as e:
            self.store_error = f"{type(e).__name__}: {e}"
            raise
        self._pending = None
        self.done_offset = max(self.done_offset, offset)
        self.store_error = None

    def _write(self, out: CoreOutput) -> None:
        store_windows_and_templates(out, self.core, self.store)
        self.metrics.templates.set(len(self.core.template_stats))
        for bound, seen in self.core.clamped.items():
            if seen > self._clamped_seen[bound]:
                self.metrics.lines_clamped.labels(bound).inc(seen - self._clamped_seen[bound])
                self._clamped_seen[bound] = seen
        if out.anomalies:
            # Anomalies like ones marked expected are stored as 'expected' and not alerted.
            new, to_alert = self.feedback.record(self.store, out.anomalies)
            now = self.clock()
            for _, anomaly in new:
                self.metrics.anomalies.labels(anomaly.detector, str(anomaly.severity)).inc()
                self.metrics.detection_delay_seconds.observe(max(0, now - anomaly.end) / 1e9)
            if to_alert:
                self.on_anomalies(to_alert)

    def snapshot(self) -> int | None:
        """Save the core's state; return the offset it covers (to commit), or None when
        results are pending (then nothing is saved: a restart replays from the last one)."""
        if self._pending is not None:
            return None
        state: dict[str, Any] = self.core.state_dict()
        state["feedback"] = self.feedback.state_dict()
        state["trained"] = self.trained.state_dict()
        write_json_atomic(self.snapshot_path, state)
        return self.core.offset
