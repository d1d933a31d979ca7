"""The packaged spark-submit job, SIGKILLed mid-stream and started again with the same
command: the store ends with exactly the anomalies the core finds over the same micro-batches,
and no alert is queued twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from logradar.commands.spark import ENTRY_NAME, logradar_version, spark_group
from logradar.store import Store

from .conftest import (
    FILES,
    HDFS_FORMAT,
    HDFS_SESSION,
    expected_anomalies,
    row_key,
    spark_batches,
    write_inputs,
)

pytestmark = [pytest.mark.spark, pytest.mark.integration, pytest.mark.slow]


def job_command(dist: Path, tmp: Path) -> list[str]:
    return [
        sys.executable,
        str(dist / ENTRY_NAME),
        "--source=files",
        f"--path={tmp / 'in'}",
        "--max-files-per-trigger=1",
        f"--checkpoint={tmp / 'checkpoint'}",
        f"--store-url=sqlite:///{tmp / 'store.db'}",
        f"--log-format={HDFS_FORMAT}",
        f"--session-key={HDFS_SESSION}",
        "--clock=event",
        "--available-now",
        "--trigger-seconds=1",
        "--master=local[2]",
    ]


def start(cmd: list[str], dist: Path, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": str(dist / f"logradar-{logradar_version()}.zip"),  # the packaged code
        "LOGRADAR_ALERTS__MIN_SEVERITY": "low",
        "LOGRADAR_ALERTS__GROUP_WAIT_SECONDS": "0",
    }
    with open(log, "ab") as out:
        return subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


@pytest.mark.timeout(900)
def test_sigkill_mid_stream_then_restart(spark, tmp_path):
    dist = tmp_path / "dist"
    done = CliRunner().invoke(spark_group, ["package", "--output", str(dist)])
    assert done.exit_code == 0, done.output
    assert "spark-submit" in done.output and "--py-files" in done.output
    parts = write_inputs(tmp_path / "in")
    cmd = job_command(dist, tmp_path)
    log = tmp_path / "job.log"

    first = start(cmd, dist, log)
    second_commit = tmp_path / "checkpoint" / "detect" / "commits" / "1"
    deadline = time.monotonic() + 180
    while not second_commit.exists():
        assert first.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, "no micro-batch committed in time"
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)  # the driver and its JVM, mid-stream
    first.wait(30)

    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    before_restart = len(store.list_anomalies(limit=10_000))

    second = start(cmd, dist, log)
    assert second.wait(600) == 0, log.read_text(errors="replace")[-3000:]
    # Spark may plan the batches after the restart differently: follow what it did.
    batches = spark_batches(tmp_path / "checkpoint" / "detect")
    assert sorted(i for b in batches for i in b) == list(range(FILES))
    expected = sorted(row_key(a.to_dict()) for a in expected_anomalies(parts, batches))
    assert 0 < before_restart < len(expected)

    stored = store.list_anomalies(limit=10_000)
    assert sorted(map(row_key, stored)) == expected  # none lost, none twice
    with store.engine.connect() as conn:
        per_notification = conn.execute(
            sa.text(
                "SELECT incident_id, receiver, seq, COUNT(*) FROM notifications GROUP BY 1, 2, 3"
            )
        ).all()
    assert per_notification  # incidents were notified (one notification per incident)
    assert all(n == 1 for *_, n in per_notification)  # and none twice
