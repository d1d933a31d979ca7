"""The Spark engine: the detection core on Spark, with the same answers as the local engine.

Per micro-batch the *map* step (:mod:`logradar.engine.spark_map`) runs on the executors
under ``mapInArrow`` with a broadcast snapshot of the template miner; the mapped batch comes
back to the driver as Arrow, is put in input order and goes through the core's *reduce* step
(template learning for unmatched lines, windows, sessions, detectors). The reduce step is
sequential by nature (each batch's templates are the next batch's snapshot), so it runs on
the driver in ``foreachBatch``.

Exactly once: Spark's checkpoint records which input each batch id covers and replays the
last batch after a crash. The reducer saves the core's whole state after every batch together
with that batch id (atomically), so a replayed batch it already applied is skipped, and one it
had not is reduced again from the state before it. Sinks are idempotent (the store dedups
anomalies by fingerprint and replaces window counts), so a batch reduced twice adds nothing
twice and an alert is raised once.

Inputs (:func:`file_source`, :func:`kafka_source`, :func:`tank_source`) are streaming
DataFrames with ``stream``, ``message``, ``record_ts`` (ns, used when a line has no parsable
time) and either ``offset`` (a global order, e.g. the tank's) or ``part`` plus a per-part
order (file path or Kafka partition), from which the reducer numbers offsets itself.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from logradar import backtest
from logradar.archive import layout
from logradar.config import Settings
from logradar.engine.core import CoreOutput, DetectionCore
from logradar.engine.feedback import Feedback
from logradar.engine.local import AnomalySink, write_json_atomic
from logradar.engine.results import store_windows_and_templates
from logradar.engine.spark_map import (
    INPUT_COLUMNS,
    MapSnapshot,
    finish_on_driver,
    map_partitions,
    mapped_schema,
)
from logradar.engine.spark_session import spark_session
from logradar.schema import Anomaly
from logradar.store import Store

if TYPE_CHECKING:
    from pyspark import Broadcast
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

    from logradar.metrics import Metrics
    from logradar.tank import SqliteTank

log = logging.getLogger("logradar.engine.spark")

PART = "part"
Sink = Callable[[CoreOutput, DetectionCore], None]


# The map step, driver side ------------------------------------------------------------------
class SparkMapper:
    """Runs the map step of ``core`` on Spark; re-broadcasts the miner only after it learned."""

    def __init__(self, spark: SparkSession, core: DetectionCore, settings: Settings) -> None:
        self.spark = spark
        self.core = core
        self.settings = settings
        self._broadcast: Broadcast[MapSnapshot] | None = None
        self._miner: object | None = None
        #: per micro-batch: (lines, seconds in the map step incl. collect, seconds in reduce)
        self.timings: list[tuple[int, float, float]] = []
        self._map_seconds = 0.0

    def _snapshot(self) -> Broadcast[MapSnapshot]:
        if self._broadcast is None or self._miner is not self.core.miner:
            if self._broadcast is not None:
                self._broadcast.unpersist()
            s = self.settings
            snapshot = MapSnapshot(
                engine=s.engine,
                parser=s.parser,
                detectors=s.detectors,
                log_format=s.parser.log_format,
                miner=self.core.miner.state_dict(),
                version=uuid.uuid4().hex,
            )
            self._broadcast = self.spark.sparkContext.broadcast(snapshot)
            self._miner = self.core.miner
        return self._broadcast

    def map(self, df: DataFrame) -> pa.Table:
        """The mapped lines of ``df`` (input columns plus ``part``, if any) as Arrow."""
        extra = [PART] if PART in df.columns else []
        schema = mapped_schema(
            self.core.session_pattern is not None, f"{PART} STRING" if extra else ""
        )
        started = time.perf_counter()
        fn = map_partitions(self._snapshot(), extra)
        mapped = df.select(*INPUT_COLUMNS, *extra).mapInArrow(fn, schema).toArrow()
        self._map_seconds = time.perf_counter() - started
        return mapped

    def reduce(self, mapped: pa.Table, now_ns: int | None) -> CoreOutput:
        """Order ``mapped``, learn, count and detect on the driver."""
        started = time.perf_counter()
        if PART in mapped.column_names:
            mapped = number_offsets(mapped, self.core.offset + 1)
        ready = finish_on_driver(self.core, mapped)
        learns = ready.num_rows and pc.any(pc.is_null(ready.column("template_id"))).as_py()
        out = self.core.reduce(ready, now_ns)
        if learns:  # the miner changed: the next batch needs a new snapshot
            self._miner = None
        self.timings.append((mapped.num_rows, self._map_seconds, time.perf_counter() - started))
        return out


def number_offsets(mapped: pa.Table, first: int) -> pa.Table:
    """Sort by (``part``, per-part order) and replace that order by offsets from ``first``."""
    mapped = mapped.sort_by([(PART, "ascending"), ("offset", "ascending")]).drop_columns(PART)
    offsets = pa.array(range(first, first + mapped.num_rows), pa.int64())
    return mapped.set_column(mapped.schema.get_field_index("offset"), "offset", offsets)


# Backtest ---------------------------------------------------------------------------------
class SparkBacktest(backtest.LocalBacktest):
    """``--engine spark``: the local backtest's semantics, with the lines read and mapped by
    Spark. Micro-batches are the local engine's chunks (same offsets), so results match."""

    def __init__(
        self,
        settings: Settings,
        stream: str = backtest.DEFAULT_STREAM,
        master: str | None = None,
    ) -> None:
        super().__init__(settings, stream)
        self.master = master
        self._mapper: SparkMapper | None = None

    @property
    def timings(self) -> list[tuple[int, float, float]]:
        """Per micro-batch of the last run: (lines, map seconds, reduce seconds)."""
        return self._mapper.timings if self._mapper else []

    def _replay(
        self,
        core: DetectionCore,
        path: Path,
        first_offset: int,
        sink: Callable[[CoreOutput], None],
    ) -> int:
        spark = spark_session(self.master, "logradar-backtest")
        if self._mapper is None or self._mapper.core is not core:
            self._mapper = SparkMapper(spark, core, self.settings)
        lines, n = numbered_lines(spark, path, self.stream, first_offset)
        try:
            step = backtest.CHUNK_LINES
            for start in range(first_offset, first_offset + n, step):
                chunk = lines.where(lines["offset"].between(start, start + step - 1))
                sink(self._mapper.reduce(self._mapper.map(chunk), None))
        finally:
            lines.unpersist()
        return n


