"""``logradar tank consumers``: list the tank's consumers, or drop one that no longer runs."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group("tank")
def tank_group() -> None:
    """Inspect the durable tank."""


@tank_group.command("consumers")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="LOGRADAR_CONFIG",
    help="TOML configuration file (env LOGRADAR_CONFIG); use the server's.",
)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help="State folder.")
@click.option(
    "--engine",
    type=click.Choice(["local", "spark"]),
    default="local",
    show_default=True,
    help="The engine `up` runs (decides which consumer is in use).",
)
@click.option("--drop", "drop", metavar="NAME", help="Forget this consumer.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def consumers_command(
    config_path: Path | None,
    data_dir: Path | None,
    engine: str,
    drop: str | None,
    as_json: bool,
) -> None:
    """List the consumers with their committed offset and lag; those not in use by this
    configuration do not hold retention back. ``--drop NAME`` forgets one."""
    from logradar.config import ConfigError, load_config
    from logradar.tank import TankError, open_tank
    from logradar.tank.consumers import active_consumers, describe

    try:
        settings = load_config(config_path, data_dir=data_dir)
        tank = open_tank(settings)
    except (ConfigError, TankError) as e:
        raise click.ClickException(str(e)) from None
    try:
        active = active_consumers(settings, engine)
        if drop is not None:
            if drop in active:
                raise click.ClickException(
                    f"consumer {drop!r} is in use by this configuration; disable it first"
                )
            if not tank.drop_consumer(drop):
                raise click.ClickException(f"no consumer named {drop!r}")
            click.echo(f"dropped consumer {drop}")
            return
        rows = describe(tank, active)
    finally:
        tank.close()
    if as_json:
        click.echo(json.dumps(rows))
        return
    click.echo(f"{'NAME':<20} {'COMMITTED':>12} {'LAG':>12}  STATE")
    for row in rows:
        state = "in use" if row["active"] else "not in use (does not hold retention)"
        click.echo(f"{row['name']:<20} {row['committed']:>12} {row['lag']:>12}  {state}")
