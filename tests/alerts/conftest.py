"""Fixtures for the alerting tests: local HTTP services and a store."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from alert_helpers import Answer, HttpService, Request
from logradar.store import Store


@pytest.fixture
def http_service() -> Iterator[Callable[[Callable[[Request], Answer]], HttpService]]:
    """Start :class:`HttpService` servers; all are stopped after the test."""
    started: list[HttpService] = []

    def start(handler: Callable[[Request], Answer]) -> HttpService:
        started.append(HttpService(handler).start())
        return started[-1]

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'results.db'}")
    yield s
    s.close()
