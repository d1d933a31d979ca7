"""Read a text log file as Arrow string batches, in bounded memory.

Lines are split on ``\\n`` only (a trailing ``\\r`` is removed), bytes that are not valid UTF-8
are replaced by U+FFFD, and a file is read block by block, so arbitrarily large files are fine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pyarrow as pa

BLOCK_BYTES = 8 * 1024 * 1024


def iter_line_batches(
    path: str | os.PathLike[str], block_bytes: int = BLOCK_BYTES
) -> Iterator[pa.StringArray]:
    """Yield the lines of ``path`` in order, as string arrays of about ``block_bytes`` each."""
    with open(path, "rb") as f:
        rest = b""
        while True:
            block = f.read(block_bytes)
            if not block:
                break
            data = rest + block
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = data
                continue
            rest = data[cut + 1 :]
            yield _lines(data[:cut])
        if rest:
            yield _lines(rest)


def _lines(data: bytes) -> pa.StringArray:
    text = data.decode("utf-8", errors="replace")
    return pa.array([line.removesuffix("\r") for line in text.split("\n")], pa.string())


def count_bytes(path: str | os.PathLike[str]) -> int:
    """Size of the file (for progress bars)."""
    return os.path.getsize(path)
