"""What a non-HTTP source (syslog listener, file tail, LTS pull) looks like to the pipeline.

HTTP receivers are Starlette routes (see ``lts.py``, ``ndjson.py``). Sources that own a socket
or a loop implement :class:`Source`: the pipeline calls ``start`` with the function that
durably ingests an Arrow batch (``INGEST_SCHEMA``) and returns the lines accepted, and calls
``stop`` on shutdown. ``ingest`` raises :class:`~logradar.sources.common.IngestError` (e.g.
429/503 under backpressure); a source then retries later or, for UDP, counts a drop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import pyarrow as pa

IngestFn = Callable[[pa.Table, str], int]


class Source(Protocol):
    name: str

    def start(self, ingest: IngestFn) -> None: ...

    def stop(self) -> None: ...
