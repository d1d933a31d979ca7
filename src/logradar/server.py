"""Run a :class:`~logradar.pipeline.Pipeline` behind uvicorn (``logradar up``).

The pipeline starts and stops in the ASGI lifespan, so on SIGINT/SIGTERM uvicorn first stops
accepting requests and finishes the ones in flight, then the pipeline drains the engine,
flushes the archive and snapshots state, and the process exits with status 0.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from logradar.config import Settings
from logradar.datadir_lock import lock_data_dir, unlock_data_dir
from logradar.pipeline import Pipeline
from logradar.web.app import create_app
from logradar.web.guard import RequestGuard
from logradar.web.slow_clients import BodyDeadline, HeadTimeoutH11Protocol

log = logging.getLogger("logradar")


class PortInUse(RuntimeError):
    """The configured address cannot be bound."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn's handling, minus re-raising the signal after a graceful shutdown."""
        with super().capture_signals():
            yield
            getattr(self, "_captured_signals", []).clear()


def check_port(host: str, port: int) -> None:
    """Fail early, with a clear message, when ``host:port`` is taken."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host.strip("[]"), port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise PortInUse(f"{host}:{port} is already in use; pick another --port") from None
            raise PortInUse(f"cannot listen on {host}:{port}: {e.strerror}") from None


def build_server(
    settings: Settings,
    *,
    alert_callback: Callable[[dict[str, Any]], None] | None = None,
    engine: str = "local",
    spark_master: str | None = None,
) -> tuple[Pipeline, uvicorn.Server]:
    """The pipeline and an uvicorn server whose lifespan starts and stops it (not started)."""
    pipeline = Pipeline(
        settings, alert_callback=alert_callback, engine=engine, spark_master=spark_master
    )
    app = create_app(pipeline)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        pipeline.start()
        scheme = "https" if settings.server.tls_cert else "http"
        url = f"{scheme}://{settings.server.host}:{settings.server.port}"
        log.info("logradar listening on %s (data dir %s)", url, settings.data_dir.resolve())
        try:
            yield
        finally:
            log.info("shutting down: draining the engine and archive")
            await run_in_threadpool(pipeline.stop)
            log.info("stopped")

    app.router.lifespan_context = lifespan
    server = settings.server
    app.add_middleware(BodyDeadline, seconds=server.body_timeout_seconds)
    app.add_middleware(RequestGuard, server=server)
    config = uvicorn.Config(
        app,
        host=server.host,
        port=server.port,
        log_level="warning" if settings.log_level == "info" else settings.log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        http=functools.partial(
            HeadTimeoutH11Protocol, header_timeout=server.header_timeout_seconds
        ),
        timeout_keep_alive=server.keep_alive_seconds,
        limit_concurrency=server.max_connections,
        h11_max_incomplete_event_size=server.max_header_bytes,
        ssl_certfile=server.tls_cert,
        ssl_keyfile=server.tls_key,
    )
    return pipeline, _Server(config)


def serve(settings: Settings, *, engine: str = "local", spark_master: str | None = None) -> None:
    """Run until SIGINT/SIGTERM, then shut down gracefully.

    :class:`DataDirInUse` when another process serves the same data dir.
    """
    lock = lock_data_dir(settings.data_dir)
    try:
        check_port(settings.server.host, settings.server.port)
        _, server = build_server(settings, engine=engine, spark_master=spark_master)
        server.run()
    finally:
        unlock_data_dir(lock)
