"""``logradar train``: baselines from the Parquet archive, adopted by a running engine."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from click.testing import CliRunner

from logradar.commands.train import train_command
from logradar.config import Settings
from logradar.engine.core import DetectionCore
from logradar.engine.local import LocalEngine
from logradar.engine.train import StaleTraining, TrainedPickup, adopt, train
from logradar.schema import RECORD_SCHEMA, ingest_table

S = 10**9
HOUR = 3600 * S
T0 = 1_700_000_000 * S  # live lines start here; the archive holds the day before
HISTORY = T0 - 24 * HOUR


def _history_lines(i: int) -> list[str]:
    return [f"GET /item/{i} 200", f"user {i} logged in"]


@pytest.fixture
def archive(harness, tmp_path) -> str:
    """A Parquet archive (of another data dir) with two hours of 'web' and one of 'db'."""
    h = harness(data_dir=tmp_path / "history")
    for i in range(240):  # every 30 s for 2 h
        h.send("web", _history_lines(i), HISTORY + i * 30 * S)
    h.send("db", ["checkpoint done in 4 ms"] * 3, HISTORY)
    assert h.pipeline.archiver.flush() == 483
    return str(tmp_path / "history" / "archive")


def _live(harness, tmp_path, archive: str, name: str):
    """A pipeline reading ``archive`` (not writing it); templates once seen are never new."""
    return harness(
        data_dir=tmp_path / name,
        archive={"enabled": False, "url": archive},
        detectors={"new_pattern": {"forget_after_seconds": None}},
    )


def _new_templates(h) -> set[str]:
    """Live lines, one like the history and one not: the lines reported as new patterns."""
    h.send("web", ["GET /item/5000 200", "disk sda1 is full"], T0 + S)
    h.run(T0 + 15 * S)
    return {a["examples"][0] for a in h.anomalies(detector="new_pattern")}


def test_templates_seen_in_training_are_not_new(harness, tmp_path, archive):
    untrained = _live(harness, tmp_path, archive, "untrained")
    assert _new_templates(untrained) == {"GET /item/5000 200", "disk sda1 is full"}

    h = _live(harness, tmp_path, archive, "trained")
    runner = CliRunner(env={"LOGRADAR_ARCHIVE__URL": archive})
    r = runner.invoke(train_command, ["--data-dir", str(tmp_path / "trained")])
    assert r.exit_code == 0, r.output
    assert "trained on 483 lines" in r.output
    assert (tmp_path / "trained" / "state" / "trained.json").exists()
    assert _new_templates(h) == {"disk sda1 is full"}
    assert h.pipeline.engine.trained.applied is not None


def _count(archive_rows: list[tuple[str, int]], stream: str | None, lo: int, hi: int) -> int:
    return sum(1 for s, ts in archive_rows if (stream in (None, s)) and lo <= ts < hi)


def test_range_and_stream_select_the_records(harness, tmp_path, archive):
    h = _live(harness, tmp_path, archive, "live")
    rows = [("web", HISTORY + i * 30 * S) for i in range(240) for _ in range(2)]
    rows += [("db", HISTORY)] * 3
    lo, hi = HISTORY + 30 * 60 * S, HISTORY + 90 * 60 * S
    result = train(h.pipeline.settings, start_ns=lo, end_ns=hi, stream="web")
    assert result.lines == _count(rows, "web", lo, hi)
    trained = json.loads(result.path.read_text())
    assert trained["range"] == {"start_ns": lo, "end_ns": hi, "stream": "web"}
    assert train(h.pipeline.settings, start_ns=lo).lines == _count(rows, None, lo, 2**62)


def test_cli_errors(harness, tmp_path, archive):
    runner = CliRunner(env={"LOGRADAR_ARCHIVE__URL": archive})
    data = ["--data-dir", str(tmp_path / "x")]
    empty = runner.invoke(train_command, [*data, "--stream", "nosuch"])
    assert empty.exit_code == 1 and "no records" in empty.output
    backwards = runner.invoke(train_command, [*data, "--from", "1h", "--to", "2h"])
    assert backwards.exit_code == 2 and "--to" in backwards.output
    bad = runner.invoke(train_command, [*data, "--from", "yesterday"])
    assert bad.exit_code == 2 and "--from" in bad.output


# The adoption rule -----------------------------------------------------------------------
def _core() -> DetectionCore:
    s = Settings()
    return DetectionCore(s.engine, s.parser, s.detectors)


def _feed(core: DetectionCore, lines: list[str], ts: int) -> None:
    table = ingest_table("web", lines, ts)
    offsets = pa.array(range(core.offset + 1, core.offset + 1 + len(lines)), pa.int64())
    core.process(pa.Table.from_arrays([offsets, *table.columns], schema=RECORD_SCHEMA), ts)


def _trained_from(base: DetectionCore, lines: list[str]) -> dict:
    """What `train` writes: started from ``base``'s miner, then learned ``lines``."""
    t = _core()
    t.load_state_dict(base.state_dict())
    base_next = t.miner.state_dict()["next_id"]
    t.reset_time()
    t.learning_override = True
    _feed(t, lines, HISTORY)
    t.finish()
    state = t.state_dict()
    return {
        "id": "t1",
        "lines": len(lines),
        "base_next_id": base_next,
        "range": {"start_ns": None, "end_ns": None, "stream": None},
        **{k: state[k] for k in ("miner", "template_stats")},
        **{k: state[k] for k in ("window_detectors", "session_detectors")},
    }


