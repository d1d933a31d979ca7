"""The time range of the UI views: a preset (``?range=24h``) or a custom ``?from=&to=``.

``from``/``to`` take what ``since`` takes (ISO-8601 with a zone, epoch seconds, or a duration
back from now such as ``2h``); ``to`` also takes ``now``. Without ``from``/``to`` the preset
ends now, unless the newest stored data is older than the preset reaches: then it ends at
that data, so a replayed history shows up without editing the URL (``follows_data``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from logradar.web.params import QueryError, parse_since

PRESETS = {"15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
DEFAULT_PRESET = "24h"
S = 10**9


@dataclass(frozen=True, slots=True)
class TimeRange:
    since_ns: int
    until_ns: int
    preset: str | None
    """The preset used, or None for a custom from/to."""
    follows_data: bool
    """The preset was moved back to end at the newest data."""
    from_text: str = ""
    to_text: str = ""

    def query(self) -> dict[str, str]:
        """The URL parameters that reproduce this range."""
        if self.preset is not None:
            return {} if self.preset == DEFAULT_PRESET else {"range": self.preset}
        return {k: v for k, v in (("from", self.from_text), ("to", self.to_text)) if v}

    def url(self, path: str, **params: str | None) -> str:
        """``path`` with this range and ``params`` (None values left out) as query string."""
        merged = {**self.query(), **{k: v for k, v in params.items() if v}}
        return path + ("?" + urlencode(merged) if merged else "")


def _point(name: str, value: str, now_ns: int) -> int:
    if name == "to" and value.strip().lower() == "now":
        return now_ns
    try:
        return parse_since(value, now_ns)
    except ValueError as e:
        raise QueryError(f"invalid {name}: {e}") from None


def resolve_range(params: QueryParams, now_ns: int, data_end_ns: int | None) -> TimeRange:
    """The range the query asks for; :class:`QueryError` when it is invalid."""
    start, end = params.get("from", "").strip(), params.get("to", "").strip()
    if start or end:
        until = _point("to", end, now_ns) if end else now_ns
        since = _point("from", start, now_ns) if start else until - PRESETS[DEFAULT_PRESET] * S
        if since >= until:
            raise QueryError("invalid from: it must be before to")
        return TimeRange(since, until, None, False, start, end)
    preset = params.get("range", DEFAULT_PRESET)
    if preset not in PRESETS:
        raise QueryError(f"invalid range: {preset[:20]!r}; use one of {', '.join(PRESETS)}")
    length = PRESETS[preset] * S
    follows = data_end_ns is not None and data_end_ns < now_ns - length
    until = data_end_ns if follows and data_end_ns is not None else now_ns
    return TimeRange(until - length, until, preset, follows)
