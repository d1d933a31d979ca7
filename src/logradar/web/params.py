"""Typed query parameters of the API and the UI: ``stream``, ``since`` and ``limit``.

``since`` takes ISO-8601 with a zone (``2024-03-01T12:00:00Z``), epoch seconds
(``1709294400``) or a duration back from now (``90s``, ``15m``, ``2h``, ``1d``, ``1w``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from starlette.datastructures import QueryParams

from logradar.schema import now_ns, validate_stream_name

_DURATION = re.compile(r"^(\d{1,9})\s*([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_EPOCH_SECONDS = re.compile(r"^\d{1,12}(\.\d{1,9})?$")
_SPACED_OFFSET = re.compile(r" (\d\d:?\d\d)$")  # '+01:00' whose '+' a query string made ' '
_MAX_NS = int(datetime(9999, 12, 31, tzinfo=UTC).timestamp()) * 10**9


class QueryError(ValueError):
    """A query parameter is invalid; the message names it and is meant for the client."""


def parse_since(value: str, now: int) -> int:
    """``value`` (see the module docstring) as ns since the epoch; ``now`` anchors durations.

    Times before the epoch are clamped to 0 (everything); an unreadable value raises
    :class:`ValueError`.
    """
    text = value.strip()
    if m := _DURATION.match(text):
        ns = now - int(m[1]) * _UNIT_SECONDS[m[2]] * 10**9
    elif _EPOCH_SECONDS.match(text):
        whole, _, frac = text.partition(".")
        ns = int(whole) * 10**9 + int(frac.ljust(9, "0") or 0)
    else:
        try:
            dt = datetime.fromisoformat(_SPACED_OFFSET.sub(r"+\1", text))
        except ValueError:
            raise ValueError(
                f"{value[:40]!r} is not ISO-8601, epoch seconds or a duration like 15m, 2h, 1d"
            ) from None
        if dt.tzinfo is None:
            raise ValueError(f"{value[:40]!r} has no time zone (add Z or +00:00)")
        ns = int(dt.timestamp()) * 10**9 + dt.microsecond * 1000
    if ns > _MAX_NS:
        raise ValueError(f"{value[:40]!r} is after the year 9999")
    return max(ns, 0)


def _since(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return parse_since(str(value), now_ns())


def _checked_since(value: str) -> str:
    parse_since(value, 0)
    return value


def _stream(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return validate_stream_name(str(value))


Since = Annotated[int | None, BeforeValidator(_since)]
"""ns since the epoch, or None when not given."""
Stream = Annotated[str | None, BeforeValidator(_stream)]
Limit = Annotated[int, Field(ge=1, le=1000)]


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AnomalyQuery(_Query):
    stream: Stream = None
    since: Since = None
    limit: Limit = 100


class VolumeQuery(_Query):
    stream: Stream = None
    since: Since = None

    @property
    def since_ns(self) -> int:
        """``since``, or one hour ago when not given."""
        return parse_since("1h", now_ns()) if self.since is None else self.since


class AlertQuery(_Query):
    limit: Limit = 100


class PageQuery(_Query):
    stream: Stream = None
    since: Annotated[str, AfterValidator(_checked_since)] = "24h"
    """Kept as text so the form shows what was chosen; see :attr:`since_ns`."""

    @property
    def since_ns(self) -> int:
        return parse_since(self.since, now_ns())


Q = TypeVar("Q", bound=_Query)


def parse_query(model: type[Q], params: QueryParams) -> Q:
    """Validate ``params`` into ``model``; raise :class:`QueryError` naming the first problem."""
    try:
        return model.model_validate(dict(params))
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "query"
        msg = str(err["ctx"]["error"]) if err["type"] == "value_error" else err["msg"]
        raise QueryError(f"invalid {where}: {msg}") from None
