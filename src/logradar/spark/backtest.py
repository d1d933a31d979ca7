"""``logradar backtest --engine spark``: the local backtest's semantics with the lines read,
mapped and pre-aggregated by Spark's executors; the driver reduces the aggregates.

Micro-batches are the local engine's chunks (same offsets), so results match.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logradar import backtest
from logradar.config import Settings
from logradar.engine.aggregate import param_stride
from logradar.engine.core import CoreOutput, DetectionCore
from logradar.spark.reducer import BatchTiming, SparkBatches
from logradar.spark.session import spark_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


class SparkBacktest(backtest.LocalBacktest):
    """``--engine spark`` on ``master`` (default ``local[*]``)."""

    def __init__(
        self,
        settings: Settings,
        stream: str = backtest.DEFAULT_STREAM,
        master: str | None = None,
    ) -> None:
        super().__init__(settings, stream)
        self.master = master
        self._batches: SparkBatches | None = None

    @property
    def timings(self) -> list[BatchTiming]:
        """Per micro-batch of the last run: lines, seconds, rows collected."""
        return list(self._batches.timings) if self._batches else []

    def _replay(
        self,
        core: DetectionCore,
        path: Path,
        first_offset: int,
        sink: Callable[[CoreOutput], None],
    ) -> int:
        spark = spark_session(self.master, "logradar-backtest")
        if self._batches is None or self._batches.core is not core:
            self._batches = SparkBatches(spark, core, self.settings)
        step = backtest.CHUNK_LINES
        lines, n = numbered_lines(spark, path, self.stream, first_offset, step)
        try:
            for start in range(first_offset, first_offset + n, step):
                size = min(step, first_offset + n - start)
                chunk = lines.where(lines["offset"].between(start, start + size - 1))
                stride = param_stride(size, core.params_max_rows)
                sink(self._batches.process(chunk, None, stride))
        finally:
            lines.unpersist()
        return n


def numbered_lines(
    spark: SparkSession, path: Path | str, stream: str, first_offset: int, chunk: int
) -> tuple[DataFrame, int]:
    """A file's lines read by Spark with dense offsets in file order, cached, and each
    ``chunk`` of offsets cut into one contiguous block per executor core so a chunk is
    mapped and aggregated in parallel (contiguous blocks keep the time fill-forward local);
    and their number."""
    from pyspark.sql import functions as F

    text = spark.read.text(str(path)).select(
        F.col("value").alias("message"),
        F.spark_partition_id().alias("pid"),
        F.monotonically_increasing_id().alias("mid"),
    )
    sizes = dict(sorted((r[0], r[1]) for r in text.groupBy("pid").count().collect()))
    starts: list[Any] = []
    total = 0
    for pid, size in sizes.items():
        starts += [F.lit(pid), F.lit(total)]
        total += size
    if not total:
        return text, 0
    offset = (
        F.lit(first_offset)
        + F.element_at(F.create_map(*starts), F.col("pid"))
        + (F.col("mid") - F.shiftleft(F.col("pid").cast("long"), 33))
    )
    parallelism = spark.sparkContext.defaultParallelism
    block = -(-chunk // parallelism)
    lines = (
        text.select(
            offset.alias("offset"),
            F.lit(stream).alias("stream"),
            (offset * F.lit(backtest.FILE_ORDER_STEP_NS)).alias("record_ts"),
            "message",
        )
        .repartitionByRange(
            parallelism,
            F.pmod(F.floor((F.col("offset") - first_offset) / block), F.lit(parallelism)),
        )
        .persist()
    )
    lines.count()
    return lines, total
