"""Fuzzing the two receivers that parse what they read rather than what is sent to them: the
LTS pull source (arbitrary query answers) and the file tailer (arbitrary bytes, written and
read in arbitrary pieces, across restarts)."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

import httpx
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logradar.config import LtsPullSourceConfig
from logradar.sources.lts_pull import LtsPullSource, LtsQueryError
from logradar.sources.tail import Tailer

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# LTS pull ---------------------------------------------------------------------------------------
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
log_items = st.fixed_dictionaries(
    {"line_num": json_values | st.integers(0, 2**70).map(str)},
    optional={"content": json_values, "labels": json_values},
)
answers = st.one_of(
    st.binary(max_size=64),  # not JSON at all
    json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(log_items | json_values, max_size=4).map(
        lambda logs: json.dumps({"count": len(logs), "logs": logs}).encode()
    ),
)


class Sink:
    def __init__(self) -> None:
        self.tables: list[pa.Table] = []

    def __call__(self, table: pa.Table, source: str) -> int:
        self.tables.append(table)
        return table.num_rows


def pull_once(body: bytes, status: int) -> tuple[Sink, LtsPullSource]:
    config = LtsPullSourceConfig(
        enabled=True,
        endpoint="http://lts.test",
        project_id="p",
        log_group_id="g",
        log_stream_id="s",
        access_key="ak",
        secret_key="sk",
        delay_seconds=0,
        backfill_seconds=60,
        limit=1000,
    )
    with tempfile.TemporaryDirectory() as state:
        source = LtsPullSource(config, Path(state) / "lts_pull.json", max_labels=4)
        transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
        source._client = httpx.Client(transport=transport)  # the parsing under test is ours
        sink = Sink()
        with contextlib.suppress(LtsQueryError):
            source.poll(sink, now_ms=1_780_000_000_000)
        return sink, source


@FUZZ
@given(body=answers, status=st.sampled_from([200, 200, 200, 400, 500]))
def test_any_lts_answer_is_ingested_or_refused_as_a_query_error(body: bytes, status: int) -> None:
    """No answer makes the source fail otherwise (which would retry it forever), and what it
    ingests is well formed: one row per item, labels a JSON object of at most max_labels."""
    sink, _ = pull_once(body, status)
    for table in sink.tables:
        assert table.num_rows > 0
        assert table.column("message").null_count == 0
        for labels in table.column("labels").to_pylist():
            if labels is not None:
                parsed = json.loads(labels)
                assert isinstance(parsed, dict) and len(parsed) <= 4
                assert all(isinstance(v, str) for v in parsed.values())
    if status != 200:
        assert sink.tables == []


def test_well_formed_items_are_ingested_in_order() -> None:
    logs = [
        {"line_num": str(1_780_000_000_000_000_000 + i), "content": f"m{i}", "labels": {"a": "1"}}
        for i in range(3)
    ]
    sink, source = pull_once(json.dumps({"count": 3, "logs": logs}).encode(), 200)
    assert [m for t in sink.tables for m in t.column("message").to_pylist()] == ["m0", "m1", "m2"]
    assert source.pulled == 3


# File tail --------------------------------------------------------------------------------------
pieces = st.lists(
    st.lists(st.sampled_from([b"a", b"b c", b"\n", b"\r\n", b" ", b"\xe2\x82", b"\xac", b"\xff"]))
    .map(b"".join)
    .filter(bool),
    max_size=12,
)


def expected_lines(content: bytes) -> list[str]:
    """What tailing a file with ``content`` ships: lines split on ``\\n`` only, ``\\r\\n``
    ended lines without the ``\\r``, invalid UTF-8 replaced, blank lines skipped."""
    text = content.decode("utf-8", errors="replace")
    return [line.removesuffix("\r") for line in text.split("\n") if line.strip()]


@FUZZ
@given(writes=pieces, actions=st.lists(st.sampled_from(["poll", "restart", "none"]), max_size=12))
def test_tailed_lines_are_the_files_lines_exactly_once(writes: list[bytes], actions) -> None:
    """Written in any pieces (partial lines, multi-byte characters cut in two), polled at any
    moment, restarted at any moment after committing: every line is shipped exactly once,
    complete, and the final drain ships the unterminated last line too."""
    with tempfile.TemporaryDirectory() as tmp:
        log, state = Path(tmp) / "app.log", Path(tmp) / "state.json"
        log.write_bytes(b"")
        tailer = Tailer([str(log)], state, partial_grace=0.0)
        shipped: list[str] = []

        def drain(final: bool = False) -> None:
            while chunks := tailer.poll(final=final):
                for chunk in chunks:
                    shipped.extend(chunk.lines)
                    tailer.commit(chunk)
            tailer.save()

        for i, piece in enumerate(writes):
            with log.open("ab") as out:
                out.write(piece)
            action = actions[i] if i < len(actions) else "none"
            if action == "poll":
                drain()
            elif action == "restart":
                drain()
                tailer.close()
                tailer = Tailer([str(log)], state, partial_grace=0.0)
        drain(final=True)
        tailer.close()
        assert shipped == expected_lines(b"".join(writes))
