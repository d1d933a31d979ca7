"""``logradar up --engine spark``: the pipeline's engine, a Spark streaming query on the tank."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from logradar.config import Settings
from logradar.engine.core import CoreOutput, DetectionCore
from logradar.engine.feedback import Feedback
from logradar.engine.local import AnomalySink
from logradar.engine.train import TRAINED_FILE, TrainedPickup
from logradar.schema import Anomaly
from logradar.spark.reducer import StateFile, StreamReducer, store_sink
from logradar.spark.session import spark_session
from logradar.spark.sources import start_detection, tank_source
from logradar.store import Store

if TYPE_CHECKING:
    from logradar.metrics import Metrics
    from logradar.tank import SqliteTank


class SparkEngine:
    """Drop-in for :class:`~logradar.engine.local.LocalEngine` in the pipeline: the same tank
    in, the same store out, the core on Spark (``local[*]`` unless ``master`` is given)."""

    def __init__(
        self,
        settings: Settings,
        tank: SqliteTank,
        store: Store,
        metrics: Metrics,
        on_anomalies: AnomalySink,
        master: str | None = None,
        clock: str = "wall",
    ) -> None:
        self.settings = settings
        self.tank_path = tank.path
        self.metrics = metrics
        self.spark = spark_session(master, "logradar-engine")
        self.checkpoint = settings.state_dir / "spark-checkpoint"
        # as the local engine: operator feedback and `logradar train` output, saved with the core
        self.feedback = Feedback(settings.feedback)
        self.trained = TrainedPickup(settings.state_dir / TRAINED_FILE)
        self.reducer = StreamReducer(
            self.spark,
            settings,
            StateFile(settings.state_dir / "spark-core.json"),
            [store_sink(store, on_anomalies, self.feedback, self._stored), self._count],
            clock=clock,
            feedback=self.feedback,
            trained=self.trained,
        )
        self._lines = self.reducer.lines

    @property
    def core(self) -> DetectionCore:
        return self.reducer.core

    def _count(self, out: CoreOutput, core: DetectionCore) -> None:
        self.metrics.templates.set(len(core.template_stats))
        if self.reducer.lines > self._lines:
            self.metrics.lines_processed.inc(self.reducer.lines - self._lines)
            batch = self.reducer.batches.timings[-1]
            self.metrics.batch_seconds.observe(batch.map_s + batch.reduce_s)
        self._lines = self.reducer.lines

    def _stored(self, new: list[tuple[int, Anomaly]]) -> None:
        now = time.time_ns()
        for _, anomaly in new:
            self.metrics.anomalies.labels(anomaly.detector, str(anomaly.severity)).inc()
            self.metrics.detection_delay_seconds.observe(max(0, now - anomaly.end) / 1e9)

    def run(self, stop: threading.Event) -> None:
        """Run the query until ``stop``; then process what was accepted and stop it."""
        cfg = self.settings.engine
        source = tank_source(self.spark, self.tank_path, cfg.max_batch_rows)
        query = start_detection(
            source, self.reducer, str(self.checkpoint), trigger_seconds=cfg.poll_seconds
        )
        try:
            while not stop.wait(max(cfg.poll_seconds, 1.0)):
                if query.exception() is not None:
                    raise RuntimeError(f"spark query failed: {query.exception()}")
                self.reducer.tick()
            query.processAllAvailable()
        finally:
            query.stop()
