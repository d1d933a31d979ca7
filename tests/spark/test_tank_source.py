"""``up --engine spark``: the tank through the Python streaming data source into the store."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from logradar.engine.core import DetectionCore
from logradar.metrics import Metrics
from logradar.schema import Anomaly, ingest_table
from logradar.spark.engine import SparkEngine
from logradar.spark.tank import CONSUMER
from logradar.store import Store
from logradar.tank import SqliteTank

from .conftest import HDFS, hdfs_settings

pytestmark = pytest.mark.spark

SEGMENT = 500
T0 = 1_764_000_000_000_000_000


def test_spark_engine_over_the_tank_equals_the_core(spark, tmp_path):
    settings = hdfs_settings(max_batch_rows=SEGMENT).model_copy(update={"data_dir": tmp_path})
    tank = SqliteTank(settings.tank_path)
    lines = HDFS.read_text(encoding="utf-8").splitlines()
    for i in range(0, len(lines), SEGMENT):
        part = lines[i : i + SEGMENT]
        tank.append(ingest_table("hdfs", part, [T0 + (i + k) * 1000 for k in range(len(part))]))

    core = DetectionCore(settings.engine, settings.parser, settings.detectors)
    expected: list[Anomaly] = []
    offset = -1
    while (batch := tank.read(offset, SEGMENT)).num_rows:
        expected += core.process(batch, None).anomalies
        offset = batch.column("offset")[-1].as_py()
    assert expected, "the HDFS sample yields anomalies"

    store = Store(settings.store_url)
    new: list[Anomaly] = []
    metrics = Metrics()
    engine = SparkEngine(
        settings, tank, store, metrics, lambda rows: new.extend(a for _, a in rows), clock="event"
    )
    stop = threading.Event()
    runner = threading.Thread(target=engine.run, args=(stop,))
    runner.start()
    try:
        batches = len(lines) // SEGMENT  # one micro-batch per maxRows records
        wait_for(lambda: engine.reducer.batch_id == batches - 1, runner)
        assert engine.core.offset == tank.end_offset()
        assert Counter(a.fingerprint for a in new) == Counter(a.fingerprint for a in expected)
        assert metrics.registry.get_sample_value("logradar_lines_processed_total") == len(lines)
        # Spark commits a batch's source offsets when it plans the next batch.
        done = tank.end_offset()
        tank.append(ingest_table("hdfs", lines[:10], T0 + len(lines) * 1000))
        wait_for(lambda: tank.committed(CONSUMER) >= done, runner)
    finally:
        stop.set()
        runner.join(60)
    assert not runner.is_alive()
    assert engine.core.offset == tank.end_offset()  # what was accepted is drained on stop


def wait_for(condition, runner: threading.Thread, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert runner.is_alive(), "the engine stopped"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)
