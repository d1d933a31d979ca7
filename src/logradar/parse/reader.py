"""Read a text log file as Arrow string batches, in bounded memory.

Lines are split on ``\\n`` only (a trailing ``\\r`` is removed), bytes that are not valid UTF-8
are replaced by U+FFFD, and a file is read block by block, so arbitrarily large files are fine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

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
    """Split a block on ``\n`` with Arrow (no per-line Python); one trailing ``\r`` goes."""
    text = pa.array([data.decode("utf-8", errors="replace")], pa.large_string())
    lines = pc.list_flatten(pc.split_pattern(text, "\n")).cast(pa.string())
    return pc.replace_substring_regex(lines, "\r$", "")


def count_bytes(path: str | os.PathLike[str]) -> int:
    """Size of the file (for progress bars)."""
    return os.path.getsize(path)
