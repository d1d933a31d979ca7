"""Archive store down, event clocks that jump, and SIGKILL at a random moment: every
acknowledged line is archived exactly once in the end."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from crash_loss import run_round
from faults.fault_tools import Load, assert_archived_exactly_once, drain, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

S = 10**9


def test_archive_down_then_back_archives_every_line_once(start_up, tmp_path):
    """The archive folder becomes unusable (its parent replaced by a file, which even root
    cannot write through), ingest goes on from the tank, and the backlog lands once back."""
    root = tmp_path / "archive-root"
    archive = root / "archive"
    up = start_up(env={"LOGRADAR_ARCHIVE__URL": str(archive)})
    load = Load(up.url)
    for _ in range(5):
        assert load.send(200) == 200
    drain(up)
    away = tmp_path / "archive-away"
    root.rename(away)
    root.write_bytes(b"not a folder")  # the archive store is down
    for _ in range(10):
        assert load.send(200) == 200  # acknowledged: durable in the tank
    wait_for(
        lambda: up.metric("logradar_consumer_lag_lines", 'consumer="archive"') >= 2000,
        "the archive to fall behind while down",
    )
    root.unlink()
    away.rename(root)  # back
    for _ in range(5):
        assert load.send(200) == 200
    drain(up)
    assert up.stop() == 0
    assert_archived_exactly_once(archive, load)


def test_event_clock_jumps_are_accepted_and_archived_once(start_up, tmp_path):
    """Senders whose clocks jump a day ahead and back (event times) do not stall the engine
    or the archive."""
    up = start_up()
    load = Load(up.url)
    now = time.time_ns()
    for ts in (now, now + 86_400 * S, now, now - 86_400 * S, now + 3_600 * S, None):
        assert load.send(200, ts_ns=ts) == 200
    drain(up)
    assert up.stop() == 0
    assert_archived_exactly_once(tmp_path / "data" / "archive", load)


def test_sigkill_at_a_random_moment_loses_and_duplicates_nothing(tmp_path: Path):
    seed = random.randrange(10**6)
    kill_after = random.Random(seed).uniform(0.5, 4.0)
    result = run_round(tmp_path, kill_after=kill_after, senders=2)
    assert result["lost"] == 0 and result["duplicated"] == 0, (seed, result)
    assert result["foreign"] == 0 and result["graceful_exit_code"] == 0, (seed, result)
