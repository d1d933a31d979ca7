"""One logradar process: tank, archive, engine, store, alerts and web, wired together.

``Pipeline`` owns the components and their background threads; :func:`serve` runs it behind
uvicorn. Shutdown (SIGINT/SIGTERM, handled by uvicorn) stops accepting requests first, then
lets the engine drain what was acknowledged, flushes the archive and snapshots state.
Acknowledged lines are durable in the tank before the answer is sent, so even a crash loses
none of them: the consumers replay from their committed offsets on the next start.
"""

from __future__ import annotations

import functools
import logging
import shutil
import threading
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from logradar.alerts.manager import build_alerting
from logradar.archive.parquet import CONSUMER as ARCHIVE_CONSUMER
from logradar.archive.parquet import ParquetArchiver
from logradar.config import Settings
from logradar.engine.feedback import suppress_muted
from logradar.engine.local import LocalEngine
from logradar.metrics import Metrics
from logradar.schema import Anomaly
from logradar.sources.auth import Authenticator
from logradar.sources.common import IngestError
from logradar.sources.registry import build_sources
from logradar.store import Store
from logradar.tank import TankError, TankFull, open_tank

log = logging.getLogger("logradar")

TRUNCATION_MARK = " …[truncated]"
RETENTION_EVERY_SECONDS = 60.0
PRESSURE_CHECK_SECONDS = 0.25


def long_lines(table: pa.Table, max_bytes: int) -> pa.Array | None:
    """Which messages are longer than ``max_bytes`` (UTF-8), or None when none is."""
    messages = table.column("message")
    if messages.nbytes <= max_bytes:  # all of them together fit: none is too long
        return None
    too_long = pc.greater(pc.binary_length(messages), max_bytes).combine_chunks()
    return too_long if pc.any(too_long).as_py() else None


def truncate_messages(table: pa.Table, max_bytes: int) -> tuple[pa.Table, int]:
    """Cut messages longer than ``max_bytes`` (UTF-8) and mark them; return table and count."""
    too_long = long_lines(table, max_bytes)
    if too_long is None:
        return table, 0
    values = table.column("message").to_pylist()
    rows = pc.indices_nonzero(too_long).to_pylist()
    for i in rows:
        cut = values[i].encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")
        values[i] = cut + TRUNCATION_MARK
    index = table.schema.get_field_index("message")
    return table.set_column(index, "message", pa.array(values, pa.string())), len(rows)


def long_lines_refusal(table: pa.Table, too_long: pa.Array, max_bytes: int) -> IngestError:
    """The 400 for a request with lines over ``max_bytes`` when ``long_lines = "reject"``."""
    rows = pc.indices_nonzero(too_long)
    first = table.column("message")[rows[0].as_py()].as_py()
    return IngestError(
        400,
        f"{len(rows)} of {table.num_rows} lines exceed server.max_line_bytes ({max_bytes} "
        f"bytes); the first has {len(first.encode('utf-8'))} bytes and starts "
        f"{first[:60]!r}; nothing was stored",
    )


