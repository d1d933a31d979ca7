"""CPU cost of one archive flush: partitioning and writing Parquet files.

Usage: .venv/bin/python benchmarks/archive_write.py [--rows 500000] [--repeat 3] [--s3]

``--rows`` demo-generator lines (8 streams, Loki-shaped records: a time per line, labels) are
written by :meth:`ParquetArchiver._write` into a fresh temporary folder, as one flush does
(one file per stream and hour). Anchor in the same run: ``pyarrow.parquet.write_table`` of the
same table as one zstd file with pyarrow's default options. Reported: the best CPU seconds of
``--repeat`` runs for each, their ratio, and the bytes written. Prints JSON.

``--s3`` also writes to an S3-protocol server (moto, started here): wall-clock lines/s of
whole flushes (files + manifest entry), to compare with the tank's ingest rate; and files per
stream and hour after compaction of a closed hour that received a flush every 5 s.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from engine_throughput import micro_batches
from logradar.archive.parquet import ParquetArchiver


class _NoTank:
    """Just enough of a tank for the archiver's constructor."""

    def register(self, consumer: str) -> None: ...

    def committed(self, consumer: str) -> int:
        return -1


def folder_bytes(root: str) -> int:
    return sum(p.stat().st_size for p in Path(root).rglob("*.parquet"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--s3", action="store_true", help="Also write to moto (S3).")
    args = parser.parse_args()
    table = pa.concat_tables(micro_batches("loki", -(-args.rows // 25_000), 25_000))
    archive, anchor, sizes = [], [], {}
    for _ in range(args.repeat):
        root = tempfile.mkdtemp()
        archiver = ParquetArchiver(_NoTank(), root)
        started = time.process_time()
        archiver._write(table, archiver.state)
        archive.append(time.process_time() - started)
        sizes["archive_bytes"] = folder_bytes(root)
        sizes["archive_files"] = archiver.files_written
        buffer = io.BytesIO()
        started = time.process_time()
        pq.write_table(table, buffer, compression="zstd")
        anchor.append(time.process_time() - started)
        sizes["anchor_bytes"] = len(buffer.getvalue())
    s3 = s3_figures(table, args.repeat) if args.s3 else {}
    print(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "load": os.getloadavg()},
                **s3,
                "rows": table.num_rows,
                "archive_cpu_seconds": round(min(archive), 3),
                "anchor_write_table_cpu_seconds": round(min(anchor), 3),
                "ratio_to_anchor": round(min(archive) / min(anchor), 3),
                **sizes,
            },
            indent=2,
        )
    )


def s3_figures(table: pa.Table, repeat: int) -> dict:
    """Flush throughput to moto, and files per stream-hour after compaction."""
    from _s3 import MotoServer
    from logradar.config import ArchiveConfig

    moto = MotoServer()
    try:
        cfg = ArchiveConfig(
            s3_endpoint=moto.url, access_key=moto.access_key, secret_key=moto.secret_key
        )
        bucket = moto.bucket("bench")
        walls = []
        for i in range(repeat):
            archiver = ParquetArchiver(_NoTank(), f"s3://{bucket}/run{i}", cfg)
            state = archiver.state
            started = time.perf_counter()
            archiver._write(table, state)
            walls.append(time.perf_counter() - started)
        # a closed hour: 720 flushes (one every 5 s), each with lines of 4 streams
        archiver = ParquetArchiver(_NoTank(), f"s3://{bucket}/hourly", cfg)
        hour = table.slice(0, 720 * 40)
        ts = pa.array(
            [1_764_075_600_000_000_000 + i * 5_000_000_000 // 40 for i in range(hour.num_rows)],
            pa.int64(),
        ).cast(hour.schema.field("ts").type)
        streams = pa.array([f"s{i % 4}" for i in range(hour.num_rows)])
        hour = hour.set_column(hour.schema.get_field_index("ts"), "ts", ts)
        hour = hour.set_column(hour.schema.get_field_index("stream"), "stream", streams)
        for start in range(0, hour.num_rows, 40):
            archiver._write(hour.slice(start, 40), archiver.state)
        before = len(archiver.state.files)
        run_seconds = []
        while True:  # what the archive thread does after each flush, until nothing is left
            started = time.perf_counter()
            if not archiver.compact(1_764_075_600_000_000_000 + 2 * 3600 * 10**9):
                break
            run_seconds.append(time.perf_counter() - started)
        per_hour = collections.Counter(f.rsplit("/", 1)[0] for f in archiver.state.files)
    finally:
        moto.stop()
    return {
        "s3_flush_wall_seconds": round(min(walls), 3),
        "s3_lines_per_second": round(table.num_rows / min(walls)),
        "hour_files_before_compaction": before,
        "compaction_runs": len(run_seconds),
        "compaction_seconds_total": round(sum(run_seconds), 2),
        "compaction_run_seconds_max": round(max(run_seconds), 2),
        "files_per_stream_hour_after_compaction": max(per_hour.values()),
    }


if __name__ == "__main__":
    main()