def numbered_lines(
    spark: SparkSession, path: Path | str, stream: str, first_offset: int = 0
) -> tuple[DataFrame, int]:
    """A file's lines read by Spark with dense offsets in file order, cached and spread over
    the executors so every chunk of offsets is mapped in parallel; and their number."""
    from pyspark.sql import functions as F

    text = spark.read.text(str(path)).select(
        F.col("value").alias("message"),
        F.spark_partition_id().alias("pid"),
        F.monotonically_increasing_id().alias("mid"),
    )
    sizes = dict(sorted((r[0], r[1]) for r in text.groupBy("pid").count().collect()))
    starts: list[Any] = []
    total = 0
    for pid, size in sizes.items():
        starts += [F.lit(pid), F.lit(total)]
        total += size
    if not total:
        return text, 0
    offset = (
        F.lit(first_offset)
        + F.element_at(F.create_map(*starts), F.col("pid"))
        + (F.col("mid") - F.shiftleft(F.col("pid").cast("long"), 33))
    )
    parallelism = spark.sparkContext.defaultParallelism
    lines = (
        text.select(
            offset.alias("offset"),
            F.lit(stream).alias("stream"),
            (offset * F.lit(backtest.FILE_ORDER_STEP_NS)).alias("record_ts"),
            "message",
        )
        .repartition(parallelism, F.pmod(F.col("offset"), F.lit(parallelism)))
        .persist()
    )
    lines.count()
    return lines, total


