"""The Spark engine's micro-batch: map and pre-aggregate on the executors, reduce on the driver.

Per micro-batch the executors map their lines with a broadcast snapshot of the template miner
and aggregate them (:mod:`logradar.spark.executors`, :mod:`logradar.spark.partials`); the
driver collects only those partial aggregates, learns template ids for the distinct new
masked shapes (in line order, so ids are deterministic), re-keys the partials by them, merges
them into the batch's window, parameter and session groups and lets the core absorb them,
close windows and sessions and run the detectors: the same answers as the local engine.

Exactly once: Spark's checkpoint records which input each batch id covers and replays the
last batch after a crash. The reducer saves the core's whole state after every batch together
with that batch id (atomically), so a replayed batch it already applied is skipped, and one it
had not is reduced again from the state before it. Sinks are idempotent (the store dedups
anomalies by fingerprint and replaces window counts), so a batch reduced twice adds nothing
twice and an alert is raised once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from logradar.config import Settings
from logradar.engine.core import CoreOutput, DetectionCore
from logradar.engine.feedback import Feedback
from logradar.engine.local import AnomalySink, write_json_atomic
from logradar.engine.results import store_windows_and_templates
from logradar.engine.train import TrainedPickup
from logradar.spark import partials as P
from logradar.spark.executors import INPUT_COLUMNS, PART, MapSnapshot, aggregate_partitions
from logradar.store import Store

if TYPE_CHECKING:
    from pyspark import Broadcast
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger("logradar.spark")

Sink = Callable[[CoreOutput, DetectionCore], None]


@dataclass(frozen=True, slots=True)
class BatchTiming:
    """One micro-batch: lines, seconds on the executors (incl. the collect), seconds on the
    driver, and rows collected to the driver (all kinds, and the session rows among them)."""

    lines: int
    map_s: float
    reduce_s: float
    rows: int
    session_rows: int


class SparkBatches:
    """Runs micro-batches of ``core`` on Spark; re-broadcasts the miner only after it learned."""

    def __init__(self, spark: SparkSession, core: DetectionCore, settings: Settings) -> None:
        self.spark = spark
        self.core = core
        self.settings = settings
        self._broadcast: Broadcast[MapSnapshot] | None = None
        self._miner: object | None = None
        self.timings: deque[BatchTiming] = deque(maxlen=10_000)

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

    def aggregate(self, df: DataFrame, param_stride: int = 1) -> pa.Table:
        """The partial aggregates of ``df``'s lines (input columns plus ``part``, if any)."""
        with_part = PART in df.columns
        fn = aggregate_partitions(
            self._snapshot(), param_stride, self.core.fill_time_forward, with_part
        )
        columns = [*INPUT_COLUMNS, *([PART] if with_part else [])]
        return df.select(*columns).mapInArrow(fn, P.PARTIAL_DDL).toArrow()

    def process(self, df: DataFrame, now_ns: int | None, param_stride: int = 1) -> CoreOutput:
        """One micro-batch through the core; ``now_ns=None``: event-time clock (replays)."""
        started = time.perf_counter()
        partials = self.aggregate(df, param_stride)
        mapped_at = time.perf_counter()
        out, lines = self.reduce(partials, now_ns, PART in df.columns, param_stride)
        kinds = partials.column("kind")
        self.timings.append(
            BatchTiming(
                lines=lines,
                map_s=mapped_at - started,
                reduce_s=time.perf_counter() - mapped_at,
                rows=partials.num_rows,
                session_rows=pc.sum(pc.equal(kinds, "S")).as_py() or 0,
            )
        )
        return out

    def reduce(
        self, partials: pa.Table, now_ns: int | None, renumber: bool = False, param_stride: int = 1
    ) -> tuple[CoreOutput, int]:
        """Learn, merge and absorb the partials; close and detect. Returns the output and the
        batch's line count. ``renumber``: keys are a per-batch order, number offsets."""
        core = self.core
        partials, runs = P.order_runs(partials, core.offset + 1 if renumber else None)
        lines = int(runs.count.sum())
        if lines == 0:
            return core.tick(now_ns), 0
        core.offset = max(core.offset, int(runs.first_key[-1] + runs.count[-1] - 1))
        forms, firsts, counts = P.new_shapes(partials, runs)
        ids = core.miner.parse_forms(forms, firsts, counts) if forms else firsts
        if forms:
            partials = P.shape_ids(partials, forms, ids)
            self._miner = None  # the miner learned: the next batch needs a new snapshot
        if core.fill_time_forward:
            loose = P.fill_loose(partials, runs, core.fill_time_forward_from_last)
            if loose is not None:  # lines whose time came from another partition
                stride = param_stride if core.params_max_rows else 0
                rows = P.group_partials(loose, core.window_ns, stride)
                extra = pa.Table.from_batches(rows, schema=P.PARTIAL_SCHEMA)
                partials = pa.concat_tables([partials, P.shape_ids(extra, forms, ids)])
        windows = P.merge_windows(partials)
        core.absorb_windows(windows)
        if core.params_max_rows:
            core.absorb_params(P.merge_params(partials))
        if core.session_pattern is not None:
            core.absorb_sessions(P.merge_sessions(partials))
        if now_ns is None:
            core.clock_ns = max(core.clock_ns, pc.max(windows.column("ts_max")).as_py())
        return core.tick(now_ns), lines


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
        trained: TrainedPickup | None = None,
        core: DetectionCore | None = None,
    ) -> None:
        if clock not in ("wall", "event"):
            raise ValueError(f"clock must be 'wall' or 'event', not {clock!r}")
        self.settings = settings
        self.state = state
        self.sinks = sinks
        self.clock = clock
        self.core = core or DetectionCore(settings.engine, settings.parser, settings.detectors)
        self.feedback = feedback
        """Operator feedback the store sink applies; saved with the core."""
        self.trained = trained
        """``logradar train`` output, adopted when it appears or changes; saved with the core."""
        self.batch_id = -1
        saved = state.read()
        if saved is not None:
            self.core.load_state_dict(saved["core"])
            self.batch_id = saved["batch_id"]
            if feedback is not None and "feedback" in saved:
                feedback.load_state_dict(saved["feedback"])
            if trained is not None and "trained" in saved:
                trained.load_state_dict(saved["trained"])
            log.info("spark reducer resumed after batch %d", self.batch_id)
        self.batches = SparkBatches(spark, self.core, settings)
        self.lock = threading.Lock()
        self.lines = 0

    def _now(self) -> int | None:
        return time.time_ns() if self.clock == "wall" else None

    def __call__(self, df: DataFrame, batch_id: int) -> None:
        with self.lock:
            if batch_id <= self.batch_id:
                log.info("batch %d was applied before the restart: skipped", batch_id)
                return
            if PART in df.columns:  # the order within a part: numbered per batch
                from pyspark.sql import functions as F

                df = df.withColumn("offset", F.monotonically_increasing_id())
            if self.trained is not None:
                self.trained.poll(self.core)  # a new trained.json from `logradar train`
            # streaming: no parameter sampling (the executors carry that cost)
            out = self.batches.process(df, self._now())
            self.lines += self.batches.timings[-1].lines
            self._emit(out)
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
        if self.trained is not None:
            state["trained"] = self.trained.state_dict()
        self.state.write(state)


def store_sink(
    store: Store,
    on_anomalies: AnomalySink,
    feedback: Feedback | None = None,
    on_stored: AnomalySink | None = None,
) -> Sink:
    """Window counts, templates and anomalies to the store; ``on_anomalies`` gets those to
    alert on, ``on_stored`` every newly stored one. With ``feedback``, operator marks are
    applied first (as the local engine does): anomalies like one marked expected are stored
    as ``expected`` and not alerted."""

    def write(out: CoreOutput, core: DetectionCore) -> None:
        store_windows_and_templates(out, core, store)
        if feedback is not None:
            feedback.apply(store, core)
        if not out.anomalies:
            return
        if feedback is None:
            new = to_alert = store.add_anomalies(out.anomalies, unalerted=True)
        else:
            new, to_alert = feedback.record(store, out.anomalies)
        if new and on_stored is not None:
            on_stored(new)
        if to_alert:
            on_anomalies(to_alert)

    return write
