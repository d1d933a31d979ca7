"""logradar's tank as a PySpark streaming data source (``pyspark.sql.datasource``).

Offsets are the tank's: ``{"offset": n}`` means every record up to ``n`` (inclusive) was
planned. A micro-batch reads ``(start, end]`` in up to ``partitions`` ranges, one Spark task
each, as Arrow batches. When Spark has committed a batch the source commits its end in the
tank as consumer ``spark-engine``, so retention can drop what both engines no longer need.

The tank is a local SQLite file: executors must see the same disk, which is the case for
``local[*]`` (``logradar up --engine spark``). On a cluster, read Kafka or files instead.

Options: ``path`` (the tank file, required), ``maxRows`` (records per micro-batch, default
100000), ``partitions`` (read tasks per micro-batch, default 2).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.types import StructType

from logradar.tank import SqliteTank

CONSUMER = "spark-engine"
SCHEMA = "offset BIGINT, stream STRING, record_ts BIGINT, message STRING"


class TankRange(InputPartition):
    """Records with ``first < offset <= last``."""

    def __init__(self, path: str, first: int, last: int) -> None:
        super().__init__((first, last))
        self.path = path
        self.first = first
        self.last = last


class TankStreamReader(DataSourceStreamReader):
    def __init__(self, options: dict[str, str]) -> None:
        options = {k.lower(): v for k, v in options.items()}  # Spark options ignore case
        self.path = options["path"]
        self.max_rows = int(options.get("maxrows", 100_000))
        self.partition_count = max(1, int(options.get("partitions", 2)))

    @contextlib.contextmanager
    def _tank(self) -> Iterator[SqliteTank]:
        """A short-lived handle: the reader is pickled, an open SQLite connection is not."""
        tank = SqliteTank(self.path)
        try:
            yield tank
        finally:
            tank.close()

    def initialOffset(self) -> dict[str, int]:
        with self._tank() as tank:
            tank.register(CONSUMER)
            return {"offset": tank.committed(CONSUMER)}

    def latestOffset(self, start: dict[str, int] | None = None, limit: Any = None) -> dict:
        with self._tank() as tank:
            end = tank.end_offset()
        if start is None:  # Spark 4.0/4.1 call it without arguments
            return {"offset": end}
        cap = getattr(limit, "max_rows", None)
        if cap is None and type(limit).__name__ != "ReadAllAvailable":
            cap = self.max_rows
        return {"offset": end if cap is None else min(end, start["offset"] + cap)}

    def getDefaultReadLimit(self) -> Any:
        from pyspark.sql.streaming.datasource import ReadMaxRows

        return ReadMaxRows(self.max_rows)

    def partitions(self, start: dict[str, int], end: dict[str, int]) -> Sequence[TankRange]:
        first, last = start["offset"], end["offset"]
        if last <= first:
            return []
        step = -(-(last - first) // self.partition_count)
        return [TankRange(self.path, lo, min(lo + step, last)) for lo in range(first, last, step)]

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        assert isinstance(partition, TankRange)
        tank = SqliteTank(partition.path)
        try:
            after = partition.first
            while after < partition.last:
                table = tank.read(after, partition.last - after)
                if table.num_rows == 0:
                    raise RuntimeError(f"tank {partition.path} lost records after {after}")
                table = table.filter(pc.less_equal(table.column("offset"), partition.last))
                after = table.column("offset")[-1].as_py()
                yield from records(table).to_batches()
        finally:
            tank.close()

    def commit(self, end: dict[str, int]) -> None:
        with self._tank() as tank:
            tank.commit(CONSUMER, end["offset"])


def records(table: pa.Table) -> pa.Table:
    """The columns the engine reads, with times as int64 nanoseconds."""
    return pa.table(
        {
            "offset": table.column("offset"),
            "stream": table.column("stream"),
            "record_ts": table.column("ts").cast(pa.int64()),
            "message": table.column("message"),
        }
    )


class TankDataSource(DataSource):
    """``spark.readStream.format("logradar_tank").option("path", ...)``."""

    @classmethod
    def name(cls) -> str:
        return "logradar_tank"

    def schema(self) -> str:
        return SCHEMA

    def streamReader(self, schema: StructType) -> TankStreamReader:
        return TankStreamReader(dict(self.options))