# Streaming --------------------------------------------------------------------------------
class StateFile:
    """The reducer's state, one JSON document on local disk (atomic replace) or at a
    ``pyarrow.fs`` URI such as ``s3://bucket/key`` (one PUT, atomic on S3 and OBS)."""

    def __init__(self, location: str | Path) -> None:
        self.location = str(location).replace("s3a://", "s3://", 1)

    def _remote(self) -> tuple[Any, str] | None:
        if "://" not in self.location or self.location.startswith("file://"):
            return None
        from pyarrow import fs

        return fs.FileSystem.from_uri(self.location)

    def read(self) -> dict[str, Any] | None:
        remote = self._remote()
        if remote is None:
            path = Path(self.location.removeprefix("file://"))
            return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
        filesystem, key = remote
        from pyarrow import fs

        if filesystem.get_file_info(key).type == fs.FileType.NotFound:
            return None
        with filesystem.open_input_stream(key) as f:
            return json.loads(f.read())

    def write(self, data: dict[str, Any]) -> None:
        remote = self._remote()
        if remote is None:
            write_json_atomic(Path(self.location.removeprefix("file://")), data)
            return
        filesystem, key = remote
        with filesystem.open_output_stream(key) as f:
            f.write(json.dumps(data, separators=(",", ":")).encode())


class StreamReducer:
    """The ``foreachBatch`` function: map on executors, reduce on the driver, sinks, state.

    ``clock``: ``"event"`` closes windows by the largest event time seen (replays, tests,
    deterministic); ``"wall"`` by the wall clock, as the live local engine does.
    """

    def __init__(
        self,
        spark: SparkSession,
        settings: Settings,
        state: StateFile,
        sinks: list[Sink],
        clock: str = "wall",
        feedback: Feedback | None = None,
    ) -> None:
        if clock not in ("wall", "event"):
            raise ValueError(f"clock must be 'wall' or 'event', not {clock!r}")
        self.settings = settings
        self.state = state
        self.sinks = sinks
        self.clock = clock
        self.core = DetectionCore(settings.engine, settings.parser, settings.detectors)
        self.feedback = feedback
        """Operator feedback the store sink applies; saved with the core."""
        self.batch_id = -1
        saved = state.read()
        if saved is not None:
            self.core.load_state_dict(saved["core"])
            self.batch_id = saved["batch_id"]
            if feedback is not None and "feedback" in saved:
                feedback.load_state_dict(saved["feedback"])
            log.info("spark reducer resumed after batch %d", self.batch_id)
        self.mapper = SparkMapper(spark, self.core, settings)
        self.lock = threading.Lock()
        self.lines = 0

    def _now(self) -> int | None:
        return time.time_ns() if self.clock == "wall" else None

    def __call__(self, df: DataFrame, batch_id: int) -> None:
        with self.lock:
            if batch_id <= self.batch_id:
                log.info("batch %d was applied before the restart: skipped", batch_id)
                return
            if PART in df.columns:
                from pyspark.sql import functions as F

                df = df.withColumn("offset", F.monotonically_increasing_id())
            mapped = self.mapper.map(df)
            out = self.mapper.reduce(mapped, self._now()) if mapped.num_rows else None
            self.lines += mapped.num_rows
            self._emit(out or self.core.tick(self._now()))
            self.batch_id = batch_id
            self.save()

    def tick(self) -> None:
        """Advance the wall clock between batches (a quiet stream still closes windows).

        Not saved: after a crash the next tick closes the same windows again, and the store
        keeps their results once."""
        if self.clock != "wall":
            return
        with self.lock:
            self._emit(self.core.tick(self._now()))

    def _emit(self, out: CoreOutput) -> None:
        for sink in self.sinks:
            sink(out, self.core)

    def save(self) -> None:
        state: dict[str, Any] = {"batch_id": self.batch_id, "core": self.core.state_dict()}
        if self.feedback is not None:
            state["feedback"] = self.feedback.state_dict()
        self.state.write(state)


def store_sink(store: Store, on_anomalies: AnomalySink, feedback: Feedback | None = None) -> Sink:
    """Window counts, templates and anomalies to the store; ``on_anomalies`` gets those to
    alert on. With ``feedback``, operator marks are applied first (as the local engine does):
    anomalies like one marked expected are stored as ``expected`` and not alerted."""

    def write(out: CoreOutput, core: DetectionCore) -> None:
        store_windows_and_templates(out, core, store)
        if feedback is not None:
            feedback.apply(store, core)
        if not out.anomalies:
            return
        if feedback is None:
            to_alert = store.add_anomalies(out.anomalies, unalerted=True)
        else:
            _, to_alert = feedback.record(store, out.anomalies)
        if to_alert:
            on_anomalies(to_alert)

    return write


