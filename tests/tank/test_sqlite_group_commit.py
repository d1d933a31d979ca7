"""Group commit in the SQLite tank: appends that queue up behind a commit share the next one."""

from __future__ import annotations

import itertools
import threading
import time

import pyarrow as pa

from logradar.schema import ingest_table
from logradar.tank import SqliteTank
from logradar.tank import sqlite as sqlite_tank


def batch(n: int, tag: str) -> pa.Table:
    return ingest_table("s", [f"{tag} {i}" for i in range(n)], 1_700_000_000_000_000_000)


def queued_behind_a_commit(tank: SqliteTank, batches: list[pa.Table]) -> list:
    """Append ``batches`` from threads, queued behind a commit in progress; their answers."""
    answers: list = [None] * len(batches)

    def append(i: int) -> None:
        try:
            answers[i] = tank.append(batches[i])
        except Exception as e:
            answers[i] = e

    with tank._group:  # a commit in progress
        tank._leading = True
    threads = []
    for i in range(len(batches)):
        threads.append(threading.Thread(target=append, args=(i,)))
        threads[-1].start()
        deadline = time.monotonic() + 10
        while len(tank._queue) <= i:  # queued in this order
            assert time.monotonic() < deadline
            time.sleep(0.001)
    with tank._group:  # that commit ends: the first waiting append leads the rest
        tank._leading = False
        tank._group.notify_all()
    for t in threads:
        t.join(10)
    return answers


def test_queued_appends_share_one_segment_with_their_own_offsets(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    tank.append(batch(2, "before"))
    sizes = [3, 1, 5, 2]
    answers = queued_behind_a_commit(tank, [batch(n, f"b{k}") for k, n in enumerate(sizes)])
    assert answers == [(2, 4), (5, 5), (6, 10), (11, 12)]
    segments = tank._conn().execute("SELECT first_offset, last_offset, rows FROM segments")
    assert segments.fetchall() == [(0, 1, 2), (2, 12, 11)]
    records = tank.read(1, 1000)
    assert records.column("offset").to_pylist() == list(range(2, 13))
    expected = [f"b{k} {i}" for k, n in enumerate(sizes) for i in range(n)]
    assert records.column("message").to_pylist() == expected
    reopened = SqliteTank(tmp_path / "t.db")
    assert reopened.end_offset() == 12


def test_a_group_takes_at_most_its_byte_budget_in_queue_order(tmp_path, monkeypatch):
    tank = SqliteTank(tmp_path / "t.db")
    monkeypatch.setattr(sqlite_tank, "GROUP_MAX_BYTES", 2 * batch(10, "b0").nbytes)
    answers = queued_behind_a_commit(tank, [batch(10, f"b{k}") for k in range(5)])
    assert answers == [(10 * k, 10 * k + 9) for k in range(5)]
    segments = tank._conn().execute("SELECT first_offset, last_offset FROM segments")
    assert segments.fetchall() == [(0, 19), (20, 39), (40, 49)]
    messages = tank.read(-1, 100).column("message").to_pylist()
    assert messages == [f"b{k} {i}" for k in range(5) for i in range(10)]


def test_a_batch_that_does_not_fit_fails_alone(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    bad = batch(2, "bad").drop_columns(["message"])
    answers = queued_behind_a_commit(tank, [batch(2, "a"), bad, batch(3, "c")])
    assert answers[0] == (0, 1)
    assert isinstance(answers[1], KeyError)
    assert answers[2] == (2, 4)
    assert tank.read(-1, 100).column("message").to_pylist() == ["a 0", "a 1", "c 0", "c 1", "c 2"]


def test_a_failed_commit_fails_every_append_of_the_group_and_keeps_offsets(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    tank.append(batch(1, "first"))
    tank._conn().execute(  # the next INSERT fails inside SQLite
        "CREATE TRIGGER refuse BEFORE INSERT ON segments BEGIN SELECT RAISE(ABORT, 'no'); END"
    )
    answers = queued_behind_a_commit(tank, [batch(2, "a"), batch(3, "b")])
    assert all(isinstance(a, Exception) and "could not append" in str(a) for a in answers)
    tank._conn().execute("DROP TRIGGER refuse")
    assert tank.append(batch(1, "after")) == (1, 1)  # no offsets were used up
    assert tank.read(-1, 100).column("message").to_pylist() == ["first 0", "after 0"]


def test_concurrent_appends_get_dense_disjoint_offsets(tmp_path):
    writers = 8
    tank = SqliteTank(tmp_path / "t.db")
    results: list[tuple[str, tuple[int, int]]] = []
    lock = threading.Lock()

    def writer(w: int) -> None:
        for k in range(20):
            tag = f"w{w}-{k}"
            offsets = tank.append(batch(1 + (w + k) % 4, tag))
            with lock:
                results.append((tag, offsets))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    spans = sorted(offsets for _, offsets in results)
    assert spans[0][0] == 0
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(spans))
    records = tank.read(-1, 10**6)
    messages = records.column("message").to_pylist()
    for tag, (first, last) in results:
        assert messages[first : last + 1] == [f"{tag} {i}" for i in range(last - first + 1)]
