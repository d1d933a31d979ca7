"""The detection core: map is read-only, reduce is deterministic and restartable."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from helpers import records
from logradar.backtest import read_chunks
from logradar.config import load_config
from logradar.engine.core import GAP_EXACT_WINDOWS, DetectionCore, session_pattern
from logradar.schema import Severity

HDFS = Path(__file__).parents[3] / "shared/datasets/loghub-2k/HDFS/HDFS_2k.log"
HDFS_FORMAT = "<Date> <Time> <Pid> <Level> <Component>: <Content>"
SECOND = 1_000_000_000
T0 = 1_764_075_600 * SECOND


def make_core(**engine) -> DetectionCore:
    s = load_config(engine={"session_key": r"blk_-?\d+", **engine})
    core = DetectionCore(s.engine, s.parser, s.detectors, log_format=HDFS_FORMAT)
    core.fill_time_forward = True
    return core


def run(core: DetectionCore, chunks) -> list[dict]:
    found = []
    for batch in chunks:
        found += core.process(batch, None).anomalies
    found += core.finish().anomalies
    return [core.with_current_text(a).to_dict() for a in found]


def hdfs_batches(size: int):
    table = pa.concat_tables(read_chunks(HDFS, "hdfs"))
    return [table.slice(i, size) for i in range(0, table.num_rows, size)]


def test_map_is_read_only():
    core = make_core()
    batch = hdfs_batches(500)[0]
    first = core.map(batch)
    assert first.column("template_id").null_count == batch.num_rows  # nothing known yet
    assert core.map(batch).equals(first)
    assert core.miner.templates() == []
    core.reduce(first, None)
    assert core.map(batch).column("template_id").null_count == 0


def test_same_input_same_anomalies_whatever_the_batch_size():
    a = run(make_core(), hdfs_batches(2000))
    b = run(make_core(), hdfs_batches(137))
    assert a, "the HDFS sample should produce some anomalies after the learning period"
    assert a == b


def test_snapshot_restore_mid_stream_equals_uninterrupted():
    batches = hdfs_batches(250)
    expected = run(make_core(), batches)
    core = make_core()
    early = []
    for batch in batches[:4]:
        early += core.process(batch, None).anomalies
    state = json.loads(json.dumps(core.state_dict()))
    restored = make_core()
    restored.load_state_dict(state)
    assert restored.offset == batches[3].column("offset")[-1].as_py()
    later = run(restored, batches[4:])
    assert [restored.with_current_text(a).to_dict() for a in early] + later == expected


def test_quiet_stream_still_closes_windows_on_the_wall_clock():
    core = make_core(window_seconds=10, allowed_lateness_seconds=0)
    core.process(records(["hello 1", "hello 2"], [T0, T0 + SECOND]), now_ns=T0 + SECOND)
    out = core.tick(T0 + 65 * SECOND)
    # the first empty windows close one by one, the rest of the run in closed form (O(1))
    assert [w.total for w in out.windows] == [2] + [0] * GAP_EXACT_WINDOWS
    assert core.windows_skipped == 5 - GAP_EXACT_WINDOWS
    assert core.streams["s"].next_window == T0 // (10 * SECOND) * 10 * SECOND + 60 * SECOND
    assert all(w.stream == "s" for w in out.windows)


def test_late_records_count_in_the_oldest_open_window():
    core = make_core(window_seconds=10, allowed_lateness_seconds=0)
    core.process(records(["a 1"], [T0]), now_ns=T0 + 15 * SECOND)  # closes [T0, T0+10)
    out = core.process(records(["a 2"], [T0 + 2 * SECOND], first=1), now_ns=T0 + 25 * SECOND)
    assert [(w.start - T0) // SECOND for w in out.windows] == [10]
    assert out.windows[0].total == 1


def test_engine_ids_stay_stable_when_a_template_generalizes():
    core = make_core(window_seconds=10, allowed_lateness_seconds=0)
    users = ["alice", "bob", "carol", "dave", "erin", "frank"]
    lines = [f"session opened for user {u} by sshd on port twenty" for u in users]
    core.process(records(lines[:1], [T0]), now_ns=T0)
    first_id = next(iter(core.template_stats))
    core.process(records(lines[1:], [T0 + 1] * 5, first=1), now_ns=T0 + 1)
    children = [t for t in core.miner.templates() if t.parent_id is not None]
    assert children, "the miner should generalize lines that differ in one token"
    root = core.root_id(children[-1].id)
    assert root == first_id
    assert core.template_stats[root][0] == len(lines)  # every line counted under one id
    assert len(core.template_stats) == 1
    assert "<*>" in core.template_text(root)


def test_learning_lowers_severity_of_new_patterns():
    core = make_core(window_seconds=10, learning_seconds=30, allowed_lateness_seconds=0)
    lines = [f"job {i} done in {i} ms" for i in range(5)]
    early = core.process(records(lines, [T0 + i for i in range(5)]), now_ns=T0 + 11 * SECOND)
    late = core.process(
        records(["ERROR disk /dev/sda1 failed"], [T0 + 60 * SECOND], first=5),
        now_ns=T0 + 71 * SECOND,
    )
    early_new = [a for a in early.anomalies if a.kind == "new_pattern"]
    late_new = [a for a in late.anomalies if a.kind == "new_pattern"]
    assert early_new and late_new
    assert max(a.severity for a in early_new) < max(a.severity for a in late_new)


def test_sessions_close_at_the_end_with_their_events_in_time_order():
    core = make_core()
    batch = hdfs_batches(2000)[0]
    mapped = core.map(batch)
    core.reduce(mapped, None)
    assert core.sessions
    key, session = next(iter(sorted(core.sessions.items())))
    assert key.startswith("blk_")
    assert len(session.events) >= 1
    out = core.finish()
    assert out.sessions_closed > 0
    assert not core.sessions


@pytest.mark.parametrize(
    ("regex", "ok"),
    [(r"blk_-?\d+", True), (r"req=(?P<key>\w+)", True), (r"req=(\w+)", False), ("(", False)],
)
def test_session_key_regex_validation(regex, ok):
    if ok:
        assert "(?P<key>" in session_pattern(regex)
    else:
        with pytest.raises(ValueError):
            session_pattern(regex)


def test_out_of_order_batch_is_not_read_twice():
    core = make_core(window_seconds=10, allowed_lateness_seconds=0)
    # the highest offset carries the oldest time: after the sort it is not the last row
    batch = records(["b 2", "c 3", "a 1"], [T0 + 2, T0 + 3, T0 + 1])
    core.process(batch, now_ns=T0 + 5)
    assert core.offset == 2


def test_anomalies_while_learning_never_exceed_low():
    core = make_core(window_seconds=10, learning_seconds=60, allowed_lateness_seconds=0)
    core.process(records(["job 1 done"], [T0]), now_ns=T0 + 11 * SECOND)
    out = core.process(
        records(["FATAL disk /dev/sda1 failed"] * 5, [T0 + 20 * SECOND] * 5, first=1),
        now_ns=T0 + 31 * SECOND,
    )
    assert out.anomalies
    assert all(a.severity <= Severity.LOW for a in out.anomalies)


def test_a_line_a_year_old_does_not_make_the_engine_close_every_window_since():
    # first lines of a stream: one stamped a year ago, one now; only an hour of empty windows
    # is closed one by one, the rest of the gap is learned in closed form
    core = make_core(window_seconds=10, allowed_lateness_seconds=0)
    year = 365 * 86400 * SECOND
    now = T0 + year
    windows = core.process(records(["old 1", "new 1"], [T0, now]), now_ns=now).windows
    windows += core.tick(now + 15 * SECOND).windows
    assert len(windows) == 1 + GAP_EXACT_WINDOWS + 1
    assert core.windows_skipped == year // (10 * SECOND) - 1 - GAP_EXACT_WINDOWS
    assert [w.total for w in windows if w.total] == [1, 1]
    assert windows[-1].start == now
