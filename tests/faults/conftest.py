"""Fixtures of the fault-injection suite: the real server and an alert webhook that can be
down."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from _up import UpServer
from faults.fault_tools import FAST, FlakyWebhook


@pytest.fixture
def hook() -> Iterator[FlakyWebhook]:
    receiver = FlakyWebhook()
    yield receiver
    receiver.close()


@pytest.fixture
def start_up(tmp_path) -> Iterator[Callable[..., UpServer]]:
    """``start_up(data_dir=..., args=[...], env={...})``: a healthy `logradar up`; killed at
    the end if the test did not stop it."""
    started: list[UpServer] = []

    def start(
        data_dir: Path | None = None, args: list[str] | None = None, env: dict | None = None
    ) -> UpServer:
        up = UpServer(data_dir or tmp_path / "data", args=args or [], env={**FAST, **(env or {})})
        started.append(up)
        return up

    yield start
    for up in started:
        up.kill()
