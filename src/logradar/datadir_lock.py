"""One ``logradar up`` per data dir: an exclusive ``flock`` on ``<data_dir>/logradar.lock``.

Two servers on one data dir would interleave tank segments and engine snapshots; the second
one stops at start with a one-line error naming the first one's pid. The kernel releases the
lock when the process ends, however it ends (SIGKILL included), so no stale lock remains.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_FILE = "logradar.lock"


class DataDirInUse(RuntimeError):
    """Another process holds the data dir's lock."""


def lock_data_dir(data_dir: Path) -> int:
    """Take the data dir's lock for the life of this process; return its descriptor.

    :class:`DataDirInUse` (naming the holder's pid when known) if another process has it.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise DataDirInUse(
            f"data dir {data_dir.resolve()} is in use by another logradar (pid {holder}); "
            "stop it or pick another --data-dir"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def unlock_data_dir(fd: int) -> None:
    """Release a lock taken by :func:`lock_data_dir` (the pid file stays; it is harmless)."""
    with contextlib.suppress(OSError):
        os.close(fd)
