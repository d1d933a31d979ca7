"""Which tank consumers a configuration runs, and a listing of all known ones.

A consumer's committed offset holds tank retention back. One left over from an earlier
configuration (the archive, since disabled; the Spark engine after going back to the local
one) must not hold it back forever: retention only waits for the consumers listed by
:func:`active_consumers`, and ``logradar tank consumers --drop NAME`` forgets one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logradar.config import Settings
    from logradar.tank.base import Tank


def active_consumers(settings: Settings, engine: str = "local") -> list[str]:
    """The consumers ``logradar up --engine ENGINE`` runs with ``settings``."""
    from logradar.archive.parquet import CONSUMER as ARCHIVE
    from logradar.engine.local import CONSUMER as ENGINE

    names = ["spark-engine" if engine == "spark" else ENGINE]  # spark_tank.CONSUMER
    if settings.archive.enabled:
        names.append(ARCHIVE)
    return names


def describe(tank: Tank, active: list[str]) -> list[dict[str, Any]]:
    """One row per known consumer: committed offset, lag, and whether it is in use."""
    end = tank.end_offset()
    return [
        {"name": name, "committed": committed, "lag": end - committed, "active": name in active}
        for name, committed in sorted(tank.consumers().items())
    ]
