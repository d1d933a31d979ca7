"""Header formats: split raw lines into the message and its header fields, vectorized.

A :class:`LogFormat` is compiled once from a spec:

- ``None`` (or ``'auto'``): the header is detected from the lines themselves (see
  :mod:`logradar.parse.headers`): learned from the first lines of each header shape seen,
  then applied vectorized; it yields ``component``, ``ts`` and ``level``;
- ``'line'``: the whole line is the message;
- loghub notation, e.g. ``'<Date> <Time> <Level> <Component>: <Content>'``: ``<Name>`` is a
  field, ``<Content>`` the message; the text between fields is a regex fragment (``\\[``,
  ``\\|``), a run of spaces matches any run of whitespace;
- ``'json'`` or ``'json:<field>'``: JSON object per line, message in ``field`` (default
  ``message``, else ``msg`` or ``log``); common time and level keys are read too;
- ``'syslog'``: RFC 5424 and RFC 3164 (with or without ``<PRI>``).

:meth:`LogFormat.split` never drops a line: a line whose header does not match keeps its raw
text as ``message`` and gets ``header_ok`` false.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from logradar.parse.headers import Header
from logradar.parse.headers import field as header_field
from logradar.parse.headers import learn as learn_header
from logradar.parse.headers import ts_text as header_ts_text
from logradar.parse.levels import SYSLOG_SEVERITY, detect_level, normalize_level
from logradar.parse.timestamps import infer_layout, parse_timestamps
from logradar.schema import TIMESTAMP

__all__ = ["LogFormat", "detect_level", "parse_timestamps"]

RESERVED = ("message", "ts", "level", "header_ok")
#: ``auto``: at most this many header shapes are learned per format (one per stream shape).
MAX_LEARN_ATTEMPTS = 16
#: ``auto``: a new shape is learned when at least this many lines (or half a batch) miss.
LEARN_MIN_LINES = 20
CONTENT = "Content"
_LEVEL_NAMES = ("level", "severity", "loglevel", "log_level", "lvl")
_TIME_WORDS = ("date", "time", "timestamp", "datetime", "day", "month", "year", "ts")
_JSON_TS = ("@timestamp", "timestamp", "ts", "time", "datetime", "date")
_JSON_LEVEL = ("level", "severity", "loglevel", "log_level", "lvl")
_JSON_MESSAGE = ("message", "msg", "log")

_SYSLOG_5424 = (
    r"^<(?P<pri>\d{1,3})>\d{1,2} (?P<timestamp>\S+) (?P<host>\S+) (?P<app>\S+) "
    r"(?P<procid>\S+) (?P<msgid>\S+) (?:-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (?:\x{FEFF})?"
    r"(?P<Content>.*))?$"
)
_SYSLOG_3164 = (
    r"^(?:<(?P<pri>\d{1,3})>)?(?P<timestamp>[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}) "
    r"(?P<host>\S+) (?P<app>[^:\[\s]+)(?:\[(?P<procid>[^\]]*)\])?: ?(?P<Content>.*)$"
)
_SYSLOG_FIELDS = ("host", "app", "procid", "msgid")


def _strings(lines: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks() if lines.num_chunks else pa.array([], pa.string())
    if not pa.types.is_string(lines.type):
        lines = lines.cast(pa.string())
    return lines


def _check_re2(pattern: str) -> None:
    """Raise ValueError when RE2 (the engine Arrow uses) rejects ``pattern``."""
    try:
        pc.extract_regex(pa.array([""], pa.string()), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise ValueError(f"log format gives an invalid regex: {e}") from None


class _Parts(NamedTuple):
    """What a kind's split found: message, header fields, time, level (None: not given), ok."""

    message: pa.Array
    columns: dict[str, pa.Array]
    ts: pa.Array
    level: pa.Array | None
    ok: pa.Array


