"""Option parsing shared by commands."""

from __future__ import annotations

import click


def parse_time(value: str | None, name: str) -> int | None:
    """``value`` (ISO-8601 with a zone, epoch seconds or a duration ago) as ns; None stays
    None; a bad value is a usage error naming the option ``name``."""
    from logradar.schema import now_ns
    from logradar.web.params import parse_since

    if value is None:
        return None
    try:
        return parse_since(value, now_ns())
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=name) from None
