"""The embedded tank: a durable, append-only record log in one SQLite file (WAL mode).

Appends are stored as *segments*: compressed Arrow IPC in a single row, with the offset range
it covers. Offsets are global, dense and increasing. An append returns only after SQLite has
committed with ``synchronous=FULL``, i.e. the WAL is fsynced, so a 2xx answer to a sender
means the lines survive a crash or power loss. Appends that arrive while a commit is running
wait and are then written together, as one segment in one transaction (group commit): one
fsync for all of them, and fewer, larger segments for the readers.

Consumers (archive, engine) keep their own committed offset in the ``consumers`` table; a
consumer reads the records after its committed offset, processes them, then commits. After a
crash it replays what it had not committed. Retention deletes whole segments that every
consumer has committed once they are older than the retention age, or when the tank is larger
than its byte budget.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
import weakref
from collections.abc import Collection
from pathlib import Path

import pyarrow as pa

from logradar.schema import RECORD_SCHEMA
from logradar.tank.base import TankError, TankFull, deserialize, number, serialize

_DDL = """
CREATE TABLE IF NOT EXISTS segments (
    first_offset INTEGER PRIMARY KEY,
    last_offset  INTEGER NOT NULL,
    rows         INTEGER NOT NULL,
    appended_ns  INTEGER NOT NULL,
    bytes        INTEGER NOT NULL,
    data         BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS consumers (
    name      TEXT PRIMARY KEY,
    committed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS offset_floor (
    id   INTEGER PRIMARY KEY CHECK (id = 0),
    next INTEGER NOT NULL  -- offsets start at least here (kept when a consumer is dropped)
);
"""


#: Segments with records after offset ``?``: from the one holding the next offset (found
#: through the primary key) on, so a read costs the same however many segments the tank keeps.
_READ = """
SELECT first_offset, rows, data FROM segments
WHERE first_offset >= COALESCE(
    (SELECT MAX(first_offset) FROM segments WHERE first_offset <= ?1 + 1), -1
) AND last_offset > ?1
ORDER BY first_offset
"""

GROUP_MAX_BYTES = 64 * 2**20
"""Most (Arrow) bytes of appends written together as one segment; the rest waits its turn."""


def _is_full(error: sqlite3.Error) -> bool:
    """Whether SQLite failed for lack of space (SQLITE_FULL: ENOSPC or a size limit)."""
    return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


class _Connection(sqlite3.Connection):
    """A connection that can be weakly referenced (the base class cannot)."""


class _Pending:
    """An append waiting for its group's commit: it ends with offsets or an error."""

    __slots__ = ("batch", "error", "offsets")

    def __init__(self, batch: pa.Table) -> None:
        self.batch = batch
        self.offsets: tuple[int, int] | None = None
        self.error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self.offsets is not None or self.error is not None


class SqliteTank:
    """Durable local record log. Thread-safe; one writer process per file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._group = threading.Condition()
        self._queue: list[_Pending] = []
        self._leading = False
        self._local = threading.local()
        # Each thread's connection lives in its thread-local and closes when the thread ends
        # (request worker threads come and go); this set only finds the live ones for close().
        self._conns: weakref.WeakSet[sqlite3.Connection] = weakref.WeakSet()
        self._closed = False
        conn = self._conn()
        conn.executescript(_DDL)
        row = conn.execute("SELECT MAX(last_offset) FROM segments").fetchone()
        self._next_offset = (row[0] + 1) if row[0] is not None else 0
        # Keep offsets increasing even after retention removed every segment.
        row = conn.execute("SELECT MAX(committed) FROM consumers").fetchone()
        if row[0] is not None:
            self._next_offset = max(self._next_offset, row[0] + 1)
        row = conn.execute("SELECT next FROM offset_floor").fetchone()
        if row is not None:
            self._next_offset = max(self._next_offset, row[0])

    # Connections ------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise TankError("tank is closed")
            conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, factory=_Connection
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            self._conns.add(conn)
        return conn

    def close(self) -> None:
        self._closed = True
        for conn in list(self._conns):
            with contextlib.suppress(sqlite3.ProgrammingError):  # its thread already ended
                conn.close()
        self._conns = weakref.WeakSet()
        self._local = threading.local()

    # Writing ----------------------------------------------------------------------------
    def append(self, batch: pa.Table) -> tuple[int, int]:
        """Durably append an ingest batch; return its ``(first, last)`` offsets (inclusive).

        An empty batch is a no-op and returns ``(-1, -1)``.
        """
        if batch.num_rows == 0:
            return (-1, -1)
        pending = _Pending(batch)
        with self._group:
            self._queue.append(pending)
        while not pending.done:
            with self._group:
                while self._leading and not pending.done:
                    self._group.wait()
                if pending.done:  # a leader committed it (or failed to)
                    break
                self._leading = True  # lead: commit the oldest queued appends
                group = self._take_group()
            try:
                with self._write_lock:
                    self._write_group(group)
            except BaseException as e:  # every caller of the group gets the answer
                for other in group:
                    if not other.done:
                        other.error = e
            finally:
                with self._group:
                    self._leading = False
                    self._group.notify_all()
        if pending.error is not None:
            raise pending.error
        assert pending.offsets is not None
        return pending.offsets

    def _take_group(self) -> list[_Pending]:
        """The oldest queued appends, at most GROUP_MAX_BYTES (at least one)."""
        n, size = 0, 0
        while n < len(self._queue):
            size += self._queue[n].batch.nbytes
            if n and size > GROUP_MAX_BYTES:
                break
            n += 1
        group, self._queue = self._queue[:n], self._queue[n:]
        return group

    def _write_group(self, group: list[_Pending]) -> None:
        """One segment holding the group's batches in order, committed in one transaction."""
        tables: list[pa.Table] = []
        written: list[tuple[_Pending, int]] = []
        first = self._next_offset
        for pending in group:
            try:
                tables.append(number(pending.batch, first))
            except Exception as e:  # a batch that does not fit the schema fails alone
                pending.error = e
                continue
            written.append((pending, first))
            first += pending.batch.num_rows
        if not tables:
            return
        blob = serialize(pa.concat_tables(tables))
        start, rows = self._next_offset, first - self._next_offset
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO segments VALUES (?, ?, ?, ?, ?, ?)",
                (start, first - 1, rows, time.time_ns(), len(blob), blob),
            )
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            kind = TankFull if _is_full(e) else TankError
            raise kind(f"could not append to tank {self.path}: {e}") from e
        self._next_offset = first
        for pending, offset in written:
            pending.offsets = (offset, offset + pending.batch.num_rows - 1)

    # Reading ----------------------------------------------------------------------------
    def read(self, after: int, max_rows: int) -> pa.Table:
        """Records with ``offset > after``, in offset order, about ``max_rows`` at most.

        Whole segments are read; the first is sliced to start after ``after``. At least one
        segment is returned when any is available, even if it exceeds ``max_rows``.
        """
        rows = self._conn().execute(_READ, (after,))
        tables: list[pa.Table] = []
        total = 0
        for first, _n, blob in rows:
            table = deserialize(blob)
            if first <= after:
                table = table.slice(after - first + 1)
            tables.append(table)
            total += table.num_rows
            if total >= max_rows:
                break
        rows.close()
        if not tables:
            return RECORD_SCHEMA.empty_table()
        return pa.concat_tables(tables)

    def end_offset(self) -> int:
        """The last assigned offset, or -1 when nothing was ever appended."""
        return self._next_offset - 1

    # Consumers --------------------------------------------------------------------------
    def committed(self, consumer: str) -> int:
        """The consumer's committed offset (-1 when it has not committed yet)."""
        row = (
            self._conn()
            .execute("SELECT committed FROM consumers WHERE name = ?", (consumer,))
            .fetchone()
        )
        return row[0] if row else -1

    def commit(self, consumer: str, offset: int) -> None:
        """Record that ``consumer`` has durably processed every record up to ``offset``."""
        self._conn().execute(
            "INSERT INTO consumers (name, committed) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET committed = MAX(committed, excluded.committed)",
            (consumer, offset),
        )

    def register(self, consumer: str) -> None:
        """Make retention wait for ``consumer`` even before its first commit."""
        self._conn().execute(
            "INSERT OR IGNORE INTO consumers (name, committed) VALUES (?, -1)", (consumer,)
        )

    def lag(self, consumer: str) -> int:
        """Records appended but not yet committed by ``consumer``."""
        return self.end_offset() - self.committed(consumer)

    def consumers(self) -> dict[str, int]:
        return dict(self._conn().execute("SELECT name, committed FROM consumers"))

    def drop_consumer(self, consumer: str) -> bool:
        """Forget ``consumer``; its committed offset no longer holds retention back."""
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT INTO offset_floor (id, next) VALUES (0, ?) "
                    "ON CONFLICT(id) DO UPDATE SET next = MAX(next, excluded.next)",
                    (self._next_offset,),
                )
                cur = conn.execute("DELETE FROM consumers WHERE name = ?", (consumer,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return cur.rowcount > 0

    # Retention --------------------------------------------------------------------------
    def size_bytes(self) -> int:
        row = self._conn().execute("SELECT COALESCE(SUM(bytes), 0) FROM segments").fetchone()
        return int(row[0])

    def enforce_retention(
        self, max_age_seconds: float, max_bytes: int, active: Collection[str] | None = None
    ) -> int:
        """Delete consumed segments older than ``max_age_seconds`` or beyond ``max_bytes``.

        Only segments that every consumer in ``active`` (default: every registered one) has
        committed are eligible; a consumer left over from an earlier configuration (e.g. the
        archive, since disabled) does not hold them back. Returns the segments deleted.
        """
        conn = self._conn()
        known = self.consumers()
        pinning = [known.get(name, -1) for name in (known if active is None else active)]
        if not pinning:
            return 0
        safe = min(pinning)
        cutoff = time.time_ns() - int(max_age_seconds * 1e9)
        deleted = 0
        with self._write_lock:
            cur = conn.execute(
                "DELETE FROM segments WHERE last_offset <= ? AND appended_ns < ?",
                (safe, cutoff),
            )
            deleted += cur.rowcount
            over = self.size_bytes() - max_bytes
            if over > 0:
                victims = conn.execute(
                    "SELECT first_offset, bytes FROM segments WHERE last_offset <= ? "
                    "ORDER BY first_offset",
                    (safe,),
                ).fetchall()
                drop: list[int] = []
                for first, size in victims:
                    if over <= 0:
                        break
                    drop.append(first)
                    over -= size
                conn.executemany(
                    "DELETE FROM segments WHERE first_offset = ?", [(f,) for f in drop]
                )
                deleted += len(drop)
        return deleted
