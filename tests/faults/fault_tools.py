"""The fault-injection suite's tools (its fixtures are in conftest.py): a load of numbered
lines that remembers what the real server (``logradar up``) acknowledged, and the archive
check.

The invariant every fault test ends with (:func:`assert_archived_exactly_once`): every line
the server acknowledged (2xx) is in the Parquet archive exactly once, and nothing else is.
"""

from __future__ import annotations

import collections
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pyarrow.dataset as ds

from _up import UpServer

#: Short windows and flushes so each fault plays out in seconds.
FAST = {
    "LOGRADAR_ENGINE__WINDOW_SECONDS": "2",
    "LOGRADAR_ENGINE__LEARNING_SECONDS": "6",
    "LOGRADAR_ENGINE__ALLOWED_LATENESS_SECONDS": "0.5",
    "LOGRADAR_ENGINE__SNAPSHOT_SECONDS": "1",
    "LOGRADAR_ARCHIVE__FLUSH_SECONDS": "0.5",
}
DEADLINE = 120.0


def wait_for(check: Callable[[], Any], what: str, seconds: float = DEADLINE) -> Any:
    """``check()`` until it is truthy (returned), or AssertionError after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Load:
    """Numbered lines sent to ``/api/v1/logs``; which were acknowledged, which refused."""

    url: str
    stream: str = "load"
    acked: list[str] = field(default_factory=list)
    sent: set[str] = field(default_factory=set)
    statuses: collections.Counter = field(default_factory=collections.Counter)
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    def send(self, lines: int = 100, pad: int = 0, ts_ns: int | None = None) -> int:
        """One request of ``lines`` new lines (``pad`` extra bytes each); its status (0 when
        the connection failed: its fate is unknown, so it counts as not acknowledged)."""
        batch = [f"INFO job {next(self._numbers)} done {'x' * pad}".rstrip() for _ in range(lines)]
        self.sent.update(batch)
        params = {"stream": self.stream}
        try:
            if ts_ns is None:
                r = httpx.post(self.url + "/api/v1/logs", params=params, content="\n".join(batch))
            else:
                body = "\n".join(f'{{"message": "{m}", "ts": {ts_ns}}}' for m in batch)
                headers = {"Content-Type": "application/x-ndjson"}
                r = httpx.post(
                    self.url + "/api/v1/logs", params=params, content=body, headers=headers
                )
        except httpx.TransportError:
            self.statuses[0] += 1
            return 0
        self.statuses[r.status_code] += 1
        if r.status_code == 200:
            self.acked.extend(batch)
        return r.status_code


def drain(server: UpServer, seconds: float = DEADLINE) -> None:
    """Wait until the archive and the engine consumed everything in the tank."""

    def caught_up() -> bool:
        return all(
            server.metric("logradar_consumer_lag_lines", f'consumer="{c}"') == 0
            for c in ("archive", "engine")
        )

    wait_for(caught_up, "the consumers to catch up", seconds)


def archived(archive: Path) -> collections.Counter:
    """How often each message is in the Parquet archive."""
    if not archive.exists():
        return collections.Counter()
    table = ds.dataset(archive, partitioning="hive").to_table(columns=["message"])
    return collections.Counter(table.column("message").to_pylist())


def assert_archived_exactly_once(archive: Path, load: Load) -> None:
    counts = archived(archive)
    lost = [m for m in load.acked if m not in counts]
    doubled = {m: n for m, n in counts.items() if n > 1}
    foreign = counts.keys() - load.sent
    assert not lost, f"{len(lost)} acknowledged lines missing, e.g. {lost[:3]}"
    assert not doubled, f"{len(doubled)} lines archived more than once"
    assert not foreign, f"lines never sent: {list(foreign)[:3]}"


class FlakyWebhook:
    """An alert webhook that answers 503 while :attr:`down` is set, else 204; it records
    every attempt and every accepted body."""

    def __init__(self) -> None:
        self.down = threading.Event()
        self.failed: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                status = 503 if hook.down.is_set() else 204
                (hook.failed if status == 503 else hook.accepted).append(body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


NEW_ERROR = "ERROR payment gateway handshake failed: certificate expired for host pay-{i}"


def normal_lines(k: int) -> list[str]:
    return [f"INFO GET /api/items/{k * 10 + j} 200 {12 + j} ms" for j in range(8)]
