"""A store write failure loses nothing and doubles nothing (issue 17, item 1).

A real Pipeline (SQLite tank and store) whose engine is stepped by the test; one
``add_window_counts`` call raises. The batch's FATAL anomaly must still be stored and alerted
exactly once, its window counts stored, the engine's lag must not count the batch as done
while its results are unstored, and ``/healthz`` must say the store is failing meanwhile.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time

import pytest
from starlette.testclient import TestClient

from logradar.config import Settings
from logradar.pipeline import Pipeline
from logradar.schema import ingest_table
from logradar.web import create_app

S = 10**9
W = 10 * S
T0 = 1_700_000_000 * S // W * W


def settings(tmp_path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        engine={"learning_seconds": 0},
        detectors={"frequency": {"enabled": False}},
        alerts={"group_wait_seconds": 0, "console": True, "min_severity": "low"},
    )


def failing_once(store, name: str):
    """Make ``store.<name>`` raise on its next call only; return the list of failures."""
    original = getattr(store, name)
    failures: list[int] = []

    def flaky(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise sqlite3.OperationalError("database is locked")
        return original(*args, **kwargs)

    setattr(store, name, flaky)
    return failures


@pytest.mark.parametrize("method", ["add_window_counts", "add_anomalies", "upsert_templates"])
def test_a_failed_write_is_retried_and_its_anomaly_stored_and_alerted_once(tmp_path, method):
    alerts: list[dict] = []
    pipeline = Pipeline(settings(tmp_path), alert_callback=alerts.append)
    engine = pipeline.engine
    try:
        pipeline.ingest(ingest_table("db", ["INFO ready"] * 3, T0), "test")
        engine.step(T0 + 3 * W)
        pipeline.ingest(ingest_table("db", ["FATAL disk /dev/sda1 failed"], T0 + 4 * W), "test")
        failures = failing_once(pipeline.store, method)
        with pytest.raises(sqlite3.OperationalError):
            engine.step(T0 + 6 * W)
        assert failures == [1]
        # not done: lag counts the batch, health says why, the snapshot does not move on
        pipeline.refresh_gauges()
        lag = pipeline.metrics.consumer_lag.labels("engine")._value.get()
        assert lag == 1
        health = pipeline.health()
        assert health["store"].startswith("failing: OperationalError: database is locked")
        assert health["status"] == "degraded"
        engine.snapshot()
        assert pipeline.tank.committed("engine") < pipeline.tank.end_offset()
        # the retry stores the same results; later steps add nothing twice
        engine.step(T0 + 6 * W)
        engine.step(T0 + 7 * W)
        pipeline.alerting.tick()
        pipeline.alerting.outbox.deliver_due()
        assert pipeline.health()["store"] == "ok"
        pipeline.refresh_gauges()
        assert pipeline.metrics.consumer_lag.labels("engine")._value.get() == 0
        fatal = [
            a
            for a in pipeline.store.list_anomalies(limit=100)
            if "disk /dev/" in (a["template"] or "")
        ]
        assert len(fatal) == 1
        assert [a["anomaly_id"] for a in alerts].count(fatal[0]["id"]) == 1
        assert sum(n for _, _, n in pipeline.store.volume(since_ns=T0, stream="db")) == 4
    finally:
        pipeline.tank.close()
        pipeline.store.close()


def test_the_running_engine_backs_off_and_healthz_shows_the_store_failing(tmp_path):
    pipeline = Pipeline(settings(tmp_path), alert_callback=lambda a: None)
    store = pipeline.store
    original = store.add_window_counts
    broken = threading.Event()
    broken.set()
    calls: list[float] = []

    def down(*args, **kwargs):
        if broken.is_set():
            calls.append(time.monotonic())
            raise sqlite3.OperationalError("disk I/O error")
        return original(*args, **kwargs)

    store.add_window_counts = down
    pipeline.start()
    try:
        client = TestClient(create_app(pipeline))
        pipeline.ingest(ingest_table("db", ["INFO a"], T0), "test")
        deadline = time.monotonic() + 20
        while client.get("/healthz").json().get("store", "ok") == "ok":
            assert time.monotonic() < deadline, "healthz never reported the store failing"
            time.sleep(0.05)
        answer = client.get("/healthz")
        assert answer.status_code == 503
        assert "disk I/O error" in answer.json()["store"]
        while len(calls) < 5:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        gaps = [b - a for a, b in itertools.pairwise(calls)]
        assert gaps[-1] > gaps[0]  # backing off, not a retry storm
        broken.clear()
        while client.get("/healthz").json()["store"] != "ok":
            assert time.monotonic() < deadline + 10, "healthz never recovered"
            time.sleep(0.05)
    finally:
        pipeline.stop()
