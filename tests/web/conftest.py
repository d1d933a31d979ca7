"""A real Store (SQLite file), real Metrics and a tiny pipeline-like object behind the app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest
from starlette.testclient import TestClient

from logradar.config import Settings
from logradar.metrics import Metrics
from logradar.schema import Anomaly, Severity
from logradar.sources.auth import Authenticator
from logradar.store import Store
from logradar.web import create_app

S = 10**9


class MiniPipeline:
    """What the web app uses of :class:`logradar.pipeline.Pipeline`, without the engine."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.metrics = Metrics()
        self.auth = Authenticator(settings.auth, settings.auth_enabled)
        self.status = "ok"
        self.ingested: list[pa.Table] = []
        self.gauge_refreshes = 0

    def ingest(self, table: pa.Table, source: str) -> int:
        self.ingested.append(table)
        self.metrics.lines_accepted.labels(source).inc(table.num_rows)
        return table.num_rows

    def refresh_gauges(self) -> None:
        self.gauge_refreshes += 1
        self.metrics.consumer_lag.labels("engine").set(7)

    def health(self) -> dict[str, Any]:
        return {"status": self.status, "components": {"engine": "running"}}


def _make_anomaly(
    stream: str = "web",
    start: int = 1_709_294_400 * S,
    *,
    severity: Severity = Severity.HIGH,
    detector: str = "frequency",
    kind: str = "spike",
    template: str | None = "GET <*> 500",
    explanation: str = "template 7 seen 40 times, expected 3",
    examples: list[str] | None = None,
) -> Anomaly:
    return Anomaly(
        detector=detector,
        kind=kind,
        stream=stream,
        start=start,
        end=start + 10 * S,
        score=0.93,
        severity=severity,
        explanation=explanation,
        template_id=7 if template else None,
        template=template,
        expected=3.0,
        observed=40.0,
        examples=["GET /a 500", "GET /b 500"] if examples is None else examples,
    )


@pytest.fixture(name="make_anomaly")
def make_anomaly_fixture() -> Callable[..., Anomaly]:
    """Build an :class:`Anomaly` (a frequency spike of ``web`` at 2024-03-01T12:00:00Z)."""
    return _make_anomaly


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'results.db'}")
    yield s
    s.close()


@pytest.fixture
def pipeline(tmp_path, store: Store) -> MiniPipeline:
    return MiniPipeline(Settings(data_dir=tmp_path), store)


@pytest.fixture
def client(pipeline: MiniPipeline) -> Iterator[TestClient]:
    with TestClient(create_app(pipeline)) as c:
        yield c
