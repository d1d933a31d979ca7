"""``logradar up --engine spark``: the pipeline's engine, a Spark streaming query on the tank."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from logradar.config import Settings
from logradar.engine.core import CoreOutput, DetectionCore
from logradar.engine.feedback import Feedback
from logradar.engine.host import AnomalySink, EngineHost
from logradar.engine.train import TrainedPickup
from logradar.spark.reducer import StateFile, StreamReducer
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
        self.store = store
        self.spark = spark_session(master, "logradar-engine")
        self.checkpoint = settings.state_dir / "spark-checkpoint"
        # The engine host (as the local engine's) owns the core, feedback, `logradar train`
        # pickup, result writing and metrics; the reducer keeps its own state file with the
        # Spark batch id (the host's snapshot file is not used).
        unused = settings.state_dir / "spark-host-unused.json"
        self.host = EngineHost(settings, store, metrics, on_anomalies, snapshot_path=unused)
        self.reducer = StreamReducer(
            self.spark,
            settings,
            StateFile(settings.state_dir / "spark-core.json"),
            [self._write],
            clock=clock,
            feedback=self.host.feedback,
            trained=self.host.trained,
            core=self.host.core,
        )
        self._lines = self.reducer.lines

    @property
    def core(self) -> DetectionCore:
        return self.reducer.core

    @property
    def feedback(self) -> Feedback:
        return self.host.feedback

    @property
    def trained(self) -> TrainedPickup:
        return self.host.trained

    @property
    def store_error(self) -> str | None:
        """Why the last write of results failed (for ``/healthz``)."""
        return self.host.store_error

    def _write(self, out: CoreOutput, core: DetectionCore) -> None:
        self.host.feedback.apply(self.store, core)  # new expected marks, baselining
        self.host.absorbed(out)  # window counts, templates, anomalies, alerts, metrics
        if self.reducer.lines > self._lines:
            self.metrics.lines_processed.inc(self.reducer.lines - self._lines)
            batch = self.reducer.batches.timings[-1]
            self.metrics.batch_seconds.observe(batch.map_s + batch.reduce_s)
        self._lines = self.reducer.lines

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
