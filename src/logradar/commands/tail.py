"""``logradar tail``: follow files and ship new lines to a running logradar over HTTP.

Rotation-aware and resumable (see :mod:`logradar.sources.tail`); lines are sent with
:class:`~logradar.commands.send.HttpShipper`. Temporary failures are retried without end;
a permanent refusal (e.g. 401, 403, 400) stops with an error.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from logradar.commands.send import HttpShipper, ShipError

if TYPE_CHECKING:
    from logradar.sources.tail import Chunk


def default_state_path(stream: str, url: str) -> Path:
    """``$XDG_STATE_HOME/logradar/tail-<stream>-<hash of url>.json`` (~/.local/state)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    return base / "logradar" / f"tail-{stream}-{digest}.json"


@click.command("tail")
@click.argument("paths", nargs=-1, required=True)
@click.option("--url", required=True, envvar="LOGRADAR_URL", help="logradar base URL.")
@click.option("--stream", required=True, help="Stream to write to.")
@click.option("--token", envvar="LOGRADAR_TOKEN", help="API token (env LOGRADAR_TOKEN).")
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Position file (default ~/.local/state/logradar/tail-STREAM-HASH.json).",
)
@click.option(
    "--read-from",
    type=click.Choice(["beginning", "end"]),
    default="beginning",
    show_default=True,
    help="Where to start in files without a saved position at the first start.",
)
@click.option("--poll-seconds", default=0.5, show_default=True, type=click.FloatRange(min=0.01))
@click.option(
    "--max-retries",
    default=3,
    show_default=True,
    type=click.IntRange(min=0),
    help="Retries per request; after that the batch is retried at the next poll.",
)
@click.option("--once", is_flag=True, help="Ship what the files hold now, then exit.")
def tail_command(
    paths: tuple[str, ...],
    url: str,
    stream: str,
    token: str | None,
    state_path: Path | None,
    read_from: str,
    poll_seconds: float,
    max_retries: int,
    once: bool,
) -> None:
    """Follow PATH... (files or glob patterns) and ship every new line to logradar."""
    from logradar.schema import InvalidStreamName, validate_stream_name
    from logradar.sources.tail import Tailer, follow

    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)-7s %(message)s")
    try:
        validate_stream_name(stream)
    except InvalidStreamName as e:
        raise click.BadParameter(str(e), param_hint="--stream") from None
    state = state_path or default_state_path(stream, url)
    tailer = Tailer(list(paths), state, read_from=read_from)
    shipper = HttpShipper(
        url, stream, token=token, host=socket.gethostname(), max_retries=max_retries
    )
    stop = threading.Event()
    failures: list[ShipError] = []

    def ship(chunk: Chunk) -> None:
        try:
            shipper.send([line.encode("utf-8") for line in chunk.lines])
        except ShipError as e:
            failures.append(e)
            if e.permanent:
                stop.set()
            raise

    if once:
        stop.set()
    else:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    try:
        follow(tailer, ship, stop, poll_seconds)
    finally:
        shipper.close()
    refused = [e for e in failures if e.permanent]
    if refused:
        raise click.ClickException(f"logradar refused the lines: {refused[0]}")
    if once and failures:
        raise click.ClickException(
            f"could not ship everything ({failures[-1]}); positions are saved, run again"
        )
