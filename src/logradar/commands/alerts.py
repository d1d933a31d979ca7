"""``logradar alerts test|list``: try a receiver, show the open incidents.

Both read the configuration (``--config`` / ``LOGRADAR_*``); ``list`` reads the store it
names. Heavy modules (channels, SQLAlchemy) are imported inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from logradar.config import Settings

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="LOGRADAR_CONFIG",
    help="TOML configuration file (env LOGRADAR_CONFIG).",
)
DATA_DIR_OPTION = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Where state lives."
)


def _settings(config_path: Path | None, data_dir: Path | None = None) -> Settings:
    from logradar.config import ConfigError, load_config

    try:
        return load_config(config_path, data_dir=data_dir)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None


@click.group("alerts")
def alerts_group() -> None:
    """Incident alerting: test a receiver, list open incidents."""


@alerts_group.command("test")
@click.option("--receiver", "name", required=True, help="Name of an [[alerts.receivers]] entry.")
@CONFIG_OPTION
def test_command(name: str, config_path: Path | None) -> None:
    """Send a test notification to receiver NAME and print the channel's answer."""
    settings = _settings(config_path)
    cfg = settings.alerts
    receivers = {r.name: r for r in cfg.receivers}
    if name not in receivers:
        known = ", ".join(receivers) or "none configured"
        raise click.ClickException(f"no receiver named {name!r} in [alerts] (receivers: {known})")
    kind = receivers[name].type
    from logradar.alerts.channels import ChannelError, build_channel
    from logradar.alerts.payload import test_notification

    channel = build_channel(receivers[name], cfg)
    payload = test_notification(str(cfg.ui_url) if cfg.ui_url else None)
    try:
        answer = channel.send({**payload, "receiver": name})
    except ChannelError as e:
        raise click.ClickException(f"{kind} receiver {name!r} failed: {e}") from None
    click.echo(f"{name} ({kind}) answered: {answer}")


@alerts_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Resolved incidents too.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per incident.")
@CONFIG_OPTION
@DATA_DIR_OPTION
def list_command(
    show_all: bool, limit: int, as_json: bool, config_path: Path | None, data_dir: Path | None
) -> None:
    """Show open (firing) incidents, most recently seen first."""
    settings = _settings(config_path, data_dir)
    from logradar.store import Store

    try:
        store = Store(settings.store_url)
    except Exception as e:  # e.g. PostgreSQL unreachable
        raise click.ClickException(f"cannot open the store: {e}") from None
    try:
        rows = store.list_incidents(status=None if show_all else "firing", limit=limit)
    finally:
        store.close()
    if as_json:
        for row in rows:
            click.echo(json.dumps(row.to_dict()))
        return
    if not rows:
        click.echo("no open incidents" if not show_all else "no incidents")
        return
    for row in rows:
        d = row.to_dict()
        flags = f" [{d['suppressed']}]" if d["suppressed"] else ""
        click.echo(
            f"#{d['id']:<5} {d['status']:<8} {d['severity']:<8} {d['stream']}: {d['summary']}"
            f"  ({d['anomaly_count']} anomalies, {d['first_seen']} .. {d['last_seen']}){flags}"
        )
