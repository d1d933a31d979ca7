"""A real Pipeline (tank, store, engine, outbox) driven step by step, its app, and helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from starlette.testclient import TestClient

from helpers import serve_app
from logradar.config import Settings
from logradar.pipeline import Pipeline
from logradar.schema import ingest_table
from logradar.web import create_app

S = 10**9
W = 10 * S
T0 = 1_700_000_000 * S // W * W
"""A window boundary (2023-11-14); event times of the test lines start here."""


class Harness:
    """A Pipeline whose engine and alert delivery are stepped by the test (no threads)."""

    def __init__(self, settings: Settings) -> None:
        self.alerts: list[dict[str, Any]] = []
        self.pipeline = Pipeline(settings, alert_callback=self.alerts.append)
        self.store = self.pipeline.store

    def send(self, stream: str, lines: list[str], ts_ns: int) -> None:
        self.pipeline.ingest(ingest_table(stream, lines, ts_ns), "test")

    def run(self, clock_ns: int) -> None:
        """Process everything accepted with the engine clock at ``clock_ns``, then deliver."""
        engine = self.pipeline.engine
        while engine.step(clock_ns):
            pass
        engine.step(clock_ns)
        self.pipeline.alerting.tick()
        self.pipeline.alerting.outbox.deliver_due()

    def alerted_ids(self) -> list[int]:
        return [a["anomaly_id"] for a in self.alerts]

    def anomalies(self, **match: Any) -> list[dict[str, Any]]:
        rows = self.store.list_anomalies(limit=1000)
        return [r for r in rows if all(r[k] == v for k, v in match.items())]


def make_settings(tmp_path, **overrides: Any) -> Settings:
    """Settings for the tests: no learning period, new_pattern forgets after 60 s, no
    frequency detector (only the anomalies a test makes), incidents notified at once, console
    alerts from severity low (the first window of a stream is still learning)."""
    base: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "engine": {"learning_seconds": 0},
        "detectors": {
            "new_pattern": {"forget_after_seconds": 60},
            "frequency": {"enabled": False},
        },
        "alerts": {"group_wait_seconds": 0, "console": True, "min_severity": "low"},
    }
    for key, value in overrides.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return Settings(**base)


@pytest.fixture
def harness(tmp_path) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(**overrides: Any) -> Harness:
        h = Harness(make_settings(tmp_path, **overrides))
        made.append(h)
        return h

    yield make
    for h in made:
        h.pipeline.tank.close()
        h.pipeline.store.close()


@pytest.fixture
def client_for() -> Iterator[Callable[[Harness], TestClient]]:
    clients: list[TestClient] = []

    def make(h: Harness) -> TestClient:
        c = TestClient(create_app(h.pipeline))
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Harness], str]]:
    """Serve a harness's app with a real uvicorn on a free port; return its base URL."""
    with ExitStack() as stack:
        yield lambda h: f"http://{stack.enter_context(serve_app(create_app(h.pipeline)))}"
