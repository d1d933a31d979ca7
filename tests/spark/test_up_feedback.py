"""``up --engine spark`` (its :class:`SparkEngine` over the tank) adopts ``logradar train``
output, honours an anomaly marked expected and records the detection delay, as ``up`` does."""

from __future__ import annotations

import threading
import time

import pytest

from logradar.archive.parquet import ParquetArchiver
from logradar.config import load_config
from logradar.engine.train import TRAINED_FILE, train
from logradar.metrics import Metrics
from logradar.schema import ingest_table
from logradar.spark.engine import SparkEngine
from logradar.store import Store
from logradar.tank import SqliteTank

pytestmark = pytest.mark.spark

S = 10**9
T0 = 1_700_000_000 * S  # a window boundary (windows are 10 s)
HISTORY = T0 - 120 * 30 * S  # the last hour before T0 (new_pattern forgets after 60 s)


def settings_for(data_dir, archive: str):
    return load_config(
        None,
        data_dir=data_dir,
        archive={"enabled": False, "url": archive},
        detectors={
            "new_pattern": {"forget_after_seconds": 60},
            "multivariate": {"enabled": False},
        },
    )


def test_trained_baselines_expected_marks_and_delay(spark, tmp_path):
    # `logradar train` on an archive of the last hour
    history = SqliteTank(tmp_path / "history.db")
    for i in range(120):
        history.append(
            ingest_table("web", [f"GET /item/{i} 200", f"user {i} logged in"], HISTORY + i * 30 * S)
        )
    archive = str(tmp_path / "archive")
    assert ParquetArchiver(history, archive).flush() == 240
    settings = settings_for(tmp_path / "live", archive)
    train(settings)
    assert (settings.state_dir / TRAINED_FILE).exists()

    tank = SqliteTank(settings.tank_path)
    store = Store(settings.store_url)
    metrics = Metrics()
    alerted: list[int] = []
    engine = SparkEngine(
        settings, tank, store, metrics, lambda new: alerted.extend(i for i, _ in new), clock="event"
    )
    stop = threading.Event()
    runner = threading.Thread(target=engine.run, args=(stop,))
    runner.start()
    try:
        tank.append(ingest_table("web", ["GET /item/5000 200", "disk sda1 is full"], T0 + S))
        tank.append(ingest_table("web", ["GET /item/1 200"], T0 + 15 * S))
        wait_for(lambda: new_patterns(store), runner)
        [first] = new_patterns(store)
        assert first["examples"][0] == "disk sda1 is full"  # the trained template is not new
        assert engine.trained.applied is not None
        assert alerted == [first["id"]]

        assert store.mark_expected(first["id"], time.time_ns())["status"] == "expected"
        # the same pattern again after new_pattern forgot it (60 s): expected, not alerted
        tank.append(ingest_table("web", ["disk sda1 is full"], T0 + 100 * S))
        tank.append(ingest_table("web", ["GET /item/2 200"], T0 + 115 * S))
        wait_for(lambda: len(new_patterns(store)) == 2, runner)
        again = next(a for a in new_patterns(store) if a["id"] != first["id"])
        assert again["status"] == "expected" and again["severity"] == "info"
        assert alerted == [first["id"]]
        delays = metrics.registry.get_sample_value("logradar_detection_delay_seconds_count")
        assert delays == 2
    finally:
        stop.set()
        runner.join(60)
    assert not runner.is_alive()


def new_patterns(store: Store) -> list[dict]:
    return [a for a in store.list_anomalies(limit=100) if a["detector"] == "new_pattern"]


def wait_for(condition, runner: threading.Thread, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert runner.is_alive(), "the engine stopped"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)
