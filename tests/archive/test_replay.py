"""``logradar backtest --archive URL --since T --until T``: the core over archived lines."""

from __future__ import annotations

import json

from click.testing import CliRunner

from logradar.archive.parquet import ParquetArchiver
from logradar.cli import main
from logradar.schema import ingest_table
from logradar.tank import SqliteTank

S = 10**9
T0 = 1_764_075_600 * S  # 2025-11-25T13:00:00Z


def test_backtest_replays_the_archive_range(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    normal = [f"GET /home user={i % 7} 200" for i in range(120)]
    tank.append(ingest_table("web", normal, [T0 + i * S // 2 for i in range(120)]))
    tank.append(ingest_table("web", ["kernel panic: cpu 3 stuck"], T0 + 50 * S))
    tank.append(ingest_table("web", ["disk quota exceeded on /var"], T0 + 7200 * S))  # outside
    ParquetArchiver(tank, str(tmp_path / "archive")).flush()
    out = tmp_path / "anomalies.jsonl"
    args = ["backtest", "--archive", str(tmp_path / "archive"), "--output", str(out)]
    result = CliRunner().invoke(
        main, [*args, "--since", "2025-11-25T13:00:00Z", "--until", "2025-11-25T14:00:00Z"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["lines"], summary["hours"]) == (121, 1)
    found = [json.loads(line) for line in out.read_text().splitlines()]
    new = [a for a in found if a["detector"] == "new_pattern"]
    assert [a["examples"] for a in new] == [["kernel panic: cpu 3 stuck"]]
    assert all(a["stream"] == "web" for a in found)

    both = CliRunner().invoke(main, [*args, "--train", str(tmp_path / "t.db")])
    assert both.exit_code == 2 and "--archive replays the archive" in both.output
    neither = CliRunner().invoke(main, ["backtest", "--output", str(out)])
    assert neither.exit_code == 2 and "--train FILE (or --archive URL)" in neither.output
