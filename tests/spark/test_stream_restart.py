"""The streaming job: killed mid-stream and restarted from its checkpoint, it loses no anomaly
and emits none twice; its results equal the core run in-process over the same micro-batches."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from logradar.schema import Anomaly
from logradar.spark.reducer import StateFile, StreamReducer, store_sink
from logradar.spark.sources import file_source, start_detection
from logradar.store import Store

from .conftest import (
    FILES,
    expected_anomalies,
    hdfs_settings,
    row_key,
    spark_batches,
    write_inputs,
)

pytestmark = pytest.mark.spark


class Crash(RuntimeError):
    """The injected failure."""


def run_query(spark, inputs: Path, tmp: Path, store: Store, emitted: list, crash_at: int | None):
    """One life of the job: a new reducer from the saved state, the query from its checkpoint."""
    calls = []

    def crash_after_store(out, core):
        calls.append(1)
        if len(calls) == crash_at:
            raise Crash(f"injected crash in call {crash_at}, after the store write")

    def alert(new: list[tuple[int, Anomaly]]) -> None:
        # as the outbox does: an anomaly with a queued alert is not offered again on replay
        emitted.extend(a for _, a in new)
        for anomaly_id, _ in new:
            store.add_alerts(anomaly_id, ["test"], 0)

    reducer = StreamReducer(
        spark,
        hdfs_settings(),
        StateFile(tmp / "state" / "core.json"),
        [store_sink(store, alert), crash_after_store],
        clock="event",
    )
    query = start_detection(
        file_source(spark, str(inputs), max_files_per_trigger=1),
        reducer,
        str(tmp / "checkpoint"),
        available_now=True,
    )
    query.awaitTermination()
    return reducer


def test_killed_and_restarted_job_loses_and_repeats_nothing(spark, tmp_path):
    from pyspark.errors import StreamingQueryException

    parts = write_inputs(tmp_path / "in")
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    emitted: list[Anomaly] = []

    with pytest.raises(StreamingQueryException, match="injected crash"):
        run_query(spark, tmp_path / "in", tmp_path, store, emitted, crash_at=3)
    before_restart = len(emitted)
    reducer = run_query(spark, tmp_path / "in", tmp_path, store, emitted, crash_at=None)
    assert reducer.batch_id == FILES - 1
    assert 0 < before_restart < len(emitted)

    # A crash after the state was saved but before Spark committed: Spark replays the last
    # batch, which the reducer has applied already.
    commits = tmp_path / "checkpoint" / "commits"
    (commits / str(FILES - 1)).unlink()
    (commits / f".{FILES - 1}.crc").unlink(missing_ok=True)  # Hadoop's checksum beside it
    again = run_query(spark, tmp_path / "in", tmp_path, store, emitted, crash_at=None)
    assert again.lines == 0  # skipped, not reduced twice
    assert (commits / str(FILES - 1)).exists()

    reference = expected_anomalies(parts, spark_batches(tmp_path / "checkpoint"))
    expected = Counter(a.fingerprint for a in reference)
    assert expected, "the HDFS sample yields anomalies"
    assert Counter(a.fingerprint for a in emitted) == expected  # each once, none missing
    stored = store.list_anomalies(limit=10_000)
    assert sorted(map(row_key, stored)) == sorted(row_key(a.to_dict()) for a in reference)
