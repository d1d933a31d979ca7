"""Receivers: HTTP routes for push protocols, and :class:`~logradar.sources.base.Source`s."""

from __future__ import annotations

from starlette.routing import BaseRoute


def http_routes() -> list[BaseRoute]:
    """Every HTTP receiver's routes, mounted by the web app."""
    from logradar.sources import elastic, loki, lts, ndjson, otlp

    return [*lts.routes, *ndjson.routes, *loki.routes, *otlp.routes, *elastic.routes]