# Sources ----------------------------------------------------------------------------------
def file_source(
    spark: SparkSession,
    path: str,
    stream: str = backtest.DEFAULT_STREAM,
    max_files_per_trigger: int | None = None,
) -> DataFrame:
    """Text files under ``path`` (local, ``s3a://``, ``obs://``, ``hdfs://``), new files picked
    up as they land; one line per record, e.g. what LTS's transfer to OBS writes.

    A line without a parsable time takes its file's modification time.
    """
    from pyspark.sql import functions as F

    reader = spark.readStream.format("text")
    if max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", str(max_files_per_trigger))
    return reader.load(path).select(
        F.col("_metadata.file_path").alias(PART),
        F.lit(stream).alias("stream"),
        (F.unix_micros(F.col("_metadata.file_modification_time")) * 1000).alias("record_ts"),
        F.col("value").alias("message"),
    )


def kafka_source(
    spark: SparkSession,
    bootstrap_servers: str,
    topics: str,
    options: dict[str, str] | None = None,
) -> DataFrame:
    """Kafka topics (Spark's connector; e.g. Huawei DMS for Kafka): the value is the line,
    the topic the stream, the Kafka timestamp the fallback time; ordered per partition.

    Needs ``--packages org.apache.spark:spark-sql-kafka-0-10_2.13:<spark version>``.
    """
    from pyspark.sql import functions as F

    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap_servers)
        .option("subscribe", topics)
    )
    for key, value in (options or {}).items():
        reader = reader.option(key, value)
    return reader.load().select(
        F.format_string("%s/%010d", "topic", "partition").alias(PART),
        F.col("topic").alias("stream"),
        (F.unix_micros("timestamp") * 1000).alias("record_ts"),
        F.col("value").cast("string").alias("message"),
    )


def tank_source(spark: SparkSession, tank_path: Path | str, max_rows: int) -> DataFrame:
    """logradar's own tank through the Python streaming data source ``logradar_tank``."""
    from logradar.engine.spark_tank import TankDataSource

    spark.dataSource.register(TankDataSource)
    return (
        spark.readStream.format(TankDataSource.name())
        .option("path", str(tank_path))
        .option("maxRows", str(max_rows))
        .load()
    )


def start_detection(
    source: DataFrame,
    reducer: StreamReducer,
    checkpoint: str,
    *,
    trigger_seconds: float | None = None,
    available_now: bool = False,
    query_name: str = "logradar-detect",
) -> StreamingQuery:
    """Start the detection query: ``source`` through ``reducer`` with its checkpoint."""
    writer = (
        source.writeStream.queryName(query_name)
        .foreachBatch(reducer)
        .option("checkpointLocation", checkpoint)
    )
    if available_now:
        writer = writer.trigger(availableNow=True)
    elif trigger_seconds:
        writer = writer.trigger(processingTime=f"{trigger_seconds} seconds")
    return writer.start()


def start_archive(
    source: DataFrame, url: str, checkpoint: str, *, available_now: bool = False
) -> StreamingQuery:
    """Parquet archive written by Spark's file sink (exactly once through its metadata log),
    in the archive layout (:mod:`logradar.archive.layout`) the local archiver writes."""
    writer = (
        layout.spark_layout(source)
        .writeStream.queryName("logradar-archive")
        .format("parquet")
        .option("compression", "zstd")
        .option("checkpointLocation", checkpoint)
        .partitionBy(*layout.PARTITION_KEYS)
    )
    if available_now:
        writer = writer.trigger(availableNow=True)
    return writer.start(url)


# `logradar up --engine spark` -----------------------------------------------------------------
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
        self.reducer = StreamReducer(
            self.spark,
            settings,
            StateFile(settings.state_dir / "spark-core.json"),
            [store_sink(store, self._counted(on_anomalies)), self._count],
            clock=clock,
        )
        self._lines = self.reducer.lines

    @property
    def core(self) -> DetectionCore:
        return self.reducer.core

    def _count(self, out: CoreOutput, core: DetectionCore) -> None:
        self.metrics.templates.set(len(core.template_stats))
        self.metrics.lines_processed.inc(self.reducer.lines - self._lines)
        self._lines = self.reducer.lines

    def _counted(self, on_anomalies: AnomalySink) -> AnomalySink:
        def count(new: list[tuple[int, Anomaly]]) -> None:
            for _, a in new:
                self.metrics.anomalies.labels(a.detector, str(a.severity)).inc()
            on_anomalies(new)

        return count

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
