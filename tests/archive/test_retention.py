"""A consumer that no longer runs (the archive, disabled) does not pin tank retention, and
``logradar tank consumers`` lists and drops it."""

from __future__ import annotations

import json

from click.testing import CliRunner
from prometheus_client import generate_latest

from logradar.cli import main
from logradar.config import load_config
from logradar.pipeline import Pipeline
from logradar.schema import ingest_table
from logradar.tank import SqliteTank

T0 = 1_764_075_600_000_000_000


def lines(n: int, start: int = 0):
    return ingest_table("web", [f"line {start + i}" for i in range(n)], T0)


def test_disabled_archive_stops_pinning_retention(tmp_path):
    data = tmp_path / "data"
    settings = load_config(None, data_dir=str(data))
    pipeline = Pipeline(settings)  # the archive is enabled: it registers as a consumer
    pipeline.ingest(lines(10), "t")
    pipeline.archiver.flush()
    pipeline.refresh_gauges()
    scraped = generate_latest(pipeline.metrics.registry).decode()
    assert "logradar_lines_archived_total 10.0" in scraped  # it was always 0
    assert "logradar_archive_files_total 1.0" in scraped
    assert "logradar_archive_lag_lines 0.0" in scraped
    pipeline.tank.close()
    pipeline.store.close()

    settings = load_config(None, data_dir=str(data), archive={"enabled": False})
    pipeline = Pipeline(settings)
    try:
        pipeline.ingest(lines(10, 10), "t")
        pipeline.tank.commit("engine", 19)  # the engine processed everything
        assert pipeline.active_consumers() == ["engine"]
        assert pipeline.tank.consumers() == {"archive": 9, "engine": 19}
        dropped = pipeline.tank.enforce_retention(0, 10**12, pipeline.active_consumers())
        assert dropped == 2  # the archive's stale offset (9) no longer holds segment 2 back
        assert pipeline.tank.enforce_retention(0, 10**12) == 0  # all known would still pin
    finally:
        pipeline.tank.close()
        pipeline.store.close()


def test_tank_consumers_cli_lists_and_drops(tmp_path):
    data = tmp_path / "data"
    tank = SqliteTank(data / "tank.db")
    tank.append(lines(30))
    tank.commit("archive", 9)
    tank.commit("engine", 29)
    tank.close()
    runner = CliRunner(env={"LOGRADAR_ARCHIVE__ENABLED": "false"})
    listed = runner.invoke(main, ["tank", "consumers", "--data-dir", str(data), "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output) == [
        {"name": "archive", "committed": 9, "lag": 20, "active": False},
        {"name": "engine", "committed": 29, "lag": 0, "active": True},
    ]
    text = runner.invoke(main, ["tank", "consumers", "--data-dir", str(data)])
    assert "not in use" in text.output.splitlines()[1]
    consumers = ["tank", "consumers", "--data-dir", str(data)]
    refused = runner.invoke(main, [*consumers, "--drop", "engine"])
    assert refused.exit_code == 1 and "in use" in refused.output
    missing = runner.invoke(main, [*consumers, "--drop", "nope"])
    assert missing.exit_code == 1 and "no consumer named 'nope'" in missing.output
    dropped = runner.invoke(main, [*consumers, "--drop", "archive"])
    assert dropped.exit_code == 0 and "dropped consumer archive" in dropped.output
    tank = SqliteTank(data / "tank.db")
    assert tank.consumers() == {"engine": 29}
    assert tank.enforce_retention(0, 10**12) == 1


def test_dropping_the_furthest_consumer_never_reuses_offsets(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    tank.append(lines(10))
    tank.commit("archive", 9)
    assert tank.enforce_retention(0, 10**12) == 1  # every segment is gone
    tank.drop_consumer("archive")
    tank.close()
    tank = SqliteTank(tmp_path / "t.db")
    assert tank.append(lines(1)) == (10, 10)
