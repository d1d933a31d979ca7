"""Schema migrations (Alembic): :func:`upgrade` brings a store to the newest revision.

The revisions live in ``migrations/versions``; the first, ``0001``, is the schema as it was
before migrations existed, so a database created by an older logradar (tables present, no
``alembic_version``) is stamped at ``0001`` and then upgraded. Grafana dashboards read the
tables directly (see docs/store.md): a revision may add, never rename or drop, what they use.

New revision after changing :mod:`logradar.store.schema`::

    PYTHONPATH=src python -m logradar.store.migrate revision -m "what changed"
"""

from __future__ import annotations

import sys
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

BASELINE = "0001"
"""The revision equal to the schema of stores created before migrations existed."""
_SCRIPTS = Path(__file__).with_name("migrations")


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic config for the packaged revisions, bound to ``connection`` if given."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: sa.Engine) -> None:
    """Migrate the database behind ``engine`` to the newest revision (creating it if empty)."""
    with engine.begin() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        cfg = alembic_config(conn)
        if "alembic_version" not in tables and "anomalies" in tables:
            command.stamp(cfg, BASELINE)
        command.upgrade(cfg, "head")


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at (None before the first upgrade)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _autogenerate(message: str) -> None:
    """Write a new revision diffing the newest one against the models (a fresh SQLite)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        engine = sa.create_engine(f"sqlite:///{tmp}/schema.db")
        upgrade(engine)
        with engine.begin() as conn:
            command.revision(alembic_config(conn), message=message, autogenerate=True)
        engine.dispose()


if __name__ == "__main__":
    if sys.argv[1:2] != ["revision"] or len(sys.argv) != 4 or sys.argv[2] != "-m":
        sys.exit('usage: python -m logradar.store.migrate revision -m "message"')
    _autogenerate(sys.argv[3])
