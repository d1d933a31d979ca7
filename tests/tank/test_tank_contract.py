"""What every tank promises its callers, run against SqliteTank and KafkaTank alike."""

from __future__ import annotations

import threading

import pyarrow as pa
import pyarrow.compute as pc

from logradar.schema import RECORD_SCHEMA, ingest_table


def batch(n: int, stream: str = "s", start: int = 0) -> pa.Table:
    return ingest_table(stream, [f"line {start + i}" for i in range(n)], 1_700_000_000_000_000_000)


def test_offsets_are_dense_and_survive_reopen(make_tank):
    tank = make_tank()
    assert tank.end_offset() == -1
    assert tank.append(batch(3)) == (0, 2)
    assert tank.append(batch(2)) == (3, 4)
    assert tank.append(batch(0)) == (-1, -1)
    tank.close()
    tank = make_tank()
    assert tank.end_offset() == 4
    assert tank.append(batch(1)) == (5, 5)
    table = tank.read(-1, 100)
    assert table.schema == RECORD_SCHEMA
    assert table.column("offset").to_pylist() == list(range(6))


def test_read_slices_inside_a_segment_and_respects_max_rows(make_tank):
    tank = make_tank()
    for i in range(5):
        tank.append(batch(10, start=i * 10))
    part = tank.read(12, 15)
    offsets = part.column("offset").to_pylist()
    assert offsets[0] == 13
    assert offsets == list(range(13, 13 + len(offsets)))
    assert 15 <= len(offsets) <= 27  # whole segments, at least max_rows when available
    assert part.column("message")[0].as_py() == "line 13"
    assert tank.read(49, 10).num_rows == 0
    assert tank.read(5, 1).column("offset").to_pylist() == [6, 7, 8, 9]  # one whole segment


def test_a_reopened_tank_reads_from_any_offset(make_tank):
    tank = make_tank()
    for i in range(20):
        tank.append(batch(7, start=i * 7))
    tank.close()
    tank = make_tank()  # nothing remembered about where offsets are
    for after in (-1, 0, 6, 7, 70, 100, 138):
        table = tank.read(after, 1)
        assert table.column("offset")[0].as_py() == after + 1
        assert table.column("message")[0].as_py() == f"line {after + 1}"
    assert tank.read(139, 1).num_rows == 0


def test_a_reader_sees_later_appends(make_tank):
    tank = make_tank()
    tank.append(batch(3))
    assert tank.read(-1, 100).num_rows == 3
    assert tank.read(2, 100).num_rows == 0
    tank.append(batch(4, start=3))
    assert tank.read(2, 100).column("message").to_pylist() == [f"line {i}" for i in range(3, 7)]


def test_consumers_commit_independently_and_never_go_back(make_tank):
    tank = make_tank()
    tank.append(batch(10))
    tank.register("archive")
    assert tank.committed("archive") == -1
    tank.commit("archive", 5)
    tank.commit("archive", 3)  # a stale commit must not move the offset back
    tank.commit("engine", 9)
    assert tank.committed("archive") == 5
    assert tank.lag("archive") == 4
    assert tank.consumers() == {"archive": 5, "engine": 9}


def test_commits_survive_reopen(make_tank):
    tank = make_tank()
    tank.append(batch(10))
    tank.append(batch(10))
    tank.commit("archive", 12)
    tank.commit("engine", 19)
    tank.close()
    tank = make_tank()
    assert tank.committed("archive") == 12
    assert tank.lag("archive") == 7
    assert tank.committed("engine") == 19
    assert tank.read(tank.committed("archive"), 100).column("offset")[0].as_py() == 13


def test_concurrent_appends_get_distinct_dense_offsets(make_tank):
    tank = make_tank()
    ranges: list[tuple[int, int]] = []

    def send(worker: int) -> None:
        for i in range(10):
            ranges.append(tank.append(batch(5, stream=f"w{worker}", start=i * 5)))

    threads = [threading.Thread(target=send, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(ranges) == [(i * 5, i * 5 + 4) for i in range(40)]
    table = tank.read(-1, 10**6)
    assert table.column("offset").to_pylist() == list(range(200))
    for w in range(4):  # each sender's lines in its order
        mine = table.filter(pc.equal(table.column("stream"), f"w{w}"))
        assert mine.column("message").to_pylist() == [f"line {i}" for i in range(50)]
