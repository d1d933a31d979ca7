import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
from click.testing import CliRunner

from logradar.commands.parse import parse_command, patterns_command

HDFS = Path(__file__).resolve().parents[3] / "shared/datasets/loghub-2k/HDFS/HDFS_2k.log"
HDFS_FORMAT = json.loads(
    (Path(__file__).resolve().parents[3] / "shared/datasets/loghub-2k/formats.json").read_text()
)["HDFS"]


def test_parse_writes_one_row_per_line_in_order(tmp_path) -> None:
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        parse_command, [str(HDFS), "--log-format", HDFS_FORMAT, "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    raw = HDFS.read_text(encoding="utf-8").splitlines()
    assert len(rows) == len(raw) == 2000
    assert [int(r["LineId"]) for r in rows] == list(range(1, 2001))
    assert {"EventId", "EventTemplate", "message", "ts", "level"} <= set(rows[0])
    assert rows[0]["message"] == raw[0].split(": ", 1)[1].rstrip()
    # lines with the same template text share the id
    by_text: dict[str, set[str]] = {}
    for r in rows:
        by_text.setdefault(r["EventTemplate"], set()).add(r["EventId"])
    assert all(len(v) == 1 for v in by_text.values())


def test_parse_to_parquet_with_invalid_utf8(tmp_path) -> None:
    log = tmp_path / "in.log"
    log.write_bytes(b"alpha 1\nbeta \xff 2\nalpha 3\n")
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(parse_command, [str(log), "-o", str(out)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table["LineId"].to_pylist() == [1, 2, 3]
    assert table["message"].to_pylist() == ["alpha 1", "beta \ufffd 2", "alpha 3"]
    ids = table["EventId"].to_pylist()
    assert ids[0] == ids[2] != ids[1]


def test_patterns_lists_most_frequent_first() -> None:
    result = CliRunner().invoke(
        patterns_command, [str(HDFS), "--log-format", HDFS_FORMAT, "--top", "3"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    counts = [int(line.split()[0]) for line in lines[1:4]]
    assert len(counts) == 3 and counts == sorted(counts, reverse=True)


def test_errors_exit_non_zero(tmp_path) -> None:
    runner = CliRunner()
    missing = runner.invoke(patterns_command, [str(tmp_path / "nope.log")])
    assert missing.exit_code != 0 and "does not exist" in missing.output
    bad = runner.invoke(
        parse_command, [str(HDFS), "--log-format", "<Date> <Time>", "-o", str(tmp_path / "o.csv")]
    )
    assert bad.exit_code != 0 and "<Content>" in bad.output


def test_parse_params_returns_the_values_of_each_line(tmp_path) -> None:
    log = tmp_path / "in.log"
    log.write_text(
        "".join(
            f"2024-05-01T12:00:0{i}Z INFO [db] replication status replica=db-replica-{i} "
            f"lag_ms={i * 7}\n"
            for i in range(5)
        )
    )
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(parse_command, [str(log), "-o", str(out), "--params"])
    assert result.exit_code == 0, result.output
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["EventTemplate"] == "replication status replica=db-replica-<*> lag_ms=<*>"
    assert [json.loads(r["ParameterList"]) for r in rows[:2]] == [["0", "0"], ["1", "7"]]
    assert rows[0]["component"] == "db" and rows[0]["level"] == "info"
    assert rows[3]["ts"].startswith("2024-05-01 12:00:03")
