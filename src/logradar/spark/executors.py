"""What the executors run per micro-batch: the map step (:meth:`DetectionCore.map`) and the
pre-aggregation of the mapped lines (:mod:`logradar.spark.partials`), under ``mapInArrow``.

The driver broadcasts a :class:`MapSnapshot` (configuration plus the template miner's state);
each Python worker rebuilds a map-only :class:`DetectionCore` from it once per snapshot. A
partition's Arrow batches are mapped, put in order, and only their partial aggregates leave
the executor: rows that grow with distinct (stream, window, template) groups, sessions and
new masked shapes, not with lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from logradar.config import DetectorsConfig, EngineConfig, ParserConfig
from logradar.engine.core import DetectionCore
from logradar.parse.templates import TemplateMiner
from logradar.schema import TIMESTAMP
from logradar.spark.partials import partition_partials

if TYPE_CHECKING:
    from pyspark import Broadcast

#: Columns every input of the map step has (extra columns pass through unchanged).
INPUT_COLUMNS = ("offset", "stream", "record_ts", "message")
#: Optional input column: lines are ordered by (``part``, ``offset``), e.g. file and position.
PART = "part"


@dataclass(frozen=True, slots=True)
class MapSnapshot:
    """What an executor needs to map lines: configuration and a read-only miner state."""

    engine: EngineConfig
    parser: ParserConfig
    detectors: DetectorsConfig
    log_format: str | None
    miner: dict[str, Any]
    version: str
    """Unique per snapshot: workers rebuild their core only when it changes."""

    def build_core(self) -> DetectionCore:
        core = DetectionCore(self.engine, self.parser, self.detectors, self.log_format)
        core.miner = TemplateMiner.from_state_dict(self.miner)
        return core


#: Per Python worker: the core rebuilt from the latest snapshot, keyed by snapshot version.
_CORES: dict[str, DetectionCore] = {}


def _core_for(snapshot: MapSnapshot) -> DetectionCore:
    core = _CORES.get(snapshot.version)
    if core is None:
        _CORES.clear()
        core = _CORES[snapshot.version] = snapshot.build_core()
    return core


def map_lines(core: DetectionCore, table: pa.Table) -> pa.Table:
    """Map ``table`` (input columns, in order) keeping the parsed time apart from the
    record's: ``ts`` is null where the line has none (the driver's rules fill it)."""
    records = pa.table(
        {
            "offset": table.column("offset"),
            "stream": table.column("stream"),
            "ts": pa.nulls(table.num_rows, TIMESTAMP),
            "message": table.column("message"),
        }
    )
    mapped = core.map(records)
    columns = {
        "key": mapped.column("offset"),
        "stream": mapped.column("stream"),
        "ts": mapped.column("ts"),
        "record_ts": table.column("record_ts"),
        "raw": mapped.column("raw"),
        "message": mapped.column("message"),
        "is_error": mapped.column("is_error"),
        "template_id": mapped.column("template_id"),
    }
    if "session" in mapped.column_names:
        columns["session"] = mapped.column("session")
    return pa.table(columns)


def aggregate_partitions(
    snapshot: Broadcast[MapSnapshot], param_stride: int, fill_forward: bool, with_part: bool
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The ``mapInArrow`` function of one micro-batch: one partition's lines in, its
    partial aggregates out (schema :data:`~logradar.spark.partials.PARTIAL_DDL`).

    ``param_stride``: sample parameters of every n-th offset (0: parameter detector off).
    ``fill_forward``: a line without a parsed time takes the previous line's (replays)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        batches = [b for b in batches if b.num_rows]
        if not batches:  # an empty partition
            return
        table = pa.Table.from_batches(batches)
        order = [(PART, "ascending")] if with_part else []
        table = table.sort_by([*order, ("offset", "ascending")])
        core = _core_for(snapshot.value)
        mapped = map_lines(core, table)
        parts = table.column(PART).combine_chunks() if with_part else None
        stride = param_stride if core.params_max_rows else 0
        yield from partition_partials(mapped, core.window_ns, stride, fill_forward, parts)

    return run
