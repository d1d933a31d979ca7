"""``logradar anomalies`` and ``logradar incidents``: what the store holds, from a shell.

They read the store of a data dir (or ``store.url`` of the configuration) directly, with the
filters of the API (stream, minimum severity, detector, since/until, limit), newest first:
a table on a terminal, JSON (a list of objects, as the API answers) with ``--json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from logradar.store import Store

SEVERITIES = ("info", "low", "medium", "high", "critical")


def _time(value: str | None, name: str) -> int | None:
    from logradar.schema import now_ns
    from logradar.web.params import parse_since

    if value is None:
        return None
    try:
        return parse_since(value, now_ns())
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=name) from None


def open_store(config_path: Path | None, data_dir: Path | None) -> Store:
    """The configured store; a one-line error when a SQLite store does not exist yet."""
    from logradar.config import ConfigError, load_config
    from logradar.store import Store

    try:
        settings = load_config(config_path, data_dir=data_dir)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    url = settings.store_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise click.ClickException(
            f"no store at {url.removeprefix('sqlite:///')}: give the data dir of a logradar "
            "that ran (--data-dir, or --config with its configuration)"
        )
    return Store(url)


def filters(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options both commands share."""
    options = [
        click.option(
            "--config",
            "config_path",
            type=click.Path(dir_okay=False, path_type=Path),
            envvar="LOGRADAR_CONFIG",
            help="TOML configuration file (env LOGRADAR_CONFIG); use the server's.",
        ),
        click.option(
            "--data-dir", type=click.Path(file_okay=False, path_type=Path), help="State folder."
        ),
        click.option("--stream", help="Only this stream."),
        click.option(
            "--severity",
            type=click.Choice(SEVERITIES),
            help="Only this severity or above.",
        ),
        click.option("--detector", help="Only this detector (new_pattern, frequency, ...)."),
        click.option("--since", help="From: ISO-8601 with a zone, epoch seconds or 15m/2h/1d ago."),
        click.option("--until", help="Before: same forms."),
        click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000)),
        click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _check_stream(stream: str | None) -> None:
    from logradar.schema import InvalidStreamName, validate_stream_name

    if stream is not None:
        try:
            validate_stream_name(stream)
        except InvalidStreamName as e:
            raise click.BadParameter(str(e), param_hint="--stream") from None


def _print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", show_lines=False)
    for name in columns[:-1]:
        table.add_column(name, no_wrap=True)
    table.add_column(columns[-1], overflow="fold", min_width=24)  # the text takes the rest
    for row in rows:
        table.add_row(*map(Text, row))  # plain text: "[payments]" is not markup
    console = Console(highlight=False)
    if not console.is_terminal:  # piped: do not squeeze the rows into 80 columns
        console = Console(highlight=False, width=200)
    console.print(table)


def _short(ts: str | None) -> str:
    """``2026-11-25T13:00:10.123456Z`` as ``2026-11-25 13:00:10``."""
    return "" if not ts else ts.replace("T", " ")[:19]


@click.command("anomalies")
@filters
def anomalies_command(
    config_path: Path | None,
    data_dir: Path | None,
    stream: str | None,
    severity: str | None,
    detector: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List stored anomalies, newest first."""
    _check_stream(stream)
    since_ns, until_ns = _time(since, "--since"), _time(until, "--until")
    store = open_store(config_path, data_dir)
    try:
        rows = store.list_anomalies(
            stream=stream,
            since_ns=since_ns,
            until_ns=until_ns,
            min_severity=severity,
            detector=detector,
            limit=limit,
        )
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    _print_table(
        f"{len(rows)} anomalies (newest first)",
        ["id", "end", "severity", "stream", "detector/kind", "incident", "explanation"],
        [
            [
                str(a["id"]),
                _short(a["end"]),
                a["severity"],
                a["stream"],
                f"{a['detector']}/{a['kind']}",
                "" if a.get("incident_id") is None else f"#{a['incident_id']}",
                " ".join(str(a["explanation"]).split()),
            ]
            for a in rows
        ],
    )


@click.command("incidents")
@filters
@click.option(
    "--status", type=click.Choice(["firing", "resolved"]), help="Only firing or resolved ones."
)
def incidents_command(
    config_path: Path | None,
    data_dir: Path | None,
    stream: str | None,
    severity: str | None,
    detector: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
    status: str | None,
) -> None:
    """List incidents (grouped anomalies), most recently seen first."""
    _check_stream(stream)
    since_ns, until_ns = _time(since, "--since"), _time(until, "--until")
    store = open_store(config_path, data_dir)
    try:
        rows = [
            i.to_dict()
            for i in store.list_incidents(
                status=status,
                stream=stream,
                min_severity=severity,
                detector=detector,
                since_ns=since_ns,
                until_ns=until_ns,
                limit=limit,
            )
        ]
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    _print_table(
        f"{len(rows)} incidents (most recently seen first)",
        ["id", "status", "severity", "stream", "anomalies", "first seen", "last seen", "summary"],
        [
            [
                str(i["id"]),
                i["status"],
                i["severity"],
                i["stream"],
                str(i["anomaly_count"]),
                _short(i["first_seen"]),
                _short(i["last_seen"]),
                " ".join(str(i["summary"]).split()),
            ]
            for i in rows
        ],
    )
