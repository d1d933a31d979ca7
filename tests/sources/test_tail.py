"""File tailing on real files: rotation (rename, copytruncate), resume, partial lines."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest

from logradar.config import TailSourceConfig
from logradar.sources.common import IngestError
from logradar.sources.tail import Tailer, TailSource, follow


def drain(tailer: Tailer, final: bool = False) -> list[str]:
    """Poll until nothing is new, committing everything (as a successful shipper does)."""
    lines: list[str] = []
    while chunks := tailer.poll(final=final):
        for chunk in chunks:
            lines += chunk.lines
            tailer.commit(chunk)
    tailer.save()
    return lines


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as out:
        out.write(data)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "app.log"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state" / "tail.json"


def test_follows_appends(log: Path, state: Path) -> None:
    log.write_bytes(b"one\ntwo\n")
    tailer = Tailer([str(log)], state)
    assert drain(tailer) == ["one", "two"]
    assert drain(tailer) == []
    append(log, b"three\r\n\n  \nfour\n")
    assert drain(tailer) == ["three", "four"]


def test_partial_line_waits_for_its_newline(log: Path, state: Path) -> None:
    log.write_bytes(b"a\nhalf a li")
    tailer = Tailer([str(log)], state, partial_grace=0.0)
    assert drain(tailer) == ["a"]
    append(log, b"ne")
    assert drain(tailer) == []
    append(log, b"\nb\n")
    assert drain(tailer) == ["half a line", "b"]


def test_partial_line_is_shipped_on_shutdown_only_after_the_grace(log: Path, state: Path) -> None:
    log.write_bytes(b"a\nno newline")
    tailer = Tailer([str(log)], state, partial_grace=0.2)
    assert drain(tailer, final=True) == ["a"]  # just seen: still in its grace period
    time.sleep(0.25)
    assert drain(tailer, final=True) == ["no newline"]


def test_rename_rotation_reads_old_file_to_its_end_then_the_new_one(log: Path, state: Path) -> None:
    log.write_bytes(b"1\n2\n")
    tailer = Tailer([str(log)], state, partial_grace=0.0)
    assert drain(tailer) == ["1", "2"]
    with log.open("ab") as writer:  # the writer keeps its handle across the rename
        writer.write(b"3\n")
        writer.flush()
        log.rename(log.with_name("app.log.1"))
        writer.write(b"4\nunterminated")
        writer.flush()
    log.write_bytes(b"5\n")
    assert drain(tailer) == ["3", "4", "unterminated", "5"]
    append(log, b"6\n")
    append(log.with_name("app.log.1"), b"late\n")  # rotated away and finished: not followed
    assert drain(tailer) == ["6"]


def test_glob_that_matches_the_rotated_name_does_not_read_it_twice(log: Path, state: Path) -> None:
    log.write_bytes(b"1\n2\n")
    tailer = Tailer([str(log.parent / "app.log*")], state)
    assert drain(tailer) == ["1", "2"]
    log.rename(log.with_name("app.log.1"))
    log.write_bytes(b"3\n")
    assert drain(tailer) == ["3"]
    append(log.with_name("app.log.1"), b"4\n")
    assert drain(tailer) == ["4"]


def test_copytruncate_rotation(log: Path, state: Path) -> None:
    log.write_bytes(b"1\n2\n")
    tailer = Tailer([str(log)], state)
    assert drain(tailer) == ["1", "2"]
    shutil.copy(log, log.with_name("app.log.1"))
    with log.open("r+b") as f:
        f.truncate(0)
    append(log, b"3\n")
    assert drain(tailer) == ["3"]


def test_copytruncate_refilled_beyond_the_old_offset_is_still_detected(
    log: Path, state: Path
) -> None:
    log.write_bytes(b"old line\n")
    tailer = Tailer([str(log)], state)
    assert drain(tailer) == ["old line"]
    with log.open("r+b") as f:
        f.truncate(0)
    append(log, b"new first line, longer than before\nnew second\n")
    assert drain(tailer) == ["new first line, longer than before", "new second"]


def test_restart_resumes_after_the_last_shipped_line(log: Path, state: Path) -> None:
    log.write_bytes(b"1\n2\n")
    first = Tailer([str(log)], state)
    assert drain(first) == ["1", "2"]
    first.close()
    append(log, b"3\n")
    saved = json.loads(state.read_text())
    st = os.stat(log)
    assert saved["files"][f"{st.st_dev}:{st.st_ino}"]["offset"] == 4
    assert drain(Tailer([str(log)], state)) == ["3"]


def test_unshipped_lines_are_shipped_again_after_a_restart(log: Path, state: Path) -> None:
    log.write_bytes(b"1\n2\n")
    first = Tailer([str(log)], state)
    chunks = first.poll()  # read but never committed: the shipper failed
    assert [line for c in chunks for line in c.lines] == ["1", "2"]
    first.save()
    first.close()
    assert drain(Tailer([str(log)], state)) == ["1", "2"]


def test_a_different_file_with_a_reused_inode_is_read_from_the_start(
    log: Path, state: Path
) -> None:
    log.write_bytes(b"first file content\n")
    first = Tailer([str(log)], state)
    assert drain(first) == ["first file content"]
    first.close()
    with log.open("r+b") as f:  # same inode, other content (what an inode reuse looks like)
        f.write(b"SECOND file contents, a bit longer\n")
    assert drain(Tailer([str(log)], state)) == ["SECOND file contents, a bit longer"]


def test_invalid_utf8_is_kept_with_replacement_characters(log: Path, state: Path) -> None:
    log.write_bytes(b"caf\xe9 ok\n\xff\xfe\n")
    assert drain(Tailer([str(log)], state)) == ["caf\ufffd ok", "\ufffd\ufffd"]


def test_read_from_end_skips_existing_content_at_first_start(log: Path, state: Path) -> None:
    log.write_bytes(b"history\n")
    tailer = Tailer([str(log)], state, read_from="end")
    assert drain(tailer) == []
    append(log, b"new\n")
    assert drain(tailer) == ["new"]
    new_file = log.with_name("other.log")
    tailer.patterns.append(str(new_file))
    new_file.write_bytes(b"appeared later\n")  # files found later are read from the start
    assert drain(tailer) == ["appeared later"]


def test_state_file_is_written_atomically(log: Path, state: Path) -> None:
    log.write_bytes(b"x\n")
    tailer = Tailer([str(log)], state)
    drain(tailer)
    assert json.loads(state.read_text())["version"] == 1
    assert [p.name for p in state.parent.iterdir()] == ["tail.json"]  # no temp files left


class Refusing:
    """Ingest that refuses with 429 a few times, then records."""

    def __init__(self, refuse: int) -> None:
        self.refuse = refuse
        self.calls = 0
        self.rows: list[dict] = []

    def __call__(self, table: pa.Table, source: str) -> int:
        self.calls += 1
        if self.calls <= self.refuse:
            raise IngestError(429, "busy")
        self.rows += table.to_pylist()
        return table.num_rows


def test_tail_source_ingests_with_retries_and_labels(tmp_path: Path, log: Path) -> None:
    log.write_bytes(b"".join(b"line %d\n" % i for i in range(50)))
    got = Refusing(refuse=2)
    source = TailSource(
        TailSourceConfig(paths=[str(tmp_path / "*.log")], stream="web", poll_seconds=0.02),
        tmp_path / "state" / "tail.json",
    )
    source.start(got)
    deadline = time.monotonic() + 10
    while len(got.rows) < 50 and time.monotonic() < deadline:
        time.sleep(0.02)
    source.stop()
    assert [r["message"] for r in got.rows] == [f"line {i}" for i in range(50)]
    assert {r["stream"] for r in got.rows} == {"web"}
    assert {json.loads(r["labels"])["file"] for r in got.rows} == {str(log)}
    assert got.calls >= 3


def test_follow_stops_and_saves(log: Path, state: Path) -> None:
    log.write_bytes(b"a\n")
    shipped: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=follow,
        args=(Tailer([str(log)], state), lambda c: shipped.extend(c.lines), stop, 0.01),
    )
    thread.start()
    deadline = time.monotonic() + 5
    while not shipped and time.monotonic() < deadline:
        time.sleep(0.01)
    append(log, b"b\n")
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert shipped == ["a", "b"]
    assert drain(Tailer([str(log)], state)) == []


def test_registry_builds_the_enabled_sources(tmp_path: Path) -> None:
    from logradar.config import SourcesConfig
    from logradar.sources.lts_pull import LtsPullSource
    from logradar.sources.registry import build_sources
    from logradar.sources.syslog import SyslogSource

    assert build_sources(SourcesConfig(), tmp_path) == []
    cfg = SourcesConfig(
        syslog={"enabled": True},
        tail={"paths": [str(tmp_path / "*.log")]},
        lts_pull={"enabled": True, "log_stream_id": "abc"},
    )
    sources = build_sources(cfg, tmp_path)
    assert [type(s) for s in sources] == [SyslogSource, TailSource, LtsPullSource]
    assert [s.name for s in sources] == ["syslog", "tail", "lts_pull"]
