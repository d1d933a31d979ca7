"""``logradar send``: ship a file (or stdin) to a running logradar over ``POST /api/v1/logs``.

Lines go in batches as gzip-compressed ``text/plain``. 429, 503 (and 502/504) answers and
connection errors are retried with exponential backoff, honouring ``Retry-After``; any other
4xx stops with the server's message and a non-zero exit. A request that timed out after the
server accepted it is sent again, so a line can arrive twice, never zero times.
"""

from __future__ import annotations

import email.utils
import gzip
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urlsplit

import click

if TYPE_CHECKING:
    import httpx

RETRY_STATUSES = frozenset({429, 502, 503, 504})
BACKOFF_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
MAX_BATCH_BYTES = 4 * 1024 * 1024
API_PATH = "/api/v1/logs"


class ShipError(Exception):
    """The server refused the data for good (``permanent``), or retries ran out."""

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def check_url(url: str) -> None:
    """A one-line :class:`click.ClickException` unless ``url`` is an http(s) URL with a host
    (``host:port`` alone would otherwise fail only after every retry)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        example = url if "://" in url else f"http://{url}"
        raise click.ClickException(
            f"--url {url!r} must be an http:// or https:// URL with a host, e.g. "
            f"{example if example.startswith('http') else 'http://127.0.0.1:8080'}"
        )


class HttpShipper:
    """POSTs batches of lines as gzip ``text/plain`` to logradar, with retries."""

    def __init__(
        self,
        url: str,
        stream: str,
        *,
        token: str | None = None,
        host: str | None = None,
        max_retries: int = 10,
        timeout: float = 30.0,
        backoff: float = BACKOFF_SECONDS,
    ) -> None:
        import httpx

        self.endpoint = url.rstrip("/") + API_PATH
        self.params = {"stream": stream, **({"host": host} if host else {})}
        headers = {
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Encoding": "gzip",
            "User-Agent": "logradar-send",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.client = httpx.Client(headers=headers, timeout=timeout)
        self.max_retries = max_retries
        self.backoff = backoff
        self.retries = 0

    def send(self, lines: list[bytes]) -> int:
        """Send one batch; return the lines the server accepted. Raises :class:`ShipError`."""
        import httpx

        body = gzip.compress(b"\n".join(lines) + b"\n", compresslevel=5)
        delay = self.backoff
        attempt = 0
        while True:
            try:
                response = self.client.post(self.endpoint, params=self.params, content=body)
            except httpx.TransportError as e:
                problem, wait = f"connection error: {e}", None
            else:
                if response.status_code == 200:
                    return int(response.json().get("accepted", len(lines)))
                if response.status_code not in RETRY_STATUSES:
                    raise ShipError(
                        f"HTTP {response.status_code}: {_reason(response)}", permanent=True
                    )
                problem = f"HTTP {response.status_code}: {_reason(response)}"
                wait = retry_after_seconds(response.headers.get("retry-after"))
            if attempt >= self.max_retries:
                raise ShipError(
                    f"giving up after {attempt + 1} attempts; last: {problem}", permanent=False
                )
            attempt += 1
            self.retries += 1
            time.sleep(min(wait if wait is not None else delay, BACKOFF_MAX_SECONDS))
            delay = min(delay * 2, BACKOFF_MAX_SECONDS)

    def close(self) -> None:
        self.client.close()


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("error") or body.get("errorMessage") or body)[:200]
    return str(body)[:200]


def iter_batches(
    stream: BinaryIO, batch_lines: int, max_bytes: int = MAX_BATCH_BYTES
) -> Iterator[tuple[list[bytes], int]]:
    """Batches of lines (without newline) and the bytes they took in the input."""
    batch: list[bytes] = []
    size = 0
    for raw in stream:
        line = raw.rstrip(b"\r\n")
        batch.append(line)
        size += len(raw)
        if len(batch) >= batch_lines or size >= max_bytes:
            yield batch, size
            batch, size = [], 0
    if batch:
        yield batch, size


@click.command("send")
@click.argument("source", metavar="FILE|-", type=click.Path(allow_dash=True, dir_okay=False))
@click.option("--url", required=True, envvar="LOGRADAR_URL", help="logradar base URL.")
@click.option("--stream", required=True, help="Stream to write to.")
@click.option("--batch-lines", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--token", envvar="LOGRADAR_TOKEN", help="API token (env LOGRADAR_TOKEN).")
@click.option("--host", "host_label", help="Host recorded with the lines.")
@click.option("--max-retries", default=10, show_default=True, type=click.IntRange(min=0))
@click.option("--progress/--no-progress", default=True, help="Progress bar for files.")
def send_command(
    source: str,
    url: str,
    stream: str,
    batch_lines: int,
    token: str | None,
    host_label: str | None,
    max_retries: int,
    progress: bool,
) -> None:
    """Send FILE (or - for stdin) to a running logradar, one log line per line."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from logradar.schema import InvalidStreamName, validate_stream_name

    try:
        validate_stream_name(stream)
    except InvalidStreamName as e:
        raise click.BadParameter(str(e), param_hint="--stream") from None
    check_url(url)
    shipper = HttpShipper(url, stream, token=token, host=host_label, max_retries=max_retries)
    console = Console(stderr=True)
    sent = batches = 0
    try:
        if source == "-":
            for lines, _ in iter_batches(sys.stdin.buffer, batch_lines):
                sent += shipper.send(lines)
                batches += 1
        else:
            path = Path(source)
            with (
                path.open("rb") as fh,
                Progress(
                    TextColumn("[bold]{task.description}"),
                    BarColumn(),
                    DownloadColumn(),
                    TransferSpeedColumn(),
                    TimeRemainingColumn(),
                    console=console,
                    disable=not progress,
                ) as bar,
            ):
                task = bar.add_task(path.name, total=path.stat().st_size)
                for lines, size in iter_batches(fh, batch_lines):
                    sent += shipper.send(lines)
                    batches += 1
                    bar.advance(task, size)
    except ShipError as e:
        raise click.ClickException(f"{e} ({sent} lines were accepted before)") from None
    except OSError as e:
        raise click.ClickException(str(e)) from None
    finally:
        shipper.close()
    retried = f", {shipper.retries} retries" if shipper.retries else ""
    console.print(f"sent {sent} lines in {batches} requests{retried}")
