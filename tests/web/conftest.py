"""A real Store (SQLite file), real Metrics and a tiny pipeline-like object behind the app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest
from starlette.testclient import TestClient

from logradar.config import Settings
from logradar.metrics import Metrics
from logradar.pipeline import Pipeline
from logradar.schema import Anomaly, Severity, ingest_table
from logradar.sources.auth import Authenticator
from logradar.store import Store
from logradar.web import create_app

S = 10**9
W = 10 * S
T0 = 1_700_000_000 * S // W * W
"""A window boundary in 2023: older than every preset, so the default range must follow it."""
XSS = "<script>alert(1)</script>"
NORMAL_WINDOWS = 30


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


class Stepped:
    """A Pipeline whose engine and archive are stepped by the test (no threads)."""

    def __init__(self, tmp_path) -> None:
        settings = Settings(
            data_dir=tmp_path / "data",
            engine={"learning_seconds": 0},
            detectors={"frequency": {"enabled": False}},
            alerts={"console": False},
        )
        self.pipeline = Pipeline(settings)
        self.store = self.pipeline.store

    def send(self, stream: str, lines: list[str], ts_ns: int | list[int]) -> None:
        self.pipeline.ingest(ingest_table(stream, lines, ts_ns), "test")

    def run(self, clock_ns: int) -> None:
        while self.pipeline.engine.step(clock_ns):
            pass
        self.pipeline.engine.step(clock_ns)
        assert self.pipeline.archiver is not None
        self.pipeline.archiver.flush()

    def close(self) -> None:
        self.pipeline.tank.close()
        self.store.close()


@pytest.fixture
def stepped(tmp_path) -> Iterator[Stepped]:
    s = Stepped(tmp_path)
    yield s
    s.close()


def _normal(k: int) -> list[str]:
    return [f"GET /items/{k * 10 + j} 200" for j in range(5)]


@pytest.fixture
def history(stepped: Stepped) -> dict[str, Any]:
    """A replayed 2023 history of stream ``web``: normal lines, then a new error in the middle
    of other lines (a ``new_pattern`` anomaly with context around it)."""
    for k in range(NORMAL_WINDOWS):
        stepped.send("web", _normal(k), [T0 + k * W + j * S for j in range(5)])
    before = [f"INFO step {i} of the batch job" for i in range(4)]
    after = [f"INFO cleanup {i} done" for i in range(4)]
    error = f"ERROR disk /dev/sda1 full {XSS}"
    burst = [*before, error, *after]
    at = T0 + NORMAL_WINDOWS * W
    stepped.send("web", burst, [at + i * 10**8 for i in range(len(burst))])
    stepped.run(at + 3 * W)
    found = [a for a in stepped.store.list_anomalies(limit=100) if "disk" in (a["template"] or "")]
    assert found, stepped.store.list_anomalies(limit=100)
    normal = 5 * NORMAL_WINDOWS
    return {"anomaly": found[0], "before": before, "after": after, "error": error, "normal": normal}
