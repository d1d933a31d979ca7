"""Fixtures: `logradar up` as a real subprocess (benchmarks/_up.py) and a webhook receiver."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from _up import UpServer, WebhookReceiver


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def start_up(tmp_path) -> Iterator:
    started: list[UpServer] = []

    def start(args: list[str] | None = None, env: dict[str, str] | None = None) -> UpServer:
        # Spark's JVM alone took 27-49 s to start on a loaded 2-core machine
        timeout = 120 if "spark" in (args or []) else 30
        proc = UpServer(tmp_path / "data", args=args or [], env=env, timeout=timeout)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop(signal.SIGKILL)
