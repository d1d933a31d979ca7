"""Disk full under load on the real server: the data dir is a small tmpfs that the test
fills up, then frees. Acknowledged lines stay archived exactly once; refusals are 503 with
Retry-After (never 500), and the server recovers by itself once space is back."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from faults.fault_tools import Load, assert_archived_exactly_once, drain, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SIZE_MB = 48


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs (needs root): {mounted.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs (needs root): {mounted.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path, leave_bytes: int) -> Path:
    """A file taking all free space of ``disk`` but ``leave_bytes``."""
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with filler.open("wb") as f:
        f.truncate(0)
        chunk = b"\0" * (1 << 20)
        left = max(0, free - leave_bytes)
        while left > 0:
            left -= f.write(chunk[: min(len(chunk), left)])
    return filler


def test_disk_full_refuses_with_503_then_recovers_and_loses_nothing(start_up, small_disk):
    up = start_up(
        data_dir=small_disk / "data",
        env={"LOGRADAR_BACKPRESSURE__MIN_FREE_DISK_BYTES": "0"},  # let ENOSPC itself happen
    )
    load = Load(up.url)
    for _ in range(5):
        assert load.send(200) == 200
    filler = fill(small_disk, leave_bytes=2 << 20)

    def refused() -> bool:
        return load.send(200, pad=200) == 503

    wait_for(refused, "a 503 once the disk is full")
    assert load.statuses[500] == 0, load.statuses
    filler.unlink()  # space is back
    wait_for(lambda: load.send(100) == 200, "ingest to recover by itself")
    for _ in range(5):
        assert load.send(100) == 200
    drain(up)
    assert up.stop() == 0
    assert set(load.statuses) <= {200, 503}, load.statuses
    assert_archived_exactly_once(small_disk / "data" / "archive", load)
