"""The SQLite tank's per-thread connections end with their threads (worker threads churn)."""

from __future__ import annotations

import gc
import threading

import pytest

from logradar.tank import SqliteTank, TankError


def test_connections_of_ended_threads_are_released(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")  # this thread's connection
    for _ in range(3):
        threads = [threading.Thread(target=tank.register, args=(f"c{i}",)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    gc.collect()  # a connection and its statement cache form a cycle
    assert len(tank._conns) == 1
    assert set(tank.consumers()) == {f"c{i}" for i in range(5)}


def test_close_closes_the_live_connections(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    conn = tank._conn()
    tank.close()
    with pytest.raises(Exception, match="closed"):
        conn.execute("SELECT 1")
    with pytest.raises(TankError, match="closed"):
        tank.committed("x")
