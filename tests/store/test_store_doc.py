"""docs/store.md (the dashboards' contract) lists exactly the tables and columns of the schema."""

from __future__ import annotations

import re
from pathlib import Path

from logradar.store.schema import metadata

DOC = Path(__file__).parents[2] / "docs" / "store.md"


def _documented() -> dict[str, set[str]]:
    tables: dict[str, set[str]] = {}
    current = None
    for line in DOC.read_text().splitlines():
        if m := re.match(r"^## (\w+)$", line):
            current = tables.setdefault(m[1], set())
        elif current is not None and (m := re.match(r"^\| `(\w+)` \|", line)):
            current.add(m[1])
    return tables


def test_every_table_and_column_is_documented() -> None:
    schema = {t.name: {c.name for c in t.columns} for t in metadata.sorted_tables}
    assert _documented() == schema
