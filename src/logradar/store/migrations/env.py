"""Alembic environment: runs migrations on the connection :mod:`logradar.store.migrate` passes."""

from __future__ import annotations

from typing import Any

from alembic import context

from logradar.store.schema import NsTimestamp, metadata


def _render_item(kind: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write :class:`NsTimestamp` columns as the plain ``DateTime`` they are in the database."""
    if kind == "type" and isinstance(obj, NsTimestamp):
        return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    render_item=_render_item,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
