"""The local engine: micro-batches from the tank through the detection core, in-process.

Exactly-where-it-stopped: the core's whole state (templates, open windows and sessions,
detector baselines) is saved as one JSON snapshot, atomically, together with the last tank
offset it reflects; only then is that offset committed in the tank. After a crash the engine
restores the snapshot and replays the records after its offset. Results written in between
(window counts, anomalies) are idempotent in the store, so a replay adds nothing twice.

Latency: each step's anomalies (those found early in open windows included) are stored and
handed to the alert rules before the next step starts, so a micro-batch should take well under
a second: ``engine.max_batch_rows`` bounds it while the engine catches up, and an idle engine
looks for new records every ``engine.poll_seconds``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from logradar.config import Settings
from logradar.engine.core import CoreOutput, DetectionCore
from logradar.engine.feedback import Feedback
from logradar.engine.results import store_windows_and_templates
from logradar.engine.train import TRAINED_FILE, TrainedPickup
from logradar.metrics import Metrics
from logradar.schema import Anomaly
from logradar.store import Store
from logradar.tank import Tank

log = logging.getLogger("logradar.engine")

CONSUMER = "engine"
AnomalySink = Callable[[list[tuple[int, Anomaly]]], None]


def write_json_atomic(path: Path, data: object) -> None:
    """Write ``data`` as JSON to ``path`` so a reader sees the old or the new file, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, separators=(",", ":"))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class LocalEngine:
    """Runs :class:`DetectionCore` over the tank and writes results to the store."""

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
        self.store = store
        self.metrics = metrics
        self.on_anomalies = on_anomalies
        self.core = DetectionCore(settings.engine, settings.parser, settings.detectors)
        self.snapshot_path = settings.state_dir / "engine.json"
        self._last_snapshot = time.monotonic()
        # Operator feedback and trained baselines; their state is saved in the snapshot.
        self.feedback = Feedback(settings.feedback)
        self.trained = TrainedPickup(settings.state_dir / TRAINED_FILE)
        tank.register(CONSUMER)
        if self.snapshot_path.exists():
            state = json.loads(self.snapshot_path.read_text(encoding="utf-8"))
            self.core.load_state_dict(state)
            if "feedback" in state:
                self.feedback.load_state_dict(state["feedback"])
                self.trained.load_state_dict(state["trained"])
            log.info("engine resumed from offset %d", self.core.offset)

    def step(self, now_ns: int | None) -> int:
        """Process one micro-batch (or just advance the clock); return the lines processed."""
        cfg = self.settings.engine
        started = time.perf_counter()
        batch = self.tank.read(self.core.offset, cfg.max_batch_rows)
        self.feedback.apply(self.store, self.core)  # new expected marks, baselining
        self.trained.poll(self.core)  # a new state/trained.json from `logradar train`
        out = self.core.process(batch, now_ns) if batch.num_rows else self.core.tick(now_ns)
        self._persist(out)
        if batch.num_rows:
            self.metrics.batch_seconds.observe(time.perf_counter() - started)
            self.metrics.lines_processed.inc(batch.num_rows)
        return batch.num_rows

    def _persist(self, out: CoreOutput) -> None:
        store_windows_and_templates(out, self.core, self.store)
        self.metrics.templates.set(len(self.core.template_stats))
        if out.anomalies:
            # Anomalies like ones marked expected are stored as 'expected' and not alerted.
            new, to_alert = self.feedback.record(self.store, out.anomalies)
            now = time.time_ns()
            for _, anomaly in new:
                self.metrics.anomalies.labels(anomaly.detector, str(anomaly.severity)).inc()
                self.metrics.detection_delay_seconds.observe(max(0, now - anomaly.end) / 1e9)
            if to_alert:
                self.on_anomalies(to_alert)

    def snapshot(self) -> None:
        """Save the core's state, then commit its offset in the tank."""
        state = self.core.state_dict()
        state["feedback"] = self.feedback.state_dict()
        state["trained"] = self.trained.state_dict()
        write_json_atomic(self.snapshot_path, state)
        if self.core.offset >= 0:
            self.tank.commit(CONSUMER, self.core.offset)
        self._last_snapshot = time.monotonic()

    def run(self, stop: threading.Event) -> None:
        """Process until ``stop`` is set; then drain what was accepted and snapshot."""
        cfg = self.settings.engine
        while not stop.is_set():
            try:
                processed = self.step(time.time_ns())
                if time.monotonic() - self._last_snapshot >= cfg.snapshot_seconds:
                    self.snapshot()
            except Exception:
                log.exception("engine step failed; retrying")
                processed = 0
            if processed == 0:
                stop.wait(cfg.poll_seconds)
        try:
            while self.step(time.time_ns()):
                pass
        finally:
            self.snapshot()
