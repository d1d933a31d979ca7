"""Timestamp parsing with format inference, vectorized.

:func:`parse_timestamps` looks at a sample of the column, picks the first known layout that
parses nearly all of it, then converts the whole column with Arrow kernels: a regex rewrite to
ISO-8601 followed by a cast, or ``strptime`` for layouts with month names. Values that do not
fit the chosen layout become null; a column that fits no layout becomes all null.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from logradar.schema import TIMESTAMP

SAMPLE = 200
MIN_SHARE = 0.9

_F = r"(?:[.,:](\d{1,9}))?"  # optional fraction
_TZ = r"\s*(Z|[+-]\d{2}:?\d{2})?"
_HMS = r"(\d{1,2}):(\d{1,2}):(\d{1,2})"


@dataclass(frozen=True, slots=True)
class _Layout:
    """An anchored RE2 ``pattern`` and how its groups become a time.

    Without ``strptime`` the groups are year, month, day, hour, minute, second, fraction and,
    when ``tz_group``, a UTC offset; fields may lack zero padding and two-digit years are
    20xx. With ``strptime`` the groups are joined by spaces and parsed with that format.
    """

    name: str
    pattern: str
    strptime: str | None = None
    tz_group: bool = False


_LAYOUTS = [
    # 2015-10-18 18:01:47,978 / 2020-01-01T00:00:00.123Z / 2020-01-01T00:00:00+01:00
    _Layout("iso", rf"^(\d{{4}})-(\d{{1,2}})-(\d{{1,2}})[T ]{_HMS}{_F}{_TZ}$", tz_group=True),
    # 2005-06-03-15.42.50.675872 (BGL)
    _Layout(
        "dashed",
        r"^(\d{4})-(\d{1,2})-(\d{1,2})-(\d{1,2})[.:](\d{1,2})[.:](\d{1,2})" + _F + "$",
    ),
    # 20171223-22:15:29:606 (HealthApp)
    _Layout("compact-dash", rf"^(\d{{4}})(\d{{2}})(\d{{2}})-{_HMS}{_F}$"),
    # 2005.06.03 15:42:50 / 2015/10/18 18:01:47
    _Layout("ymd-slash-dot", rf"^(\d{{4}})[/.](\d{{1,2}})[/.](\d{{1,2}})[ T]{_HMS}{_F}$"),
    # 081109 203615 (yyMMdd HHmmss)
    _Layout("yymmdd-hhmmss", r"^(\d{2})(\d{2})(\d{2})\s+(\d{2})(\d{2})(\d{2})()$"),
    # 17/06/09 20:10:40 (log4j yy/MM/dd)
    _Layout("yy/mm/dd", rf"^(\d{{2}})/(\d{{1,2}})/(\d{{1,2}})\s+{_HMS}{_F}$"),
    # [Sun Dec 04 04:47:44 2005] / Sun Dec 04 04:47:44 2005
    _Layout(
        "ctime",
        r"^\[?(?:[A-Za-z]{3}\s+)?([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}:\d{2}:\d{2})(?:[.,]\d+)?"
        r"\s+(\d{4})\]?$",
        strptime="%b %d %H:%M:%S %Y",
    ),
    # Jun 14 15:16:01 (syslog, no year: the current UTC year is assumed)
    _Layout(
        "syslog",
        r"^(?:[A-Za-z]{3}\s+)?([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}:\d{2}:\d{2})(?:[.,]\d+)?$",
        strptime="%b %d %H:%M:%S",
    ),
    # 03-17 16:13:38.811 (Android logcat), 10.30 16:49:06: month and day, no year
    _Layout("md", rf"^(\d{{1,2}})[-./](\d{{1,2}})\s+{_HMS}{_F}$"),
    # epoch seconds / ms / us / ns, optionally with a fraction
    _Layout("epoch", r"^(\d{9,10}|\d{12,13}|\d{15,16}|\d{18,19})(?:\.(\d{1,9}))?$"),
]


def _sample(values: pa.Array) -> pa.Array:
    valid = pc.drop_null(values)
    return valid.slice(0, SAMPLE)


def infer_layout(values: pa.Array) -> str | None:
    """Name of the first layout that matches at least 90 % of a sample, else None."""
    sample = _sample(values)
    if len(sample) == 0:
        return None
    for layout in _LAYOUTS:
        hits = pc.sum(pc.match_substring_regex(sample, layout.pattern)).as_py() or 0
        if hits >= MIN_SHARE * len(sample):
            return layout.name
    return None


def parse_timestamps(values: pa.Array | pa.ChunkedArray, layout: str | None = None) -> pa.Array:
    """Parse a string column to ``timestamp[ns, UTC]``; unparsable values are null.

    ``layout`` (a name from :func:`infer_layout`) skips inference, e.g. to reuse the layout
    inferred on the first batch of a stream.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.string())
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    values = pc.utf8_trim_whitespace(values)
    if layout is not None:
        return _parse(values, layout)
    parsed = _parse(values, infer_layout(values))
    # Mixed columns (e.g. JSON with both epochs and ISO strings): fill in with other layouts.
    for other in _LAYOUTS:
        if parsed.null_count == values.null_count:
            break
        rest = pc.if_else(pc.is_null(parsed), values, pa.scalar(None, pa.string()))
        if pc.any(pc.match_substring_regex(rest, other.pattern)).as_py():
            parsed = pc.coalesce(parsed, _parse(rest, other.name))
    return parsed


