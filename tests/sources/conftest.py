"""A real pipeline (tank, store, archive on tmp_path) behind the real ASGI app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from logradar.config import load_config
from logradar.pipeline import Pipeline
from logradar.web.app import create_app


@pytest.fixture
def make_client(tmp_path) -> Iterator[Callable[..., tuple[TestClient, Pipeline]]]:
    made: list[Pipeline] = []

    def make(**overrides: Any) -> tuple[TestClient, Pipeline]:
        settings = load_config(data_dir=tmp_path / f"data{len(made)}", **overrides)
        pipeline = Pipeline(settings)
        made.append(pipeline)
        return TestClient(create_app(pipeline)), pipeline

    yield make
    for pipeline in made:
        pipeline.stop()


@pytest.fixture
def client(make_client) -> tuple[TestClient, Pipeline]:
    return make_client()
