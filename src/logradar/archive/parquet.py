"""The raw archive (the OBS role): every accepted record, exactly once, as Parquet.

Layout: ``<root>/stream=<name>/date=<YYYY-MM-DD>/hour=<HH>/part-<first>-<last>.parquet``
(zstd), partitioned by event time in UTC, readable with
``pyarrow.dataset.dataset(root, partitioning="hive")``. ``<first>``/``<last>`` are the tank
offsets of the flush that wrote the file.

Exactly once: the archiver reads records after its committed offset, writes one file per
partition, and only then commits the flush's last offset. If the process dies between the
writes and the commit, the files of that flush are *orphans*: on start the archiver deletes
every file whose first offset is beyond its committed offset and writes the records again.
Local files are written under a dot-prefixed temporary name (ignored by dataset readers) and
renamed into place; S3/OBS object uploads are atomic by themselves.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from logradar.tank import Tank

log = logging.getLogger("logradar.archive")

CONSUMER = "archive"
HOUR_NS = 3600 * 10**9
#: Dictionary-encode only the low-cardinality columns: messages are nearly all distinct, so
#: trying a dictionary for them costs ~35 % of the write and makes the file larger.
PARQUET_OPTIONS = {"compression": "zstd", "use_dictionary": ["stream", "host", "labels"]}
_PART = re.compile(r"part-(\d{20})-(\d{20})\.parquet$")


def open_filesystem(url: str, s3_endpoint: str | None = None) -> tuple[pafs.FileSystem, str]:
    """Resolve an archive URL (folder, ``file://`` or ``s3://bucket/prefix``) to a filesystem."""
    parsed = urlparse(url)
    if parsed.scheme in ("s3", "obs"):
        options = {"endpoint_override": s3_endpoint} if s3_endpoint else {}
        if s3_endpoint and s3_endpoint.startswith("http://"):
            options["scheme"] = "http"
        fs = pafs.S3FileSystem(**options)
        return fs, f"{parsed.netloc}{parsed.path}".rstrip("/")
    if parsed.scheme in ("", "file"):
        fs = pafs.LocalFileSystem()
        path = parsed.path if parsed.scheme == "file" else url
        fs.create_dir(path, recursive=True)
        return fs, path.rstrip("/") or "/"
    raise ValueError(f"unsupported archive URL {url!r}: use a folder path or s3://bucket/prefix")


def _partitions(table: pa.Table) -> Iterator[tuple[str, pa.Array]]:
    """``(stream=S/date=YYYY-MM-DD/hour=HH, rows)`` per partition (event time, UTC), in order
    of first appearance. Keys are small integers (stream dictionary index, hour number), so
    the cost is a hash of the stream names and one comparison per partition."""
    streams = pc.dictionary_encode(table.column("stream").combine_chunks())
    names = streams.dictionary.to_pylist()
    hours = table.column("ts").cast(pa.int64()).to_numpy() // HOUR_NS
    low = int(hours.min())
    span = int(hours.max()) - low + 1
    code = streams.indices.to_numpy().astype(np.int64) * span + (hours - low)
    for value in pc.unique(pa.array(code)).to_pylist():
        stream = names[value // span]
        hour = datetime.fromtimestamp((value % span + low) * 3600, UTC)
        yield f"stream={stream}/{hour:date=%Y-%m-%d/hour=%H}", pa.array(code == value)


class ParquetArchiver:
    """Copies records from the tank to the Parquet archive, exactly once."""

    def __init__(
        self,
        tank: Tank,
        url: str,
        *,
        s3_endpoint: str | None = None,
        max_rows_per_file: int = 500_000,
    ) -> None:
        self.tank = tank
        self.fs, self.root = open_filesystem(url, s3_endpoint)
        self.max_rows_per_file = max_rows_per_file
        self.rows_written = 0
        self.files_written = 0
        tank.register(CONSUMER)
        self._failed = False
        self._remove_orphans()

    @property
    def _is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def _remove_orphans(self) -> None:
        committed = self.tank.committed(CONSUMER)
        selector = pafs.FileSelector(self.root, recursive=True, allow_not_found=True)
        for info in self.fs.get_file_info(selector):
            name = info.base_name
            if info.type != pafs.FileType.File:
                continue
            if name.startswith(".part-"):
                self.fs.delete_file(info.path)
                continue
            m = _PART.match(name)
            if m and int(m.group(1)) > committed:
                log.warning("removing %s: written by a flush that never committed", info.path)
                self.fs.delete_file(info.path)

    def flush(self) -> int:
        """Archive every record the tank holds beyond the committed offset; return rows."""
        total = 0
        while True:
            batch = self.tank.read(self.tank.committed(CONSUMER), self.max_rows_per_file)
            if batch.num_rows == 0:
                return total
            self._write(batch)
            self.tank.commit(CONSUMER, batch.column("offset")[-1].as_py())
            total += batch.num_rows

    def _write(self, batch: pa.Table) -> None:
        offsets = batch.column("offset")
        first, last = offsets[0].as_py(), offsets[-1].as_py()
        name = f"part-{first:020d}-{last:020d}.parquet"
        for folder, mask in _partitions(batch):
            self._write_file(batch.filter(mask), f"{self.root}/{folder}", name)
            self.files_written += 1
        self.rows_written += batch.num_rows

    def _write_file(self, table: pa.Table, folder: str, name: str) -> None:
        if self._is_local:
            self.fs.create_dir(folder, recursive=True)
            tmp = f"{folder}/.{name}.tmp"
            pq.write_table(table, tmp, filesystem=self.fs, **PARQUET_OPTIONS)
            self.fs.move(tmp, f"{folder}/{name}")
        else:
            pq.write_table(table, f"{folder}/{name}", filesystem=self.fs, **PARQUET_OPTIONS)

    def run(self, stop: threading.Event, flush_seconds: float) -> None:
        """Flush every ``flush_seconds`` until ``stop`` is set, then flush once more."""
        while not stop.wait(flush_seconds):
            self._safe_flush()
        self._safe_flush()

    def _safe_flush(self) -> None:
        try:
            if self._failed:  # the failed flush may have left files: its retry rewrites them
                self._remove_orphans()
                self._failed = False
            self.flush()
        except Exception:  # keep archiving after a transient failure; records stay in the tank
            self._failed = True
            log.exception("archive flush failed; will retry")
