"""``logradar parse -o``: the extension picks the format, unknown ones are refused."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from logradar.commands.parse import parse_command

LOG = b"""2026-11-25 13:00:01 INFO web: user 17 logged in
2026-11-25 13:00:02 WARN web: slow request 230 ms
2026-11-25 13:00:03 INFO web: user 18 logged in
"""
FORMAT = "<Date> <Time> <Level> <Component>: <Content>"


def parse(tmp_path: Path, out: str, *extra: str, content: bytes = LOG) -> tuple[int, str, Path]:
    log = tmp_path / "in.log"
    log.write_bytes(content)
    target = tmp_path / out
    result = CliRunner().invoke(parse_command, [str(log), "-o", str(target), *extra])
    return result.exit_code, result.output, target


@pytest.mark.parametrize("name", ["out.json", "out.txt", "out"])
def test_unknown_extension_is_refused_with_the_choices(tmp_path: Path, name: str) -> None:
    code, output, target = parse(tmp_path, name)
    assert code == 2
    assert ".csv, .parquet" in output
    assert not target.exists()


@pytest.mark.parametrize("content", [LOG, b""], ids=["lines", "empty"])
def test_csv_and_parquet_have_the_same_columns_and_rows(tmp_path: Path, content: bytes) -> None:
    assert parse(tmp_path, "a.csv", "--log-format", FORMAT, content=content)[0] == 0
    assert parse(tmp_path, "a.PARQUET", "--log-format", FORMAT, content=content)[0] == 0
    with open(tmp_path / "a.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = reader.fieldnames
    table = pq.read_table(tmp_path / "a.PARQUET")
    assert columns == table.column_names
    assert {"LineId", "EventId", "EventTemplate"} <= set(columns)
    assert len(rows) == table.num_rows == content.count(b"\n")
    if rows:
        assert {"Date", "Time", "Level", "Component"} <= set(columns)
        assert [r["EventTemplate"] for r in rows] == table["EventTemplate"].to_pylist()
