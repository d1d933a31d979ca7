"""The demo's log generator: deterministic, realistic in shape, and its incident is visible."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from logradar.config import load_config
from logradar.demo.generator import (
    INCIDENTS,
    STREAMS,
    DemoSystem,
    LogLine,
    novel_error_lines,
)
from logradar.engine.core import DetectionCore
from logradar.schema import Severity, ingest_table

NS = 1_000_000_000
START = int(datetime(2026, 11, 25, 13, 0, tzinfo=UTC).timestamp()) * NS
HEADER = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z (?P<level>INFO|WARN|ERROR) "
    r"\[(?P<stream>[a-z-]+)\] \S"
)


def lines_for(seconds: float, seed: int = 0, **kwargs) -> list[LogLine]:
    return DemoSystem(seed, start_ns=START, **kwargs).advance(START + int(seconds * NS))


@pytest.fixture(scope="module")
def minute() -> list[LogLine]:
    return lines_for(60)


def test_same_seed_same_lines_and_other_seed_other_lines() -> None:
    assert lines_for(5, seed=7) == lines_for(5, seed=7)
    assert lines_for(5, seed=7) != lines_for(5, seed=8)


def test_lines_do_not_depend_on_how_often_advance_is_called() -> None:
    system = DemoSystem(3, start_ns=START)
    pieces: list[LogLine] = []
    for step in (0.05, 0.3, 0.31, 1.0, 1.7, 4.99, 5.0):
        pieces += system.advance(START + int(step * NS))
    assert pieces == lines_for(5, seed=3)


def test_headers_match_stream_and_event_time(minute: list[LogLine]) -> None:
    for line in minute:
        m = HEADER.match(line.text)
        assert m, line.text
        assert m["stream"] == line.stream
        stamp = datetime.fromisoformat(m["ts"] + "+00:00")
        assert int(stamp.timestamp() * 1000) == line.ts_ns // 1_000_000
    times = [line.ts_ns for line in minute]
    assert times == sorted(times)
    assert times[0] >= START and times[-1] < START + 60 * NS


def test_rate_streams_and_level_mix(minute: list[LogLine]) -> None:
    assert 0.9 * 200 * 60 < len(minute) < 1.1 * 200 * 60
    per_stream = Counter(line.stream for line in minute)
    assert set(per_stream) == set(STREAMS)
    levels = Counter(HEADER.match(line.text)["level"] for line in minute)
    assert levels["INFO"] > 0.9 * len(minute)
    assert 0 < levels["ERROR"] < levels["WARN"] < 0.1 * len(minute)


def test_rate_parameter_scales_volume() -> None:
    assert 0.8 * 5 < len(lines_for(20, rate=1000)) / len(lines_for(20, rate=200)) < 1.2 * 5


def test_requests_flow_through_the_gateway_and_auth(minute: list[LogLine]) -> None:
    rid = re.compile(r"request_id=([0-9a-f]{16})")
    by_stream: dict[str, set[str]] = {s: set() for s in STREAMS}
    for line in minute:
        if m := rid.search(line.text):
            by_stream[line.stream].add(m[1])
    gateway = by_stream["api-gateway"]
    assert len(gateway) > 1000
    assert len(by_stream["auth"] & gateway) > 0.8 * len(by_stream["auth"])
    assert by_stream["payments"] and by_stream["payments"] <= gateway
    assert by_stream["inventory"] and by_stream["inventory"] <= gateway


def test_db_outage_quiets_db_and_adds_a_new_error_in_payments() -> None:
    system = DemoSystem(1, start_ns=START)
    before = system.advance(START + 30 * NS)
    at = system.inject("db_outage")
    after = system.advance(START + 60 * NS)
    assert at == START + 30 * NS

    def count(lines: list[LogLine], stream: str, text: str = "") -> int:
        return sum(line.stream == stream and text in line.text for line in lines)

    assert count(before, "db") > 100
    assert count(after, "db") == 0
    assert count(before, "payments", "db-primary:5432 refused") == 0
    assert count(after, "payments", "db-primary:5432 refused") > 20
    assert count(after, "payments", "retrying charge") > 5 * max(
        1, count(before, "payments", "retrying charge")
    )
    assert count(after, "api-gateway", "status=503") > 20


def test_inject_rejects_unknown_incidents() -> None:
    with pytest.raises(ValueError, match="db_outage"):
        DemoSystem().inject("meteor")
    assert "db_outage" in INCIDENTS


def test_novel_error_patterns_differ_from_each_other() -> None:
    patterns = [novel_error_lines(k, 3, START) for k in range(10)]
    bodies = [p[0].split(" ", 3)[3] for p in patterns]
    assert len({len(b.split()) for b in bodies}) == 10
    words = [set(b.split()[:-1]) for b in bodies]
    for i in range(10):
        for j in range(i + 1, 10):
            assert not words[i] & words[j]
    for lines in patterns:
        assert all(HEADER.match(line)["level"] == "ERROR" for line in lines)
        assert len(set(lines)) == 3


def test_engine_defaults_see_only_the_incident() -> None:
    """Live-like run through the detection core with the default configuration: normal
    traffic gives nothing at alert level, the injected outage does within two windows."""
    settings = load_config()
    core = DetectionCore(settings.engine, settings.parser, settings.detectors)
    window = int(settings.engine.window_seconds * NS)
    system = DemoSystem(5, start_ns=START)
    found: list[tuple[int, object]] = []
    offset, now, injected = 0, START, None
    while now < START + 90 * NS:
        now += NS // 2
        if injected is None and now >= START + 40 * NS:
            injected = system.inject("db_outage")
        lines = system.advance(now)
        tables = [
            ingest_table(
                s,
                [x.text for x in lines if x.stream == s],
                [x.ts_ns for x in lines if x.stream == s],
            )
            for s in STREAMS
        ]
        batch = pa.concat_tables(tables)
        batch = batch.add_column(0, "offset", pa.array(range(offset, offset + batch.num_rows)))
        offset += batch.num_rows
        found += [(now, a) for a in core.process(batch, now).anomalies]
    serious = [(t, a) for t, a in found if a.severity >= settings.alerts.min_severity]
    assert serious, "the outage was not detected"
    assert all(t > injected for t, _ in serious), [a.explanation for _, a in serious]
    first_time = min(t for t, _ in serious)
    assert (
        first_time
        <= injected + 2 * window + int(settings.engine.allowed_lateness_seconds * NS) + NS
    )
    outage = [a for _, a in serious if a.kind == "new_pattern" and a.stream == "payments"]
    assert outage and "db-primary" in outage[0].template
    assert outage[0].severity >= Severity.HIGH


def test_recover_ends_the_outage() -> None:
    system = DemoSystem(2, start_ns=START)
    system.advance(START + 10 * NS)
    system.inject("db_outage")
    during = system.advance(START + 20 * NS)
    assert system.recover("db_outage") == START + 20 * NS
    after = system.advance(START + 40 * NS)
    # (requests that began before a change may still log the old way in its first second)
    assert all(x.ts_ns < START + 11 * NS for x in during if x.stream == "db")
    assert len([x for x in after if x.stream == "db"]) > 100
    assert all(x.ts_ns < START + 21 * NS for x in after if "db-primary:5432 refused" in x.text)
    with pytest.raises(ValueError, match="not injected"):
        DemoSystem().recover("db_outage")