def _parse(values: pa.Array, name: str | None) -> pa.Array:
    chosen = next((lay for lay in _LAYOUTS if lay.name == name), None)
    if chosen is None:
        return pa.nulls(len(values), TIMESTAMP)
    ok = pc.match_substring_regex(values, chosen.pattern)
    values = pc.if_else(ok, values, pa.scalar(None, pa.string()))
    if chosen.name == "epoch":
        return _epoch(values)
    if chosen.strptime is not None:
        return _strptime(values, chosen)
    if chosen.name == "md":
        return _latest_year(lambda year: _iso(_prefix(values, f"{year}-"), _MD_YEAR))
    return _iso(values, chosen)


_MD_YEAR = _Layout("md-year", rf"^(\d{{4}})-(\d{{1,2}})[-./](\d{{1,2}})\s+{_HMS}{_F}$")


def _prefix(values: pa.Array, text: str) -> pa.Array:
    return pc.binary_join_element_wise(pa.scalar(text), values, "")


def _latest_year(parse: Callable[[int], pa.Array]) -> pa.Array:
    """For layouts without a year: the current year, or the previous one for times more than
    a day ahead of now."""
    now = datetime.now(UTC)
    this = parse(now.year).cast(pa.int64())
    last = parse(now.year - 1).cast(pa.int64())
    ahead = pc.greater(this, pa.scalar(int(now.timestamp() * 1e9) + 86_400 * 10**9, pa.int64()))
    return pc.if_else(ahead, last, this).cast(TIMESTAMP)


def _iso(values: pa.Array, layout: _Layout) -> pa.Array:
    # Fast path: Arrow's own ISO-8601 cast, after one regex rewrite for the other layouts;
    # it fails on unpadded fields or offsets, which the slower field-wise path handles.
    if layout.name == "iso":
        text, targets = pc.replace_substring(values, ",", "."), (pa.timestamp("ns"), TIMESTAMP)
    else:
        century = "20" if layout.pattern.startswith(r"^(\d{2})") else ""
        rewrite = century + r"\1-\2-\3T\4:\5:\6.\7"
        text = pc.utf8_rtrim(pc.replace_substring_regex(values, layout.pattern, rewrite), ".")
        targets = (pa.timestamp("ns"),)
    for target in targets:
        try:
            return text.cast(target).cast(pa.int64()).cast(TIMESTAMP)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    groups = _groups(values, layout.pattern)
    year = groups[0]
    year = pc.if_else(
        pc.equal(pc.utf8_length(year), 2), pc.binary_join_element_wise("20", year, ""), year
    )
    mo, d, h, mi, s = (pc.utf8_lpad(g, 2, "0") for g in groups[1:6])
    frac = pc.if_else(pc.equal(groups[6], ""), "", pc.binary_join_element_wise(".", groups[6], ""))
    iso = pc.binary_join_element_wise(year, "-", mo, "-", d, "T", h, ":", mi, ":", s, frac, "")
    naive = _cast_or_null(iso)
    if layout.tz_group:
        offset = _offset_seconds(groups[7])
        naive = pc.subtract(naive.cast(pa.int64()), pc.multiply(offset, 1_000_000_000))
        naive = naive.cast(pa.timestamp("ns"))
    return naive.cast(pa.int64()).cast(TIMESTAMP)


