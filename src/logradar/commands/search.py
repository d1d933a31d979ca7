"""``logradar search`` and ``logradar backtest --archive``: the archive's command-line readers."""

from __future__ import annotations

import json
from pathlib import Path

import click

from logradar.commands.options import parse_time


@click.command("search")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="LOGRADAR_CONFIG",
    help="TOML configuration file (env LOGRADAR_CONFIG); its [archive] settings apply.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Search <data-dir>/archive (or the configured archive.url).",
)
@click.option("--archive", "archive_url", help="Archive URL: folder, s3:// or obs://bucket/prefix.")
@click.option("--stream", help="Only this stream.")
@click.option("--since", help="From: ISO-8601, epoch seconds or a duration ago (15m, 2h, 7d).")
@click.option("--until", help="Until (exclusive), same forms.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--regex", "-E", is_flag=True, help="QUERY is a regular expression (RE2).")
@click.option("--ignore-case", "-i", is_flag=True, help="Match case-insensitively.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.argument("query", required=False)
def search_command(
    config_path: Path | None,
    data_dir: Path | None,
    archive_url: str | None,
    stream: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    regex: bool,
    ignore_case: bool,
    as_json: bool,
    query: str | None,
) -> None:
    """Find archived lines containing QUERY (all lines without it), newest first."""
    from logradar.archive.layout import open_dataset
    from logradar.archive.search import SearchError, SearchQuery, rows, search
    from logradar.archive.storage import ArchiveUrlError
    from logradar.config import ConfigError, load_config
    from logradar.schema import InvalidStreamName, validate_stream_name

    if data_dir is not None and archive_url is not None:
        raise click.UsageError("use --data-dir or --archive, not both")
    try:
        if stream is not None:
            validate_stream_name(stream)
        settings = load_config(config_path, data_dir=data_dir, archive={"url": archive_url})
    except (ConfigError, InvalidStreamName) as e:
        raise click.ClickException(str(e)) from None
    q = SearchQuery(
        text=query,
        regex=regex,
        ignore_case=ignore_case,
        stream=stream,
        since_ns=parse_time(since, "--since"),
        until_ns=parse_time(until, "--until"),
        limit=limit,
    )
    try:
        found = rows(search(open_dataset(settings.archive_url, settings.archive), q))
    except (SearchError, ArchiveUrlError, OSError) as e:
        raise click.ClickException(str(e).splitlines()[0]) from None
    for row in found:
        if as_json:
            click.echo(json.dumps(row))
        else:
            click.echo(f"{row['ts']} {row['stream']} {row['message']}")


def archive_backtest(
    config_path: Path | None,
    archive_url: str,
    since: str | None,
    until: str | None,
    stream: str | None,
    output: Path,
) -> None:
    """``logradar backtest --archive``: see :mod:`logradar.archive.replay`."""
    from logradar.archive.replay import replay_archive
    from logradar.config import ConfigError, load_config
    from logradar.schema import InvalidStreamName, validate_stream_name

    try:
        if stream is not None:
            validate_stream_name(stream)
        settings = load_config(config_path, archive={"url": archive_url, "enabled": False})
        summary = replay_archive(
            settings,
            output,
            start_ns=parse_time(since, "--since"),
            end_ns=parse_time(until, "--until"),
            stream=stream,
        )
    except (ConfigError, InvalidStreamName, ValueError, OSError) as e:
        raise click.ClickException(str(e).splitlines()[0]) from None
    click.echo(json.dumps(summary))