@dataclass(eq=False)
class LogFormat:
    """A compiled header format; see the module docstring."""

    spec: str | None
    kind: str
    fields: tuple[str, ...] = ()
    pattern: str | None = None
    json_field: str | None = None
    fast_pattern: str | None = None
    """``pattern`` with each field limited to the characters before its separator (RE2
    extracts such groups faster); rows it misses are retried with ``pattern``."""
    _time: tuple[tuple[str, ...], str] | None = field(default=None, repr=False)
    _headers: list[Header] = field(default_factory=list, repr=False)
    """Headers learned so far (``auto``), tried in order."""
    _learn_attempts: int = field(default=0, repr=False)

    @classmethod
    def compile(cls, spec: str | None) -> LogFormat:
        """Compile ``spec``; an invalid spec raises ValueError with the reason."""
        if spec is None or not spec.strip() or spec.strip() == "auto":
            return cls(spec, "auto", fields=("component",))
        text = spec.strip()
        if text == "line":
            return cls(spec, "line")
        if text == "json" or text.startswith("json:"):
            name = text[5:].strip() if ":" in text else None
            if name == "":
                raise ValueError("log format 'json:<field>' needs a field name after 'json:'")
            return cls(spec, "json", json_field=name)
        if text == "syslog":
            for p in (_SYSLOG_5424, _SYSLOG_3164):
                _check_re2(p)
            return cls(spec, "syslog", fields=_SYSLOG_FIELDS)
        return cls._compile_loghub(spec)

    @classmethod
    def _compile_loghub(cls, spec: str) -> LogFormat:
        parts = re.split(r"(<[^<>]*>)", spec)
        fields: list[str] = []
        regex = []
        fast = []
        for k, part in enumerate(parts):
            if k % 2 == 0:
                regex.append(_non_capturing(re.sub(" +", r"\\s+", part)))
                fast.append(regex[-1])
                continue
            name = part[1:-1]
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(
                    f"invalid field {part!r} in log format {spec!r}: "
                    "names are letters, digits and '_'"
                )
            if name in fields:
                raise ValueError(f"field <{name}> appears twice in log format {spec!r}")
            if name in RESERVED:
                raise ValueError(
                    f"field name <{name}> is reserved for the output; use another name"
                )
            fields.append(name)
            regex.append(f"(?P<{name}>.*?)")
            fast.append(f"(?P<{name}>{_field_class(parts[k + 1], k + 2 == len(parts))})")
        if CONTENT not in fields:
            raise ValueError(
                f"log format {spec!r} has no <Content> field (the message part of the line)"
            )
        pattern = "(?s)^" + "".join(regex) + "$"
        try:
            re.compile(pattern)
        except re.error as e:
            raise ValueError(f"log format {spec!r} is not a valid pattern: {e}") from None
        _check_re2(pattern)
        fast_pattern = "(?s)^" + "".join(fast) + "$"
        _check_re2(fast_pattern)
        return cls(
            spec,
            "regex",
            fields=tuple(f for f in fields if f != CONTENT),
            pattern=pattern,
            fast_pattern=fast_pattern,
        )

    @property
    def columns(self) -> list[str]:
        """Output column names of :meth:`split`, in order."""
        return ["message", *self.fields, "ts", "level", "header_ok"]

    def split(self, lines: pa.Array | pa.ChunkedArray, *, detect_levels: bool = True) -> pa.Table:
        """Split lines into ``message``, header fields, ``ts``, ``level`` and ``header_ok``.

        Trailing whitespace (including ``\r``) is removed first. ``level`` is the header's,
        else (unless ``detect_levels`` is False: the caller detects) read from the message.
        """
        lines = pc.utf8_rtrim_whitespace(_strings(lines))
        if self.kind == "line":
            parts = _Parts(lines, {}, pa.nulls(len(lines), TIMESTAMP), None, pc.is_valid(lines))
        elif self.kind == "auto":
            parts = self._split_auto(lines)
        elif self.kind == "json":
            parts = self._split_json(lines)
        elif self.kind == "syslog":
            parts = self._split_syslog(lines)
        else:
            parts = self._split_regex(lines)
        return self._table(parts, detect_levels)

    # Kinds --------------------------------------------------------------------------------
    def _split_regex(self, lines: pa.Array) -> _Parts:
        struct = pc.extract_regex(lines, self.fast_pattern)
        names = [struct.type.field(i).name for i in range(struct.type.num_fields)]
        columns = dict(zip(names, struct.flatten(), strict=True))
        ok = pc.fill_null(struct.is_valid(), False)
        retry = pc.and_(pc.invert(ok), pc.is_valid(lines))
        if self.fast_pattern != self.pattern and pc.any(retry).as_py():
            exact = pc.extract_regex(lines.filter(retry), self.pattern)
            for name, values in zip(names, exact.flatten(), strict=True):
                columns[name] = pc.replace_with_mask(columns[name], retry, values)
            ok = pc.replace_with_mask(ok, retry, pc.fill_null(exact.is_valid(), False))
        content = columns.pop(CONTENT)
        message = pc.if_else(ok, content, lines)
        ts = self._header_ts(columns, ok)
        level = None
        for name in self.fields:
            if name.lower() in _LEVEL_NAMES:
                level = normalize_level(columns[name])
                break
        return _Parts(message, columns, ts, level, ok)

    def _header_ts(self, columns: dict[str, pa.Array], ok: pa.Array) -> pa.Array:
        n = len(ok)
        if self._time is None:
            self._time = self._infer_time(columns, ok)
        if self._time is None:
            return pa.nulls(n, TIMESTAMP)
        names, layout = self._time
        text = columns[names[0]]
        if len(names) > 1:
            text = pc.binary_join_element_wise(*(columns[k] for k in names), " ")
        text = pc.if_else(ok, text, pa.scalar(None, pa.string()))
        return parse_timestamps(text, layout=layout)

    def _infer_time(
        self, columns: dict[str, pa.Array], ok: pa.Array
    ) -> tuple[tuple[str, ...], str] | None:
        timely = [k for k in self.fields if any(w in k.lower() for w in _TIME_WORDS)]
        candidates = ([tuple(timely)] if len(timely) > 1 else []) + [(k,) for k in timely]
        for names in candidates:
            text = pc.binary_join_element_wise(*(columns[k] for k in names), " ")
            text = pc.filter(text, ok)
            if len(text) == 0:
                return None
            layout = infer_layout(text)
            if layout is not None:
                return names, layout
        return None

    def _split_auto(self, lines: pa.Array) -> _Parts:
        n = len(lines)
        null = pa.scalar(None, pa.string())
        message, ok = lines, pa.array([False] * n, pa.bool_())
        component = level = pa.nulls(n, pa.string())
        ts = pa.nulls(n, TIMESTAMP)
        k = 0
        while True:
            if k == len(self._headers):
                left = pc.and_(pc.invert(ok), pc.is_valid(lines))
                unmatched = pc.sum(left).as_py() or 0
                if not unmatched or self._learn_attempts >= MAX_LEARN_ATTEMPTS:
                    break
                if self._headers and unmatched < max(LEARN_MIN_LINES, n // 2):
                    break
                self._learn_attempts += 1
                header = learn_header(lines.filter(left))
                if header is None:
                    break
                self._headers.append(header)
            header = self._headers[k]
            k += 1
            struct = pc.extract_regex(lines, header.pattern)
            hit = pc.and_(pc.fill_null(struct.is_valid(), False), pc.invert(ok))
            if not pc.any(hit).as_py():
                continue
            message = pc.if_else(hit, struct.field("Content"), message)
            found_level = header_field(struct, "level")
            if found_level is not None:
                level = pc.if_else(hit, found_level, level)
            found_component = header_field(struct, "component")
            if found_component is not None:
                found_component = pc.utf8_trim(found_component, "[]():| ")
                component = pc.if_else(hit, found_component, component)
            if header.layout is not None:
                text = pc.if_else(hit, header_ts_text(struct), null)
                ts = pc.coalesce(ts, parse_timestamps(text, layout=header.layout))
            ok = pc.or_(ok, hit)
        level = normalize_level(pc.if_else(pc.equal(level, ""), null, level))
        return _Parts(message, {"component": component}, ts, level, ok)

    def _split_syslog(self, lines: pa.Array) -> _Parts:
        new = pc.extract_regex(lines, _SYSLOG_5424)
        old = pc.extract_regex(lines, _SYSLOG_3164)
        new_ok = pc.fill_null(new.is_valid(), False)
        old_ok = pc.fill_null(old.is_valid(), False)
        a = dict(zip([f.name for f in new.type], new.flatten(), strict=True))
        b = dict(zip([f.name for f in old.type], old.flatten(), strict=True))
        b["msgid"] = pa.nulls(len(lines), pa.string())
        null = pa.scalar(None, pa.string())
        columns = {}
        for name in _SYSLOG_FIELDS:
            value = pc.if_else(new_ok, a[name], pc.if_else(old_ok, b[name], null))
            columns[name] = pc.if_else(pc.equal(value, "-"), null, value)
        columns["procid"] = pc.if_else(pc.equal(columns["procid"], ""), null, columns["procid"])
        ok = pc.or_(new_ok, old_ok)
        message = pc.if_else(new_ok, a[CONTENT], pc.if_else(old_ok, b[CONTENT], lines))
        ts_new = parse_timestamps(pc.if_else(new_ok, a["timestamp"], null), layout="iso")
        ts_old = parse_timestamps(pc.if_else(old_ok, b["timestamp"], null), layout="syslog")
        ts = pc.if_else(new_ok, ts_new, ts_old)
        pri = pc.if_else(new_ok, a["pri"], pc.if_else(old_ok, b["pri"], null))
        pri = pc.if_else(pc.equal(pri, ""), null, pri)
        severity = pc.bit_wise_and(pc.cast(pri, pa.int64()), 7)
        level = pc.take(pa.array(SYSLOG_SEVERITY, pa.string()), severity)
        return _Parts(message, columns, ts, level, ok)

    def _split_json(self, lines: pa.Array) -> _Parts:
        records = _json_records(lines)
        keys = (self.json_field and (self.json_field,)) or _JSON_MESSAGE
        n = len(lines)
        message, ts_text, level_text, ok = [], [], [], []
        for raw, rec in zip(lines.to_pylist(), records, strict=True):
            msg = None
            if isinstance(rec, dict):
                msg = _first(rec, keys)
            if msg is None:
                message.append(raw)
                ts_text.append(None)
                level_text.append(None)
                ok.append(False)
                continue
            message.append(msg if isinstance(msg, str) else json.dumps(msg, ensure_ascii=False))
            ts_text.append(_json_str(_first(rec, _JSON_TS)))
            level_text.append(_json_str(_first(rec, _JSON_LEVEL)))
            ok.append(True)
        ts = parse_timestamps(pa.array(ts_text, pa.string())) if n else pa.nulls(0, TIMESTAMP)
        level = normalize_level(pa.array(level_text, pa.string()))
        return _Parts(pa.array(message, pa.string()), {}, ts, level, pa.array(ok, pa.bool_()))

    # Assembly -----------------------------------------------------------------------------
    def _table(self, parts: _Parts, detect_levels: bool) -> pa.Table:
        message, columns, ts, level, ok = parts
        message = pc.fill_null(message, "")
        if not detect_levels:
            level = pa.nulls(len(message), pa.string()) if level is None else level
        elif level is None:
            level = detect_level(message)
        else:  # detect only where the header gave no (known) level
            missing = pc.is_null(level)
            if pc.any(missing).as_py():
                level = pc.replace_with_mask(level, missing, detect_level(message.filter(missing)))
        data = {"message": message}
        for name in self.fields:
            data[name] = columns[name]
        data.update(ts=ts.cast(TIMESTAMP), level=level, header_ok=ok)
        return pa.table(data)


def _first(record: dict[str, object], keys: tuple[str, ...]) -> object:
    return next((record[k] for k in keys if record.get(k) is not None), None)


def _non_capturing(fragment: str) -> str:
    """Turn the plain groups of a regex fragment into non-capturing ones (Arrow needs every
    capturing group named; loghub formats use e.g. ``(\\[<PID>\\])?``)."""
    out, i = [], 0
    while i < len(fragment):
        c = fragment[i]
        if c == "\\":
            out.append(fragment[i : i + 2])
            i += 2
            continue
        out.append("(?:" if c == "(" and not fragment.startswith("(?", i) else c)
        i += 1
    return "".join(out)


_REGEX_META = set(".^$*+?()[]{}|\\")


def _field_class(literal: str, last: bool) -> str:
    """Fast pattern of a field followed by ``literal`` (a regex fragment)."""
    if last and literal == "":
        return ".*"
    if literal.startswith(" "):
        return r"\S*"
    if len(literal) >= 2 and literal[0] == "\\" and not literal[1].isalnum():
        return f"[^\\{literal[1]}]*"
    if literal and not literal[0].isalnum() and literal[0] not in _REGEX_META:
        return f"[^\\{literal[0]}]*"
    return ".*?"


def _json_str(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return value if isinstance(value, str) else str(value)


def _json_records(lines: pa.Array) -> list[object]:
    """Decode each line as JSON (per line: JSON lines are the one non-vectorized format)."""
    out: list[object] = []
    for v in lines.to_pylist():
        try:
            out.append(json.loads(v) if v else None)
        except ValueError:
            out.append(None)
    return out
