"""What every tank offers its callers, and the record encoding the tanks share.

A tank is a durable, append-only log of records with per-consumer committed offsets. Offsets
are per record (log line): unique, increasing and dense (``first..last`` of an append). The
receivers ``append`` and answer 2xx only after it returned; the archive and the engine
``read`` after their committed offset, process, then ``commit``.

Appends are stored as *segments*: the records of one or more appends (SQLite's group
commit), or a slice of one (a Kafka record has a size limit), as one Arrow IPC stream,
lz4-compressed, with the ``offset`` column included, so a segment is self-describing
wherever it is kept (a SQLite row, a Kafka record).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from logradar.schema import INGEST_SCHEMA, RECORD_SCHEMA

# One thread per (de)compression: Arrow's thread pool costs more CPU than it saves on small
# segments, and the engine and the receivers already keep the cores busy.
_IPC_OPTIONS = ipc.IpcWriteOptions(compression="lz4", use_threads=False)
_IPC_READ_OPTIONS = ipc.IpcReadOptions(use_threads=False)


class TankError(RuntimeError):
    """The tank could not durably store or read records."""


class TankFull(TankError):
    """An append failed for lack of space (ENOSPC, SQLITE_FULL): nothing of it was stored,
    and the same append can succeed once space is freed."""


class Tank(Protocol):
    """The durable record log as the pipeline, the archive and the engine use it."""

    def append(self, batch: pa.Table) -> tuple[int, int]:
        """Durably append an ingest batch; return its ``(first, last)`` offsets (inclusive).

        Returns only once the records are durable; an empty batch returns ``(-1, -1)``.
        """
        ...

    def read(self, after: int, max_rows: int) -> pa.Table:
        """Records with ``offset > after`` in offset order (``RECORD_SCHEMA``), about
        ``max_rows`` at most; at least one segment whenever one is available."""
        ...

    def end_offset(self) -> int:
        """The last assigned offset, or -1 when nothing was ever appended."""
        ...

    def committed(self, consumer: str) -> int:
        """The consumer's committed offset (-1 when it has not committed yet)."""
        ...

    def commit(self, consumer: str, offset: int) -> None:
        """Record that ``consumer`` processed every record up to ``offset``; never backwards."""
        ...

    def register(self, consumer: str) -> None:
        """Declare ``consumer`` before its first commit (retention and ``consumers`` see it)."""
        ...

    def lag(self, consumer: str) -> int:
        """Records appended but not yet committed by ``consumer``."""
        ...

    def consumers(self) -> dict[str, int]:
        """Committed offset per known consumer."""
        ...

    def drop_consumer(self, consumer: str) -> bool:
        """Forget ``consumer`` (it no longer pins retention); False if it was unknown."""
        ...

    def enforce_retention(
        self, max_age_seconds: float, max_bytes: int, active: Collection[str] | None = None
    ) -> int:
        """Drop old segments every consumer in ``active`` (default: every known consumer)
        has committed; return how many were dropped."""
        ...

    def close(self) -> None: ...


def number(batch: pa.Table, first: int) -> pa.Table:
    """The ingest ``batch`` as records (``RECORD_SCHEMA``) with offsets ``first, first+1, …``."""
    batch = batch.select(INGEST_SCHEMA.names).cast(INGEST_SCHEMA)
    offsets = pa.array(np.arange(first, first + batch.num_rows, dtype=np.int64))
    return batch.add_column(0, RECORD_SCHEMA.field("offset"), offsets).combine_chunks()


def serialize(table: pa.Table) -> bytes:
    """One segment: ``table`` as an lz4-compressed Arrow IPC stream."""
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema, options=_IPC_OPTIONS) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def deserialize(blob: bytes) -> pa.Table:
    return ipc.open_stream(pa.py_buffer(blob), options=_IPC_READ_OPTIONS).read_all()
