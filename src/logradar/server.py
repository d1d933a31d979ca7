"""Run a :class:`~logradar.pipeline.Pipeline` behind uvicorn (``logradar up``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import uvicorn

from logradar.config import Settings
from logradar.pipeline import Pipeline
from logradar.web.app import create_app

log = logging.getLogger("logradar")


def build_server(
    settings: Settings, *, alert_callback: Callable[[dict[str, Any]], None] | None = None
) -> tuple[Pipeline, uvicorn.Server]:
    """The pipeline and an uvicorn server for its web app (not started)."""
    pipeline = Pipeline(settings, alert_callback=alert_callback)
    config = uvicorn.Config(
        create_app(pipeline),
        host=settings.server.host,
        port=settings.server.port,
        log_level="warning" if settings.log_level == "info" else settings.log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=10,
    )
    return pipeline, uvicorn.Server(config)


def serve(
    settings: Settings, *, alert_callback: Callable[[dict[str, Any]], None] | None = None
) -> None:
    """Run until SIGINT/SIGTERM; then stop taking requests, drain, snapshot and exit."""
    pipeline, server = build_server(settings, alert_callback=alert_callback)
    pipeline.start()
    url = f"http://{settings.server.host}:{settings.server.port}"
    log.info("logradar listening on %s (data dir %s)", url, settings.data_dir.resolve())
    try:
        server.run()
    finally:
        log.info("shutting down: draining the engine and archive")
        pipeline.stop()
        log.info("stopped")
