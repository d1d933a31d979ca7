"""Small helpers shared by test modules (on the path through pytest's ``pythonpath``)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import cramjam
import pyarrow as pa
import uvicorn

from logradar.schema import RECORD_SCHEMA, TIMESTAMP
from logradar.sources.proto.logproto import PushRequest


def tank_rows(pipeline: Any) -> list[dict[str, Any]]:
    """Everything in the pipeline's tank as dicts, times as integer nanoseconds."""
    table = pipeline.tank.read(-1, 10**6)
    for name in ("ts", "ingest_ts"):
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, table.column(name).cast("int64"))
    return table.to_pylist()


def records(messages: list[str], ts: list[int], stream: str = "s", first: int = 0) -> pa.Table:
    """Engine input (RECORD_SCHEMA) for ``messages`` with event times ``ts`` (ns)."""
    n = len(messages)
    return pa.table(
        [
            pa.array(range(first, first + n), pa.int64()),
            pa.array([stream] * n),
            pa.array(ts, pa.int64()).cast(TIMESTAMP),
            pa.array(ts, pa.int64()).cast(TIMESTAMP),
            pa.nulls(n, pa.string()),
            pa.nulls(n, pa.string()),
            pa.array(messages),
        ],
        schema=RECORD_SCHEMA,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(server: uvicorn.Server, stop_timeout: float = 10.0) -> Iterator[uvicorn.Server]:
    """Run a uvicorn server in a thread until the block ends; wait until it has started."""
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(stop_timeout)


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serve an ASGI app with a real uvicorn on a free port in a thread; yield ``host:port``."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    with running(uvicorn.Server(config)) as server:
        yield f"127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"


def promtail_body(streams: list[tuple[str, list[tuple[int, bytes, dict[str, str]]]]]) -> bytes:
    """A push encoded the way Promtail sends it: logproto.PushRequest, snappy block format."""
    request = PushRequest()
    for selector, entries in streams:
        stream = request.streams.add(labels=selector.encode())
        for ns, line, metadata in entries:
            entry = stream.entries.add(line=line)
            entry.timestamp.seconds, entry.timestamp.nanos = divmod(ns, 10**9)
            for name, value in metadata.items():
                entry.structuredMetadata.add(name=name.encode(), value=value.encode())
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def otlp_json(records: list[dict], resource: list[dict] | None = None) -> dict:
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": resource or []},
                "scopeLogs": [{"scope": {"name": "handwritten"}, "logRecords": records}],
            }
        ]
    }


def attr(key: str, value: dict) -> dict:
    return {"key": key, "value": value}
