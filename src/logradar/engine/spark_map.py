"""The map step on Spark executors: :meth:`DetectionCore.map` under ``mapInArrow``.

The driver broadcasts a :class:`MapSnapshot` (configuration plus the template miner's state);
each Python worker rebuilds a map-only :class:`DetectionCore` from it once per snapshot and
maps every Arrow batch of its partition. Two things stay for the driver because they depend on
the order of the whole input, not of one partition: filling a missing event time from the
previous line, and falling back to the record's own time. So the executor returns the parsed
time (``ts``, null when the header has none) next to the record's time (``record_ts``).

Messages of lines that matched a known template are not sent back unless the parameter
detector (which samples messages in the reduce step) is on: otherwise the reduce step only
needs the text of the unmatched lines, whose templates it learns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from logradar.config import DetectorsConfig, EngineConfig, ParserConfig
from logradar.engine.core import DetectionCore
from logradar.parse.templates import TemplateMiner
from logradar.schema import TIMESTAMP

if TYPE_CHECKING:
    from pyspark import Broadcast

#: Columns every input of the map step has (extra columns pass through unchanged).
INPUT_COLUMNS = ("offset", "stream", "record_ts", "message")


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


def mapped_schema(with_session: bool, passthrough: str = "") -> str:
    """The Spark DDL schema of the map step's output (``passthrough``: extra DDL fields)."""
    fields = [
        "offset BIGINT",
        "stream STRING",
        "ts BIGINT",
        "record_ts BIGINT",
        "raw STRING",
        "message STRING",
        "is_error BOOLEAN",
        "template_id BIGINT",
    ]
    if with_session:
        fields.append("session STRING")
    if passthrough:
        fields.append(passthrough)
    return ", ".join(fields)


#: Per Python worker: the core rebuilt from the latest snapshot, keyed by snapshot version.
_CORES: dict[str, DetectionCore] = {}


def _core_for(snapshot: MapSnapshot) -> DetectionCore:
    core = _CORES.get(snapshot.version)
    if core is None:
        _CORES.clear()
        core = _CORES[snapshot.version] = snapshot.build_core()
    return core


def map_batch(core: DetectionCore, batch: pa.RecordBatch, extra: list[str]) -> pa.RecordBatch:
    """Map one batch with ``core`` (whose ``fill_time_forward`` must be off)."""
    n = batch.num_rows
    records = pa.table(
        {
            "offset": batch.column("offset"),
            "stream": batch.column("stream"),
            "ts": pa.nulls(n, TIMESTAMP),  # keep the parsed time apart: see the module doc
            "message": batch.column("message"),
        }
    )
    mapped = core.map(records)
    columns = {
        "offset": mapped.column("offset"),
        "stream": mapped.column("stream"),
        "ts": mapped.column("ts"),
        "record_ts": batch.column("record_ts"),
        "raw": mapped.column("raw"),
        "message": (
            mapped.column("message")
            if core.params_max_rows  # the params detector reads sampled messages
            else pc.if_else(
                pc.is_null(mapped.column("template_id")), mapped.column("message"), None
            )
        ),
        "is_error": mapped.column("is_error"),
        "template_id": mapped.column("template_id"),
    }
    if "session" in mapped.column_names:
        columns["session"] = mapped.column("session")
    for name in extra:
        columns[name] = batch.column(name)
    return pa.RecordBatch.from_pydict(
        {k: v.combine_chunks() if isinstance(v, pa.ChunkedArray) else v for k, v in columns.items()}
    )


def map_partitions(
    snapshot: Broadcast[MapSnapshot], extra: list[str]
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The ``mapInArrow`` function for one micro-batch's broadcast snapshot."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        core = _core_for(snapshot.value)
        for batch in batches:
            if batch.num_rows:
                yield map_batch(core, batch, extra)

    return run


def finish_on_driver(core: DetectionCore, mapped: pa.Table) -> pa.Table:
    """Order by offset, fill missing times as the local engine does, shape for ``reduce``."""
    mapped = mapped.sort_by("offset")
    ts = mapped.column("ts")
    if core.fill_time_forward:
        ts = core.fill_time_forward_from_last(ts)
    ts = pc.coalesce(ts, mapped.column("record_ts"))
    keep = [c for c in mapped.column_names if c not in ("ts", "record_ts")]
    return mapped.select(keep).append_column("ts", ts)
