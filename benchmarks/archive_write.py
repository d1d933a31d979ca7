"""CPU cost of one archive flush: partitioning and writing Parquet files.

Usage: .venv/bin/python benchmarks/archive_write.py [--rows 500000] [--repeat 3]

``--rows`` demo-generator lines (8 streams, Loki-shaped records: a time per line, labels) are
written by :meth:`ParquetArchiver._write` into a fresh temporary folder, as one flush does
(one file per stream and hour). Anchor in the same run: ``pyarrow.parquet.write_table`` of the
same table as one zstd file with pyarrow's default options. Reported: the best CPU seconds of
``--repeat`` runs for each, their ratio, and the bytes written. Prints JSON.
"""

from __future__ import annotations

import argparse
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
    args = parser.parse_args()
    table = pa.concat_tables(micro_batches("loki", -(-args.rows // 25_000), 25_000))
    archive, anchor, sizes = [], [], {}
    for _ in range(args.repeat):
        root = tempfile.mkdtemp()
        archiver = ParquetArchiver(_NoTank(), root)
        started = time.process_time()
        archiver._write(table)
        archive.append(time.process_time() - started)
        sizes["archive_bytes"] = folder_bytes(root)
        sizes["archive_files"] = archiver.files_written
        buffer = io.BytesIO()
        started = time.process_time()
        pq.write_table(table, buffer, compression="zstd")
        anchor.append(time.process_time() - started)
        sizes["anchor_bytes"] = len(buffer.getvalue())
    print(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "load": os.getloadavg()},
                "rows": table.num_rows,
                "archive_cpu_seconds": round(min(archive), 3),
                "anchor_write_table_cpu_seconds": round(min(anchor), 3),
                "ratio_to_anchor": round(min(archive) / min(anchor), 3),
                **sizes,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
