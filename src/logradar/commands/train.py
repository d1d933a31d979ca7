"""``logradar train``: learn baselines from the Parquet archive (see :mod:`logradar.engine.train`).

The result goes to ``<data_dir>/state/trained.json``; a running ``logradar up`` on that data
dir adopts it within one engine step, and a later start adopts it at once.
"""

from __future__ import annotations

from pathlib import Path

import click

from logradar.commands.options import parse_time


@click.command("train")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="LOGRADAR_CONFIG",
    help="TOML configuration file (env LOGRADAR_CONFIG); use the server's.",
)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help="State folder.")
@click.option(
    "--archive", "archive_url", help="Read this archive (folder, s3://, obs://); default: config."
)
@click.option("--from", "start", help="Start: ISO-8601, epoch seconds or a duration ago (7d).")
@click.option("--to", "end", help="End (exclusive), same forms; default: everything.")
@click.option("--stream", help="Only this stream.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
def train_command(
    config_path: Path | None,
    data_dir: Path | None,
    archive_url: str | None,
    start: str | None,
    end: str | None,
    stream: str | None,
    progress: bool,
) -> None:
    """Build or refresh the detectors' baselines from the archive (a time range)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from logradar.config import ConfigError, load_config
    from logradar.engine.train import NothingToTrain, train
    from logradar.schema import InvalidStreamName, validate_stream_name

    try:
        settings = load_config(config_path, data_dir=data_dir, archive={"url": archive_url})
        if stream is not None:
            validate_stream_name(stream)
    except (ConfigError, InvalidStreamName) as e:
        raise click.ClickException(str(e)) from None
    archive = settings.archive_url.removeprefix("file://")
    if "://" not in archive and not Path(archive).is_dir():  # do not create it by looking
        raise click.ClickException(
            f"no archive at {archive}: give the data dir (or --config) of a logradar that ran"
        )
    start_ns, end_ns = parse_time(start, "--from"), parse_time(end, "--to")
    if start_ns is not None and end_ns is not None and end_ns <= start_ns:
        raise click.BadParameter("must be after --from", param_hint="--to")
    console = Console(stderr=True)
    bar = Progress(
        TextColumn("training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("lines"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not progress,
    )
    with bar:
        task = bar.add_task("train", total=None)
        try:
            result = train(
                settings,
                start_ns=start_ns,
                end_ns=end_ns,
                stream=stream,
                on_total=lambda n: bar.update(task, total=n),
                progress=lambda n: bar.advance(task, n),
            )
        except NothingToTrain as e:
            raise click.ClickException(str(e)) from None
    console.print(
        f"trained on {result.lines:,} lines in {result.hours} hour partitions; templates "
        f"{result.templates_before:,} -> {result.templates_after:,}; wrote {result.path} "
        "(a running engine on this data dir adopts it within a step; see its log)"
    )