def test_clashing_template_ids_are_refused(tmp_path):
    live = _core()
    _feed(live, ["boot ok"], T0)
    trained = _trained_from(live, ["cache warmed in 3 ms"])
    _feed(live, ["shutdown requested by admin"], T0 + S)  # the engine learns meanwhile
    before = live.state_dict()
    with pytest.raises(StaleTraining, match="clash"):
        adopt(live, trained)
    path = tmp_path / "trained.json"
    path.write_text(json.dumps(trained))
    assert TrainedPickup(path).poll(live) is False
    assert live.state_dict() == before


def test_training_without_new_templates_always_adopts_detector_states():
    live = _core()
    _feed(live, ["boot ok", "cache warmed in 3 ms"], T0)
    trained = _trained_from(live, ["cache warmed in 7 ms"] * 5)
    _feed(live, ["shutdown requested by admin"], T0 + S)
    templates = live.miner.state_dict()["templates"]
    assert live.state_dict()["window_detectors"] != trained["window_detectors"]
    assert adopt(live, trained) == []
    assert live.miner.state_dict()["templates"] == templates
    state = live.state_dict()
    assert state["window_detectors"] == trained["window_detectors"]


def test_adopted_once_even_across_restarts(harness, tmp_path, archive):
    h = _live(harness, tmp_path, archive, "live")
    train(h.pipeline.settings)
    h.run(T0)
    engine = h.pipeline.engine
    assert (
        engine.trained.applied
        == json.loads((tmp_path / "live" / "state" / "trained.json").read_text())["id"]
    )
    engine.snapshot()
    p = h.pipeline
    again = LocalEngine(p.settings, p.tank, p.store, p.metrics, on_anomalies=p._on_anomalies)
    assert again.trained.applied == engine.trained.applied
    assert again.trained.poll(again.core) is False


def test_training_one_stream_keeps_the_other_streams_baselines(harness, tmp_path, archive):
    h = _live(harness, tmp_path, archive, "live")
    h.send("db", ["replica lag is 3 s"], T0 + S)
    h.run(T0 + 15 * S)
    seen = h.pipeline.engine.core.state_dict()["window_detectors"]["new_pattern"]["seen"]
    assert set(seen) == {"db"}
    h.pipeline.engine.snapshot()  # training starts from it: the template ids agree
    train(h.pipeline.settings, stream="web")
    h.run(T0 + 16 * S)
    after = h.pipeline.engine.core.state_dict()["window_detectors"]["new_pattern"]["seen"]
    assert set(after) == {"db", "web"}
    assert after["db"] == seen["db"]
    assert len(after["web"]) == 2  # the two history templates
