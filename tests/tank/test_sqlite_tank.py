"""The embedded tank against a real SQLite file."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import time

import pyarrow as pa
import pytest

from logradar.schema import ingest_table
from logradar.tank import SqliteTank
from logradar.tank.sqlite import _READ


def batch(n: int, stream: str = "s", start: int = 0) -> pa.Table:
    return ingest_table(stream, [f"line {start + i}" for i in range(n)], 1_700_000_000_000_000_000)


def test_retention_keeps_uncommitted_segments(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    for _ in range(4):
        tank.append(batch(10))
    tank.commit("archive", 19)
    tank.commit("engine", 29)
    deleted = tank.enforce_retention(max_age_seconds=0, max_bytes=10**12)
    assert deleted == 2  # only what both consumers committed
    assert tank.read(-1, 1000).column("offset")[0].as_py() == 20
    tank.append(batch(1))
    assert tank.end_offset() == 40


def test_reads_after_retention_start_at_the_first_kept_segment(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    for i in range(4):
        tank.append(batch(10, start=i * 10))
    tank.commit("engine", 19)
    assert tank.enforce_retention(max_age_seconds=0, max_bytes=10**12) == 2
    for after in (-1, 5, 19):
        assert tank.read(after, 1).column("offset")[0].as_py() == 20
    assert tank.read(24, 1).column("offset").to_pylist() == list(range(25, 30))


def test_a_read_seeks_by_offset_instead_of_scanning_every_segment(tmp_path):
    """Tanks keep hours of segments: a read must not cost more the more there are (it did:
    the engine fell behind after a few minutes at 250k lines/s)."""
    tank = SqliteTank(tmp_path / "t.db")
    conn = sqlite3.connect(tmp_path / "t.db")
    plan = " ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + _READ, (4,)))
    assert "SCAN" not in plan and "SEARCH segments USING INTEGER PRIMARY KEY" in plan
    tank.close()


def test_retention_by_size_drops_oldest_committed_first(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    for _ in range(4):
        tank.append(batch(1000))
    tank.commit("engine", 3999)
    sizes = [r[0] for r in tank._conn().execute("SELECT bytes FROM segments ORDER BY first_offset")]
    budget = sizes[2] + sizes[3]  # exactly the two newest segments fit
    tank.enforce_retention(max_age_seconds=3600, max_bytes=budget)
    assert tank.read(-1, 10).column("offset")[0].as_py() == 2000
    assert tank.size_bytes() == budget


def _append_forever(path: str, ready) -> None:
    tank = SqliteTank(path)
    n = 0
    while True:
        _, last = tank.append(batch(100, start=n))
        n += 100
        with open(path + ".acked", "a") as f:  # written only after append returned
            f.write(f"{last}\n")
            f.flush()
        ready.set()


@pytest.mark.integration
def test_acknowledged_appends_survive_sigkill(tmp_path):
    path = str(tmp_path / "t.db")
    ready = multiprocessing.Event()
    proc = multiprocessing.Process(target=_append_forever, args=(path, ready))
    proc.start()
    assert ready.wait(20)
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    with open(path + ".acked") as f:
        acked = [int(x) for x in f.read().split()]
    tank = SqliteTank(path)
    assert tank.end_offset() >= acked[-1]
    offsets = tank.read(-1, 10**9).column("offset").to_pylist()
    assert offsets == list(range(len(offsets)))
