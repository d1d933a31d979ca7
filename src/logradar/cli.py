"""The ``logradar`` command line.

Start-up stays fast (``--help``, ``--version`` well under a second): this module and the
command modules under :mod:`logradar.commands` import only click and the standard library
at the top; everything heavy (config/pydantic, pyarrow, numpy, scipy, scikit-learn, the web
stack, httpx, rich) is imported inside the command function that needs it.
``tests/core/test_cli_imports.py`` fails when one of them leaks into ``import logradar.cli``.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from logradar.commands.alerts import alerts_group
from logradar.commands.feedback import expected_command, mute_command, unmute_command
from logradar.commands.parse import parse_command, patterns_command
from logradar.commands.results import anomalies_command, incidents_command
from logradar.commands.search import search_command
from logradar.commands.send import send_command
from logradar.commands.spark import spark_group
from logradar.commands.tail import tail_command
from logradar.commands.tank import tank_group
from logradar.commands.train import train_command

if TYPE_CHECKING:
    from logradar.config import Settings

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="LOGRADAR_CONFIG",
    help="TOML configuration file (env LOGRADAR_CONFIG).",
)


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


def settings_or_exit(config_path: Path | None, **overrides: Any) -> Settings:
    """The settings from file + environment + overrides, or a one-line CLI error."""
    from logradar.config import ConfigError, load_config

    try:
        return load_config(config_path, **overrides)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="logradar")
def main() -> None:
    """logradar: real-time log anomaly detection.

    Ingest logs (Huawei LTS, Loki push, Elasticsearch bulk, OTLP/HTTP, syslog, NDJSON and
    text, file tail, LTS pull), keep them durably, archive them as Parquet, mine templates,
    detect anomalies and alert — in one process (or with the engine on Spark).
    """


@main.command()
@CONFIG_OPTION
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help="State folder.")
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="TCP port (default 8080).")
@click.option("--webhook", "webhooks", multiple=True, help="Webhook URL for alerts (repeatable).")
@click.option(
    "--engine",
    type=click.Choice(["local", "spark"]),
    default="local",
    show_default=True,
    help="Run detection in-process, or as a Spark Structured Streaming job (needs Java 17+).",
)
@click.option("--spark-master", help="Spark master URL for --engine spark (default local[*]).")
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM certificate: serve HTTPS (with --tls-key; server.tls_cert).",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM private key of --tls-cert (server.tls_key).",
)
def up(
    config_path: Path | None,
    data_dir: Path | None,
    host: str | None,
    port: int | None,
    webhooks: tuple[str, ...],
    engine: str,
    spark_master: str | None,
    tls_cert: Path | None,
    tls_key: Path | None,
) -> None:
    """Run the whole pipeline: receivers, tank, archive, engine, store, alerts and web UI."""
    server = {"host": host, "port": port, "tls_cert": tls_cert, "tls_key": tls_key}
    overrides: dict[str, Any] = {"data_dir": data_dir, "server": server}
    settings = settings_or_exit(config_path, **overrides)
    if webhooks:
        settings = settings_or_exit(
            config_path,
            **overrides,
            alerts={"webhooks": [*map(str, settings.alerts.webhooks), *webhooks]},
        )
    setup_logging(settings.log_level)
    from logradar.server import PortInUse, serve

    try:
        serve(settings, engine=engine, spark_master=spark_master)
    except (PortInUse, RuntimeError) as e:  # RuntimeError: SparkUnavailable (no Java, …)
        raise click.ClickException(str(e)) from None


@main.command()
@click.option("--port", type=int, default=8080, show_default=True, help="Port for the UI/API.")
@click.option(
    "--duration",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds to run; 0 runs until Ctrl-C.",
)
@click.option(
    "--incident-after",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds of live traffic before the database outage starts.",
)
@click.option(
    "--outage-seconds",
    type=click.FloatRange(min=1),
    default=40.0,
    show_default=True,
    help="How long the outage lasts before the database is back.",
)
@click.option(
    "--history-minutes",
    type=click.FloatRange(min=1),
    default=10.0,
    show_default=True,
    help="Minutes of normal history the engine learns from before live traffic.",
)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path))
def demo(
    port: int,
    duration: float,
    incident_after: float,
    outage_seconds: float,
    history_minutes: float,
    data_dir: Path | None,
) -> None:
    """Learn a small shop's normal logs, then run it live with an injected database outage:
    one incident with a handful of explained anomalies, then its resolution."""
    from logradar.demo.run import run_demo

    setup_logging("warning")
    run_demo(
        port=port,
        duration=duration,
        incident_after=incident_after,
        data_dir=data_dir,
        outage_seconds=outage_seconds,
        history_minutes=history_minutes,
    )


@main.command()
@click.option(
    "--train",
    "train",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Normal logs to learn from (or --archive).",
)
@click.option("--archive", "archive_url", help="Replay this archive (folder, s3://, obs://).")
@click.option("--since", help="With --archive: from (ISO-8601, epoch seconds, duration ago).")
@click.option("--until", help="With --archive: until (exclusive), same forms.")
@click.option("--stream", help="With --archive: only this stream.")
@click.option(
    "--test",
    "test",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Logs to score (default: score TRAIN after the warm-up).",
)
@click.option("--log-format", help="Header format, e.g. '<Date> <Time> <Level> <Content>'.")
@click.option("--session-key", help=r"Regex for the session id, e.g. 'blk_-?\d+'.")
@CONFIG_OPTION
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True)
@click.option("--spark-master", help="Spark master URL for --engine spark (default local[*]).")
@click.option(
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Anomalies as JSON lines.",
)
def backtest(
    train: Path | None,
    archive_url: str | None,
    since: str | None,
    until: str | None,
    stream: str | None,
    test: Path | None,
    log_format: str | None,
    session_key: str | None,
    config_path: Path | None,
    engine: str,
    spark_master: str | None,
    output: Path,
) -> None:
    """Run the detection engine over files (or the archive) and write every anomaly."""
    import contextlib
    import sys

    if archive_url is not None:
        from logradar.commands.search import archive_backtest

        if train is not None or test is not None or engine != "local":
            raise click.UsageError("--archive replays the archive: no --train/--test/--engine")
        archive_backtest(config_path, archive_url, since, until, stream, output)
        return
    if train is None:
        raise click.UsageError("give --train FILE (or --archive URL)")

    from logradar.backtest import run_backtest, terminal_progress

    progress, shown = None, contextlib.nullcontext()
    if sys.stderr.isatty():  # a progress bar on a terminal; the JSON summary stays on stdout
        progress, shown = terminal_progress()
    try:
        with shown:
            summary = run_backtest(
                train,
                test,
                output,
                log_format=log_format,
                session_key=session_key,
                config=config_path,
                engine=engine,
                progress=progress,
                spark_master=spark_master,
            )
    except (ValueError, FileNotFoundError, RuntimeError) as e:  # ValueError: incl. ConfigError
        raise click.ClickException(str(e)) from None  # incl. SparkUnavailable (no Java)
    click.echo(json.dumps(summary))


@main.command("config")
@CONFIG_OPTION
@click.option("--reference", is_flag=True, help="Print every setting with its default and meaning.")
def show_config(config_path: Path | None, reference: bool) -> None:
    """Validate the configuration (file + environment) and print the effective values."""
    if reference:
        from logradar.config_reference import reference as config_reference

        click.echo(config_reference(), nl=False)
        return
    settings = settings_or_exit(config_path)
    click.echo(json.dumps(settings.model_dump(mode="json"), indent=2))


main.add_command(parse_command, "parse")
main.add_command(patterns_command, "patterns")
main.add_command(send_command, "send")
main.add_command(tail_command, "tail")
main.add_command(train_command, "train")
main.add_command(expected_command, "expected")
main.add_command(mute_command, "mute")
main.add_command(unmute_command, "unmute")
main.add_command(spark_group)
main.add_command(tank_group)
main.add_command(search_command, "search")
main.add_command(alerts_group)
main.add_command(anomalies_command, "anomalies")
main.add_command(incidents_command, "incidents")
