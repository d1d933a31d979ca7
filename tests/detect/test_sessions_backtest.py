"""End to end: rendered HDFS logs through ``run_backtest`` (parser, session keys, detector)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from logradar.backtest import run_backtest
from logradar.config import SessionsConfig
from logradar.demo.hdfs_render import (
    HDFS_FORMAT,
    SESSION_KEY,
    read_sessions,
    render_sessions,
    write_log,
)
from logradar.detect.base import DetectContext
from logradar.detect.sessions import SessionModel

DATA = Path(__file__).resolve().parents[3] / "shared/datasets/hdfs-sessions"


def test_engine_judges_rendered_sessions_like_the_event_keys(tmp_path):
    """The engine, mining its own templates from raw lines, flags the very sessions the model
    flags on the ground-truth event keys, and its anomalies name the block and show its lines.
    """
    normal = read_sessions(DATA / "normal_train.txt")
    random.Random(3).shuffle(normal)
    train, test_normal = normal[:800], normal[800:1200]
    test_abnormal = read_sessions(DATA / "abnormal_dev.txt")[1::20]
    tests = test_normal + test_abnormal
    train_lines, _ = render_sessions(train, seed=1)
    test_lines, blocks = render_sessions(tests, seed=2)
    write_log(tmp_path / "train.log", train_lines)
    write_log(tmp_path / "test.log", test_lines)

    summary = run_backtest(
        tmp_path / "train.log",
        tmp_path / "test.log",
        tmp_path / "out.jsonl",
        log_format=HDFS_FORMAT,
        session_key=SESSION_KEY,
    )

    assert summary["lines"] == len(train_lines) + len(test_lines)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    anomalies = [r for r in rows if r["detector"] == "sessions"]
    by_block = {a["session"]: a for a in anomalies}
    assert len(by_block) == len(anomalies)  # at most one anomaly per session

    model = SessionModel(SessionsConfig())
    for events in train:
        model.learn(events)
    model.fit()
    ctx = DetectContext(template_text=str, is_error_template=lambda t: False)
    expected = {b for b, s in zip(blocks, tests, strict=True) if model.findings(s, ctx)}
    assert set(by_block) == expected
    # 800 train sessions hold too few replicated blocks for the exclusive pairs: lower recall
    assert len(expected & set(blocks[len(test_normal) :])) >= 0.9 * len(test_abnormal)

    for block, a in by_block.items():
        assert a["kind"] == "abnormal_session" and a["severity"] in ("medium", "high")
        assert a["explanation"].startswith(f"Session {block} ")
        assert a["examples"] and all(block in line for line in a["examples"])
        assert a["template"] and "<*>" in a["template"]


def test_rendered_lines_match_the_hdfs_templates_in_session_order():
    """Every line has the HDFS header and the content of its event's template (E1..E30 as
    in HDFS_templates.csv), names only its own block, and keeps its session's event order,
    while sessions interleave in time. The same seed renders the same lines."""
    templates = {}
    for line in (DATA / "HDFS_templates.csv").read_text().splitlines()[1:]:
        key, template = line.split(",", 1)
        parts = (re.escape(p) for p in template.split("<*>"))
        templates[int(key[1:])] = re.compile(".*".join(parts) + "$")
    header = re.compile(r"^(\d{6}) (\d{6}) (\d+) (INFO|WARN) (\S+): (.*)$")
    sessions = [list(range(1, 31)), *read_sessions(DATA / "abnormal_dev.txt")[:300]]

    lines, blocks = render_sessions(sessions, seed=5)

    assert (lines, blocks) == render_sessions(sessions, seed=5)
    assert len(set(blocks)) == len(blocks)
    assert len(lines) == sum(map(len, sessions))
    stamps = [header.match(line).group(1, 2) for line in lines]
    assert stamps == sorted(stamps)
    by_block: dict[str, list[str]] = {}
    for line in lines:
        [block] = set(re.findall(SESSION_KEY, line))
        by_block.setdefault(block, []).append(header.match(line).group(6))
    for events, block in zip(sessions, blocks, strict=True):
        contents = by_block[block]
        assert len(contents) == len(events)
        for event, content in zip(events, contents, strict=True):
            assert templates[event].match(content), (event, content)
    rows: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        rows.setdefault(re.search(SESSION_KEY, line).group(), []).append(i)
    interleaved = [r[-1] - r[0] + 1 > len(r) for r in rows.values() if len(r) > 1]
    assert sum(interleaved) > 0.9 * len(interleaved)
