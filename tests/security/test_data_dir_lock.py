"""One server per data dir (issue 17, item 6): the second ``logradar up`` exits at once with
one line naming the first one's pid."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from _up import UpServer, free_port
from logradar.datadir_lock import DataDirInUse, lock_data_dir, unlock_data_dir


@pytest.mark.integration
@pytest.mark.slow
def test_second_up_on_the_same_data_dir_exits_with_one_line_naming_the_first(tmp_path):
    first = UpServer(tmp_path / "data")
    try:
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "logradar",
                "up",
                "--data-dir",
                str(tmp_path / "data"),
                "--port",
                str(free_port()),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode != 0
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert f"pid {first.pid}" in lines[0] and "in use" in lines[0]
        assert first.proc.poll() is None  # the first one is untouched
    finally:
        assert first.stop() == 0
    unlock_data_dir(lock_data_dir(tmp_path / "data"))  # released with the process


def test_the_lock_is_exclusive_and_released_on_close(tmp_path):
    held = lock_data_dir(tmp_path)
    with pytest.raises(DataDirInUse, match=rf"pid {os.getpid()}\)"):
        lock_data_dir(tmp_path)
    unlock_data_dir(held)
    unlock_data_dir(lock_data_dir(tmp_path))
