"""Schema migrations: an old store upgrades in place, and the revisions match the models."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from logradar.store import Store
from logradar.store.migrate import current_revision
from logradar.store.schema import metadata

DATA = Path(__file__).with_name("data")


def _load_dump(url: str, dialect: str) -> None:
    """Recreate a store as logradar made it before migrations (its dump, taken then)."""
    sql = (DATA / f"store-v0.{dialect}.sql").read_text()
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    raw = engine.raw_connection()
    try:
        if dialect == "sqlite":
            raw.driver_connection.executescript(sql)
        else:
            with raw.cursor() as cur:
                cur.execute(sql)
            raw.commit()
    finally:
        raw.close()
        engine.dispose()


def _head() -> str:
    from alembic.script import ScriptDirectory

    from logradar.store.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _diff(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, metadata)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest, tmp_path) -> tuple[str, str]:
    if request.param == "sqlite":
        return "sqlite", f"sqlite:///{tmp_path / 'results.db'}"
    return "postgresql", request.getfixturevalue("pg_url")


def test_new_store_is_at_head_and_matches_the_models(backend: tuple[str, str]) -> None:
    _, url = backend
    store = Store(url)
    try:
        assert current_revision(store.engine) == _head()
        assert _diff(store.engine) == []
    finally:
        store.close()


def test_store_from_before_migrations_upgrades_and_keeps_its_rows(
    backend: tuple[str, str],
) -> None:
    dialect, url = backend
    _load_dump(url, dialect)
    store = Store(url)
    try:
        assert current_revision(store.engine) == _head()
        assert _diff(store.engine) == []
        if dialect == "sqlite":  # the SQLite dump carries rows, the PostgreSQL one the schema
            [row] = store.list_anomalies()
            assert (row["stream"], row["observed"], row["status"]) == ("web", 40.0, "open")
    finally:
        store.close()


def test_reopening_a_migrated_store_changes_nothing(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'results.db'}"
    Store(url).close()
    store = Store(url)
    try:
        assert current_revision(store.engine) == _head()
    finally:
        store.close()
