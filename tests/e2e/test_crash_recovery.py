"""SIGKILL under load from 4 senders, restart: every acknowledged line archived exactly once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from crash_loss import run_round

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_sigkill_under_load_loses_and_duplicates_nothing(tmp_path):
    result = run_round(tmp_path, kill_after=3.0, senders=4)
    assert result["acked"] > 1000, result  # the load really ran
    assert result["lost"] == 0, result
    assert result["duplicated"] == 0, result
    assert result["foreign"] == 0, result
    assert result["graceful_exit_code"] == 0, result
    # the engine resumed from its snapshot instead of replaying the whole tank
    assert result["engine_snapshot_offset_at_kill"] > 0, result
    assert result["engine_lines_after_restart"] < result["archived"], result