class Pipeline:
    """Builds every component from :class:`Settings`; ``start``/``stop`` its threads."""

    def __init__(
        self,
        settings: Settings,
        *,
        alert_callback: Callable[[dict[str, Any]], None] | None = None,
        engine: str = "local",
        spark_master: str | None = None,
    ) -> None:
        self.settings = settings
        self.engine_kind = engine
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.metrics = Metrics()
        if engine == "spark" and settings.tank.kind != "sqlite":
            raise TankError("--engine spark reads the tank's SQLite file: use tank.kind = 'sqlite'")
        self.tank = open_tank(settings)
        self.store = Store(settings.store_url)
        self.archiver = (
            ParquetArchiver(
                self.tank,
                settings.archive_url,
                settings.archive,
                metrics=self.metrics,
            )
            if settings.archive.enabled
            else None
        )
        self.alerting = build_alerting(self.store, settings.alerts, alert_callback)
        if engine == "spark":
            from logradar.spark.engine import SparkEngine

            self.engine = SparkEngine(
                settings,
                self.tank,
                self.store,
                self.metrics,
                on_anomalies=self._on_anomalies,
                master=spark_master,
            )
        else:
            self.engine = LocalEngine(
                settings, self.tank, self.store, self.metrics, on_anomalies=self._on_anomalies
            )
        self.auth = Authenticator(settings.auth, settings.auth_enabled)
        self.sources = build_sources(
            settings.sources, settings.state_dir, settings.server.max_labels
        )
        for source in self.sources:
            dropped = getattr(source, "dropped", None)
            if dropped is not None:
                self.metrics.udp_dropped.set_function(lambda s=source: s.dropped)
        self._stop = threading.Event()
        self._threads: dict[str, threading.Thread] = {}
        self._pressure: IngestError | None = None
        self._pressure_checked = -1e9

    # Ingest -------------------------------------------------------------------------------
    def check_backpressure(self) -> None:
        """Raise 429 when a consumer lags too far, 503 when the disk is nearly full."""
        cfg = self.settings.backpressure
        now = time.monotonic()
        if now - self._pressure_checked < PRESSURE_CHECK_SECONDS:
            if self._pressure is not None:
                raise self._pressure
            return
        self._pressure_checked = now
        self._pressure = None
        end = self.tank.end_offset()
        lags = {"engine": end - self._engine_done()}
        if self.archiver is not None:
            lags["archive"] = end - self.tank.committed(ARCHIVE_CONSUMER)
        consumer, lag = max(lags.items(), key=lambda kv: kv[1])
        if lag > cfg.max_lag_lines:
            self._pressure = IngestError(
                429,
                f"logradar is {lag} lines behind ({consumer}); slow down and retry",
                cfg.retry_after_seconds,
            )
        elif shutil.disk_usage(self.settings.data_dir).free < cfg.min_free_disk_bytes:
            self._pressure = IngestError(
                503,
                f"less than {cfg.min_free_disk_bytes} bytes free on the data dir's disk",
                cfg.retry_after_seconds,
            )
        if self._pressure is not None:
            raise self._pressure

    def ingest(self, table: pa.Table, source: str, *, drop_rejected: bool = False) -> int:
        """Apply backpressure and line limits, append durably; return the lines accepted.

        With ``server.long_lines = "reject"``, lines over the limit refuse the whole table
        (400), or, with ``drop_rejected`` (sources that cannot answer), are dropped and counted.
        """
        if table.num_rows == 0:
            return 0
        self.check_backpressure()
        cfg = self.settings.server
        if cfg.long_lines == "truncate":
            table, cut = truncate_messages(table, cfg.max_line_bytes)
            if cut:
                self.metrics.lines_truncated.inc(cut)
        elif (too_long := long_lines(table, cfg.max_line_bytes)) is not None:
            if not drop_rejected:
                raise long_lines_refusal(table, too_long, cfg.max_line_bytes)
            dropped = pc.sum(too_long).as_py()
            self.metrics.lines_rejected.labels(source, "too_long").inc(dropped)
            log.warning(
                "%s: dropped %d lines over server.max_line_bytes (%d)",
                source,
                dropped,
                cfg.max_line_bytes,
            )
            table = table.filter(pc.invert(too_long))
            if table.num_rows == 0:
                return 0
        try:
            self.tank.append(table)
        except TankFull as e:
            log.warning("refusing %d lines: %s", table.num_rows, e)
            raise IngestError(
                503,
                "the data dir's disk is full; nothing of this request was stored",
                self.settings.backpressure.retry_after_seconds,
            ) from None
        self.metrics.lines_accepted.labels(source).inc(table.num_rows)
        return table.num_rows

    # Alerts -------------------------------------------------------------------------------
    def _on_anomalies(self, new: list[tuple[int, Anomaly]]) -> None:
        now = time.time_ns()
        # Anomalies matching an active mute are stored as 'muted' and join no incident.
        self.alerting.observe(suppress_muted(self.store, new, now))

    # Lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the engine, archiver, alert dispatcher and retention threads (once)."""
        if self._threads:
            return
        workers: dict[str, Callable[[], None]] = {
            "engine": lambda: self.engine.run(self._stop),
            "alerts": lambda: self.alerting.run(self._stop),
            "retention": self._retention_loop,
        }
        if self.archiver is not None:
            archiver = self.archiver
            flush = self.settings.archive.flush_seconds
            workers["archive"] = lambda: archiver.run(self._stop, flush)
        for name, target in workers.items():
            thread = threading.Thread(target=target, name=f"logradar-{name}", daemon=True)
            thread.start()
            self._threads[name] = thread
        for source in self.sources:
            source.start(functools.partial(self.ingest, drop_rejected=True))

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the threads (engine and archive drain first), then close files (once)."""
        if self._stop.is_set():
            return
        for source in self.sources:  # no new data first, then drain what was accepted
            try:
                source.stop()
            except Exception:
                log.exception("source %s did not stop cleanly", source.name)
        self._stop.set()
        self.alerting.wake()
        deadline = time.monotonic() + timeout
        for name, thread in self._threads.items():
            thread.join(max(0.1, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("%s did not stop within %.0f s", name, timeout)
        self.tank.close()
        self.store.close()

    def _retention_loop(self) -> None:
        cfg = self.settings.tank
        while not self._stop.wait(RETENTION_EVERY_SECONDS):
            try:
                self.tank.enforce_retention(
                    cfg.retention_hours * 3600, cfg.retention_bytes, self.active_consumers()
                )
            except Exception:
                log.exception("tank retention failed")

    def active_consumers(self) -> list[str]:
        """The tank consumers this configuration runs (only they hold retention back)."""
        from logradar.tank.consumers import active_consumers

        return active_consumers(self.settings, self.engine_kind)

    # Introspection ------------------------------------------------------------------------
    def refresh_gauges(self) -> None:
        """Lag per consumer (the engine's from the last offset whose results are stored: it
        commits at snapshots) and the alert outboxes' depth."""
        end = self.tank.end_offset()
        committed = self.tank.consumers()
        committed["engine"] = self._engine_done()
        for consumer, offset in committed.items():
            self.metrics.consumer_lag.labels(consumer).set(end - offset)
        for outbox, pending in self.store.pending_deliveries().items():
            self.metrics.outbox_pending.labels(outbox).set(pending)
        if self.archiver is not None:
            self.metrics.archive_lag.set(end - committed.get(ARCHIVE_CONSUMER, -1))

    def _engine_done(self) -> int:
        """The last offset whose results the engine has stored (a Spark engine: its core's)."""
        return getattr(self.engine, "done_offset", self.engine.core.offset)

    def health(self) -> dict[str, Any]:
        components = {name: t.is_alive() for name, t in self._threads.items()}
        ok = bool(components) and all(components.values())
        health: dict[str, Any] = {
            "status": "ok" if ok else "degraded",
            "components": {k: "running" if v else "stopped" for k, v in components.items()},
            "tank_end_offset": self.tank.end_offset(),
        }
        store_error = getattr(self.engine, "store_error", None)
        health["store"] = "ok" if store_error is None else f"failing: {store_error}"
        if store_error is not None:
            health["status"] = "degraded"
        return health