def _cast_or_null(iso: pa.Array) -> pa.Array:
    try:
        return iso.cast(pa.timestamp("ns"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Out-of-range fields (month 13, ...): parse without fraction, invalid ones null.
        head = pc.utf8_slice_codeunits(iso, 0, 19)
        return pc.strptime(head, format="%Y-%m-%dT%H:%M:%S", unit="ns", error_is_null=True)


def _offset_seconds(tz: pa.Array) -> pa.Array:
    """Seconds east of UTC from '', 'Z', '+01:00' or '-0530' ('' and 'Z' are UTC)."""
    tz = pc.replace_substring(pc.replace_substring_regex(tz, r"^Z?$", "+0000"), ":", "")
    sign = pc.if_else(pc.starts_with(tz, "-"), -1, 1)
    hours = pc.cast(pc.utf8_slice_codeunits(tz, 1, 3), pa.int64())
    minutes = pc.cast(pc.utf8_slice_codeunits(tz, 3, 5), pa.int64())
    seconds = pc.multiply(sign, pc.add(pc.multiply(hours, 3600), pc.multiply(minutes, 60)))
    return pc.fill_null(seconds, 0)


def _strptime(values: pa.Array, layout: _Layout) -> pa.Array:
    groups = _groups(values, layout.pattern)
    text = pc.binary_join_element_wise(*groups, " ")
    if "%Y" in layout.strptime:
        parsed = pc.strptime(text, format=layout.strptime, unit="ns", error_is_null=True)
        return parsed.cast(pa.int64()).cast(TIMESTAMP)
    fmt = "%Y " + layout.strptime
    return _latest_year(
        lambda year: pc.strptime(
            _prefix(text, f"{year} "), format=fmt, unit="ns", error_is_null=True
        )
    )


def _groups(values: pa.Array, pattern: str) -> list[pa.Array]:
    """The capturing groups of ``pattern`` as string arrays (named g0, g1, ...)."""
    named: list[str] = []
    i = k = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            named.append(pattern[i : i + 2])
            i += 2
            continue
        if pattern[i] == "(" and not pattern.startswith("(?", i):
            named.append(f"(?P<g{k}>")
            k += 1
        else:
            named.append(pattern[i])
        i += 1
    struct = pc.extract_regex(values, "".join(named))
    return struct.flatten()


def _epoch(values: pa.Array) -> pa.Array:
    parts = _groups(values, _LAYOUTS[-1].pattern)
    whole = pc.cast(parts[0], pa.int64())
    digits = pc.utf8_length(parts[0])
    scale = pc.if_else(
        pc.less_equal(digits, 10),
        1_000_000_000,
        pc.if_else(
            pc.less_equal(digits, 13), 1_000_000, pc.if_else(pc.less_equal(digits, 16), 1_000, 1)
        ),
    )
    ns = pc.multiply(whole, scale)
    frac = pc.utf8_rpad(pc.fill_null(parts[1], ""), 9, "0")
    frac_ns = pc.cast(pc.utf8_slice_codeunits(frac, 0, 9), pa.int64())
    ns = pc.add(ns, pc.if_else(pc.equal(scale, 1_000_000_000), frac_ns, 0))
    return ns.cast(TIMESTAMP)
