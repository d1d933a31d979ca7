"""The raw archive (the OBS role): every accepted record, exactly once, as Parquet.

Layout: see :mod:`logradar.archive.layout`. A *flush* reads the records after the committed
offset (at most ``max_rows_per_file``, and at most ``max_files_per_flush`` partitions: the
records after that wait for the next flush), writes one file per partition named after the
flush's offset range (``part-<first>-<last>.parquet``), commits a manifest entry
(:mod:`logradar.archive.manifest`: offsets ``first..last`` -> those files), and only then
commits ``last`` in the tank.

Exactly once: a failed flush keeps its batch and retries exactly that offset range, so a
retry rewrites the same file names; a restart deletes every file the manifest does not list
(the files of a flush that never committed) and, when the manifest is ahead of the tank
(the process died between the two commits), moves the tank's offset up to it. Readers go
through the manifest, so they see each record once even while a flush or compaction runs.

Maintenance after each flush: *compaction* merges the files of an hour that ended more than
``compact_after_seconds`` ago into one (an atomic swap in one manifest entry), and
*retention* drops hours older than ``retention_days``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from logradar.archive import layout
from logradar.archive.manifest import FOLDER as MANIFEST_FOLDER
from logradar.archive.manifest import Manifest, ManifestState
from logradar.archive.storage import open_filesystem
from logradar.config import ArchiveConfig
from logradar.metrics import Metrics
from logradar.tank import Tank

log = logging.getLogger("logradar.archive")

CONSUMER = "archive"
_REQUEST_ID = re.compile(r"\s*\(Request ID: [^)]*\)")
#: Compaction reads at most this many files per run (bounded work between two flushes).
COMPACT_FILES_PER_RUN = 64
#: A merged file this large is final (an hour of a busy stream may keep several).
COMPACT_TARGET_ROWS = 20_000_000
#: Write a manifest checkpoint once this many entries follow the last one.
CHECKPOINT_EVERY = 200


def _hour_end_ns(folder: str) -> int:
    """End of the hour a ``stream=S/date=D/hour=H`` folder holds, in ns."""
    keys = dict(part.split("=", 1) for part in folder.split("/"))
    start = datetime.strptime(f"{keys['date']} {keys['hour']}", "%Y-%m-%d %H").replace(tzinfo=UTC)
    return int(start.timestamp() + 3600) * 10**9


class ParquetArchiver:
    """Copies records from the tank to the Parquet archive, exactly once."""

    def __init__(
        self,
        tank: Tank,
        url: str,
        cfg: ArchiveConfig | None = None,
        *,
        max_rows_per_file: int | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.cfg = cfg or ArchiveConfig()
        self.tank = tank
        self.fs, self.root = open_filesystem(url, self.cfg)
        self.manifest = Manifest(self.fs, self.root)
        self.max_rows_per_file = max_rows_per_file or self.cfg.max_rows_per_file
        self.max_files_per_flush = self.cfg.max_files_per_flush
        self.metrics = metrics
        self.files_written = 0
        self.last_flush_files = 0
        self.last_error: str | None = None
        self.failures = 0  # failed flush/maintenance steps in a row
        self._state: ManifestState | None = None  # loaded (and orphans removed) lazily
        self._pending: pa.Table | None = None  # the batch of a failed flush, retried as is
        self._checkpointed = 0
        tank.register(CONSUMER)

    @property
    def _is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    # Recovery -----------------------------------------------------------------------------
    def _recover(self) -> ManifestState:
        """Load the manifest, delete files it does not list, align the tank's offset."""
        state = self.manifest.load()
        committed = self.tank.committed(CONSUMER)
        on_disk = self._list_files()
        if state.seq == 0 and on_disk:  # an archive written before the manifest: adopt it
            adopt = [p for p in on_disk if self._legacy_committed(p, committed)]
            if adopt:
                self.manifest.commit(state, add=adopt, last=committed)
        for path in sorted(set(on_disk) - state.files):
            log.warning("removing %s: no committed manifest entry lists it", path)
            self.fs.delete_file(f"{self.root}/{path}")
        if state.last > committed:
            self.tank.commit(CONSUMER, state.last)
        self._checkpointed = state.seq
        return state

    @staticmethod
    def _legacy_committed(path: str, committed: int) -> bool:
        name = path.rsplit("/", 1)[-1]
        parts = name.removesuffix(".parquet").split("-")
        return len(parts) == 3 and parts[0] == "part" and int(parts[1]) <= committed

    def _list_files(self) -> list[str]:
        """Every data file under the root, relative to it; temporary files are deleted."""
        selector = pafs.FileSelector(self.root, recursive=True, allow_not_found=True)
        found = []
        for info in self.fs.get_file_info(selector):
            rel = info.path[len(self.root) + 1 :]
            if info.type != pafs.FileType.File or rel.startswith(MANIFEST_FOLDER + "/"):
                continue
            if info.base_name.startswith("."):
                self.fs.delete_file(info.path)
            elif info.base_name.endswith(".parquet"):
                found.append(rel)
        return found

    @property
    def state(self) -> ManifestState:
        if self._state is None:
            self._state = self._recover()
        return self._state

    # Flushing -----------------------------------------------------------------------------
    def flush(self) -> int:
        """Archive every record the tank holds beyond the committed offset; return rows."""
        total = 0
        while rows := self.flush_once():
            total += rows
        return total

    def flush_once(self) -> int:
        """Archive one batch (the failed one again, if any); return its rows (0: none)."""
        state = self.state
        if state.last > self.tank.committed(CONSUMER):  # manifest ahead: commit failed
            self.tank.commit(CONSUMER, state.last)
        batch = self._pending
        if batch is None:
            batch = self.tank.read(self.tank.committed(CONSUMER), self.max_rows_per_file)
            if batch.num_rows == 0:
                return 0
            batch = self._bounded(batch)
            self._pending = batch
        try:
            self._write(batch, state)
        except Exception:
            if self.metrics is not None:
                self.metrics.archive_flush_failures.inc()
            raise
        self._pending = None
        self.tank.commit(CONSUMER, batch.column("offset")[-1].as_py())
        return batch.num_rows

    def _bounded(self, batch: pa.Table) -> pa.Table:
        """The longest prefix of ``batch`` spanning at most ``max_files_per_flush``
        partitions (at least one row)."""
        codes, *_ = layout.partition_codes(batch)
        _, first_rows = np.unique(codes, return_index=True)
        if len(first_rows) <= self.max_files_per_flush:
            return batch
        cut = int(np.sort(first_rows)[self.max_files_per_flush])
        return batch.slice(0, cut)

    def _write(self, batch: pa.Table, state: ManifestState) -> None:
        """Write ``batch``'s files, then commit them in one manifest entry."""
        offsets = batch.column("offset")
        first, last = offsets[0].as_py(), offsets[-1].as_py()
        name = f"part-{first:020d}-{last:020d}.parquet"
        written = []
        size = 0
        for folder, rows in layout.partitions(layout.to_layout(batch)):
            size += self._put(rows, f"{folder}/{name}")
            written.append(f"{folder}/{name}")
        self.manifest.commit(state, add=written, first=first, last=last)
        self.files_written += len(written)
        self.last_flush_files = len(written)
        if self.metrics is not None:
            self.metrics.lines_archived.inc(batch.num_rows)
            self.metrics.archive_bytes.inc(size)
            self.metrics.archive_files.inc(len(written))

    def _put(self, table: pa.Table, rel: str) -> int:
        """Write ``table`` as the Parquet file ``rel`` (atomically visible); return bytes."""
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, **layout.PARQUET_OPTIONS)
        body = sink.getvalue()
        path = f"{self.root}/{rel}"
        if self._is_local:
            folder, name = path.rsplit("/", 1)
            self.fs.create_dir(folder, recursive=True)
            tmp = f"{folder}/.{name}.tmp"
            with self.fs.open_output_stream(tmp) as f:
                f.write(body)
            self.fs.move(tmp, path)
        else:
            with self.fs.open_output_stream(path) as f:
                f.write(body)
        return body.size

    # Maintenance --------------------------------------------------------------------------
    def _by_folder(self) -> dict[str, list[str]]:
        folders: dict[str, list[str]] = defaultdict(list)
        for path in self.state.files:
            folders[path.rsplit("/", 1)[0]].append(path)
        return folders

    def compact(self, now_ns: int | None = None) -> int:
        """Merge the small files of closed hours (ended ``compact_after_seconds`` ago), at
        most ``COMPACT_FILES_PER_RUN`` files per run so that flushes never wait long; a
        merged file of ``COMPACT_TARGET_ROWS`` rows or more is not merged again. Returns
        the number of merges."""
        if self.cfg.compact_after_seconds <= 0:
            return 0
        now_ns = time.time_ns() if now_ns is None else now_ns
        closed_before = now_ns - int(self.cfg.compact_after_seconds * 1e9)
        rows = self.state.rows
        budget, merges = COMPACT_FILES_PER_RUN, 0
        for folder, files in sorted(self._by_folder().items()):
            small = sorted(f for f in files if rows.get(f, 0) < COMPACT_TARGET_ROWS)
            if len(small) < 2 or _hour_end_ns(folder) > closed_before:
                continue
            if budget < 2:
                break
            chosen = small[:budget]  # merged files ("compact-…") sort first: they grow
            self._compact_folder(folder, chosen)
            budget -= len(chosen)
            merges += 1
        return merges

    def _compact_folder(self, folder: str, files: list[str]) -> None:
        """Stream ``files`` into one new file (one input in memory at a time), swap it in
        through one manifest entry, then delete the inputs."""
        state = self.state
        target = f"{folder}/compact-{state.seq + 1:020d}.parquet"
        path = f"{self.root}/{target}"
        tmp = f"{self.root}/{folder}/.compact-{state.seq + 1:020d}.tmp"
        rows = 0
        with (
            self.fs.open_output_stream(tmp if self._is_local else path) as out,
            pq.ParquetWriter(out, layout.SCHEMA, **layout.PARQUET_OPTIONS) as writer,
        ):
            for name in files:
                table = pq.read_table(
                    f"{self.root}/{name}", filesystem=self.fs, columns=list(layout.COLUMNS)
                )
                writer.write_table(layout.to_layout(table))
                rows += table.num_rows
        if self._is_local:
            self.fs.move(tmp, path)
        self.manifest.commit(state, add=[target], remove=files, rows={target: rows})
        self._delete(files)
        if self.metrics is not None:
            self.metrics.archive_compactions.inc()

    def expire(self, now_ns: int | None = None) -> int:
        """Drop archived hours older than ``retention_days``; return the files dropped."""
        if self.cfg.retention_days <= 0:
            return 0
        now_ns = time.time_ns() if now_ns is None else now_ns
        cutoff = now_ns - int(self.cfg.retention_days * 86400 * 1e9)
        old = [
            path
            for folder, files in self._by_folder().items()
            if _hour_end_ns(folder) <= cutoff
            for path in files
        ]
        if old:
            self.manifest.commit(self.state, remove=old)
            self._delete(old)
        return len(old)

    def _delete(self, files: list[str]) -> None:
        """Delete replaced files (best effort: a restart deletes what is left)."""
        for path in files:
            try:
                self.fs.delete_file(f"{self.root}/{path}")
            except OSError as e:
                log.warning("could not delete replaced file %s: %s", path, e)

    def maintain(self, now_ns: int | None = None) -> None:
        """Compaction, retention, and a manifest checkpoint when entries piled up."""
        self.compact(now_ns)
        self.expire(now_ns)
        if self.state.seq - self._checkpointed >= CHECKPOINT_EVERY:
            self.manifest.checkpoint(self.state)
            self._checkpointed = self.state.seq

    # Running ------------------------------------------------------------------------------
    def run(self, stop: threading.Event, flush_seconds: float) -> None:
        """Flush every ``flush_seconds`` until ``stop`` is set, then flush once more."""
        while not stop.wait(flush_seconds):
            if self._safe(self.flush):
                self._safe(self.maintain)
        self._safe(self.flush)

    def _safe(self, step) -> bool:
        """Run ``step``; on failure log one line (records stay in the tank) and go on."""
        try:
            step()
        except Exception as e:
            message = f"{type(e).__name__}: {e}".splitlines()[0]
            if _REQUEST_ID.sub("", message) != _REQUEST_ID.sub("", self.last_error or ""):
                log.error(
                    "archive %s failed, will retry (records stay in the tank): %s",
                    step.__name__,
                    message,
                )
                log.debug("archive failure", exc_info=True)
            self.last_error = message
            self.failures += 1
            return False
        self.last_error = None
        self.failures = 0
        return True
