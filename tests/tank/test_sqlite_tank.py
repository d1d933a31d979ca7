"""The embedded tank against a real SQLite file."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pyarrow as pa
import pytest

from logradar.schema import RECORD_SCHEMA, ingest_table
from logradar.tank import SqliteTank


def batch(n: int, stream: str = "s", start: int = 0) -> pa.Table:
    return ingest_table(stream, [f"line {start + i}" for i in range(n)], 1_700_000_000_000_000_000)


def test_offsets_are_dense_and_survive_reopen(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    assert tank.append(batch(3)) == (0, 2)
    assert tank.append(batch(2)) == (3, 4)
    assert tank.append(batch(0)) == (-1, -1)
    tank.close()
    tank = SqliteTank(tmp_path / "t.db")
    assert tank.end_offset() == 4
    assert tank.append(batch(1)) == (5, 5)
    table = tank.read(-1, 100)
    assert table.schema == RECORD_SCHEMA
    assert table.column("offset").to_pylist() == list(range(6))


def test_read_slices_inside_a_segment_and_respects_max_rows(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    for i in range(5):
        tank.append(batch(10, start=i * 10))
    part = tank.read(12, 15)
    offsets = part.column("offset").to_pylist()
    assert offsets[0] == 13
    assert offsets == list(range(13, 13 + len(offsets)))
    assert 15 <= len(offsets) <= 27  # whole segments, at least max_rows when available
    assert part.column("message")[0].as_py() == "line 13"
    assert tank.read(49, 10).num_rows == 0


def test_consumers_commit_independently_and_never_go_back(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    tank.append(batch(10))
    tank.register("archive")
    assert tank.committed("archive") == -1
    tank.commit("archive", 5)
    tank.commit("archive", 3)  # a stale commit must not move the offset back
    tank.commit("engine", 9)
    assert tank.committed("archive") == 5
    assert tank.lag("archive") == 4
    assert tank.consumers() == {"archive": 5, "engine": 9}


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
