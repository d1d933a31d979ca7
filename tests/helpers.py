"""Small helpers shared by test modules (on the path through pytest's ``pythonpath``)."""

from __future__ import annotations

from typing import Any


def tank_rows(pipeline: Any) -> list[dict[str, Any]]:
    """Everything in the pipeline's tank as dicts, times as integer nanoseconds."""
    table = pipeline.tank.read(-1, 10**6)
    for name in ("ts", "ingest_ts"):
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, table.column(name).cast("int64"))
    return table.to_pylist()
