"""``logradar train`` without an archive fails cleanly and creates nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from logradar.cli import main


def test_train_without_archive_creates_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith("LOGRADAR_")]:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(main, ["train", "--no-progress"])
    assert result.exit_code == 1
    assert "no archive at logradar-data/archive" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-11-01"], "no time zone"),
        (["--from", "2026-11-01T00:00:00Z", "--to", "2026-10-01T00:00:00Z"], "after --from"),
    ],
)
def test_train_times_need_a_zone_and_order(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "archive").mkdir()
    result = CliRunner().invoke(main, ["train", "--data-dir", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output
