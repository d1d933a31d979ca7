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
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from logradar.tank import Tank

log = logging.getLogger("logradar.archive")

CONSUMER = "archive"
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


def _partition_keys(table: pa.Table) -> pa.Table:
    """``date`` and ``hour`` of each record's event time (UTC), formatting each hour once."""
    hours = pc.floor_temporal(table.column("ts"), unit="hour")
    distinct = pc.unique(hours)
    index = pc.index_in(hours, value_set=distinct)
    date = pc.take(pc.strftime(distinct, format="%Y-%m-%d"), index)
    return table.append_column("date", date).append_column(
        "hour", pc.take(pc.strftime(distinct, format="%H"), index)
    )


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
        keyed = _partition_keys(batch)
        groups = keyed.group_by(["stream", "date", "hour"]).aggregate([])
        for stream, date, hour in zip(
            groups.column("stream").to_pylist(),
            groups.column("date").to_pylist(),
            groups.column("hour").to_pylist(),
            strict=True,
        ):
            mask = pc.and_(
                pc.and_(pc.equal(keyed["stream"], stream), pc.equal(keyed["date"], date)),
                pc.equal(keyed["hour"], hour),
            )
            part = batch.filter(mask)
            folder = f"{self.root}/stream={stream}/date={date}/hour={hour}"
            name = f"part-{first:020d}-{last:020d}.parquet"
            self._write_file(part, folder, name)
            self.files_written += 1
        self.rows_written += batch.num_rows

    def _write_file(self, table: pa.Table, folder: str, name: str) -> None:
        if self._is_local:
            self.fs.create_dir(folder, recursive=True)
            tmp = f"{folder}/.{name}.tmp"
            pq.write_table(table, tmp, filesystem=self.fs, compression="zstd")
            self.fs.move(tmp, f"{folder}/{name}")
        else:
            pq.write_table(table, f"{folder}/{name}", filesystem=self.fs, compression="zstd")

    def run(self, stop: threading.Event, flush_seconds: float) -> None:
        """Flush every ``flush_seconds`` until ``stop`` is set, then flush once more."""
        while not stop.wait(flush_seconds):
            self._safe_flush()
        self._safe_flush()

    def _safe_flush(self) -> None:
        try:
            self.flush()
        except Exception:  # keep archiving after a transient failure; records stay in the tank
            log.exception("archive flush failed; will retry")
