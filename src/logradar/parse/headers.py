"""Header detection without a format: learn a line prefix's shape from the first lines.

A header is a sequence of *elements* at the start of a line: a timestamp (ISO-8601, syslog,
ctime, ``HH:MM:SS(.fff)``, epoch, log4j ``yy/MM/dd``, ``yyMMdd HHmmss``, nginx/Go ``yyyy/MM/dd``,
glog ``I0101 12:00:00.000``, ...), optionally in brackets, then levels (``INFO``, ``[warn]``,
``<ERROR>``), bracketed fields (``[main]``, ``[pid 12]``, one level of nesting), process ids,
``host app[pid]:``, ``a.b.Component:`` and ``-``/``|`` separators.

:func:`learn` looks at a sample of lines and, element by element, keeps the first element
kind that matches nearly all of them (:data:`MIN_SHARE`) at the current position; the result
is one anchored RE2 regex with named groups ``ts``, ``level``, ``component`` and ``Content``,
applied to whole batches with ``extract_regex`` (vectorized). A header must contain a
timestamp or a level, so an ordinary message is never taken for one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from logradar.parse.timestamps import infer_layout

#: Share of the sample an element must match to be part of the header.
MIN_SHARE = 0.9
#: Lines looked at to learn a header.
SAMPLE = 200
MAX_ELEMENTS = 8

_FRAC = r"(?:[.,:]\d{1,9})?"
_HMS = r"\d{1,2}:\d{1,2}:\d{1,2}"
_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
#: Timestamp shapes at the start of a line (the first that fits the sample is used).
TIMESTAMPS = {
    "iso": rf"\d{{4}}-\d{{1,2}}-\d{{1,2}}[T ]{_HMS}{_FRAC}(?:\s?(?:Z|[+-]\d{{2}}:?\d{{2}}))?",
    "dashed": rf"\d{{4}}-\d{{2}}-\d{{2}}-\d{{2}}[.:]\d{{2}}[.:]\d{{2}}{_FRAC}",
    "compact-dash": rf"\d{{8}}-{_HMS}{_FRAC}",
    "ymd-slash-dot": rf"\d{{4}}[/.]\d{{1,2}}[/.]\d{{1,2}}[ T]{_HMS}{_FRAC}",
    "yymmdd-hhmmss": r"\d{6}\s+\d{6}",
    "yy/mm/dd": rf"\d{{2}}/\d{{1,2}}/\d{{1,2}}\s+{_HMS}{_FRAC}",
    "ctime": rf"(?:{_DAY}\s+)?{_MON}\s+\d{{1,2}}\s+{_HMS}{_FRAC}\s+\d{{4}}",
    "syslog": rf"{_MON}\s+\d{{1,2}}\s+{_HMS}{_FRAC}",
    "md": rf"\d{{1,2}}-\d{{1,2}}\s+{_HMS}{_FRAC}",
    "glog": rf"[DIWEF]\d{{4}}\s+{_HMS}{_FRAC}",
    "clf": rf"\d{{1,2}}/{_MON}/\d{{4}}:{_HMS}(?:\s[+-]\d{{4}})?",
    "clock": rf"{_HMS}{_FRAC}",
    "epoch": r"\d{10}(?:\.\d{1,9})?|\d{13}",
}
_LEVEL_WORDS = (
    r"(?i:trace|debug|info|information|notice|warn|warning|error|err|crit|critical|fatal|"
    r"severe|emerg|emergency|alert|fine|finer|finest|config|dbg|inf|wrn|eror|erro)"
)
_NESTED = r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]"
#: Element kinds after (or instead of) the timestamp, tried in this order at each position.
ELEMENTS = {
    "level": rf"[\[<(]?(?P<level>{_LEVEL_WORDS})\b[\]>)]?:?",
    "bracket": rf"(?:{_NESTED}|\((?:[^()])*\))",
    "pid": r"\d+(?:#\d+)?:?",
    "dash": r"[-|]",
    "host_app": r"[\w.-]+\s+[\w./-]+(?:\[\d+\])?:",
    "app": r"[\w./-]+\[\d+\]:",
    "field": r"[\w.$/-]+\|",
    "source": r"[\w./-]+:\d+\]",
    "component": r"[A-Za-z_][\w.$/-]*(?:\[[^\]\s]*\])?:",
}
#: Element kinds whose text is the component.
_COMPONENT_KINDS = ("bracket", "component", "app", "host_app", "field", "source")


@dataclass(frozen=True)
class Header:
    """A learned header: the anchored ``pattern`` and the timestamp layout (if any)."""

    pattern: str
    elements: tuple[str, ...]
    layout: str | None


def _share(lines: pa.Array, pattern: str) -> float:
    return (pc.sum(pc.match_substring_regex(lines, pattern)).as_py() or 0) / max(len(lines), 1)


def learn(lines: pa.Array) -> Header | None:
    """The header shared by nearly all of ``lines`` (a sample), None if there is none."""
    sample = pc.drop_null(lines).slice(0, SAMPLE)
    if len(sample) == 0:
        return None
    parts: list[str] = []
    elements: list[str] = []
    layout = None
    sep = r"\s*"
    for name, ts in TIMESTAMPS.items():
        p = rf"^(?:\[(?P<ts>{ts})\]|(?P<ts2>{ts}))(?:\s+|$|[|,:]\s*)"
        if _share(sample, p) >= MIN_SHARE:
            parts.append(rf"(?:\[(?P<ts>{ts})\]|(?P<ts2>{ts}))(?:\s+|$|\|\s*)")
            elements.append("ts:" + name)
            layout = name
            break
    component_taken = False
    for _ in range(MAX_ELEMENTS):
        prefix = "^" + "".join(parts)
        for kind, element in ELEMENTS.items():
            if kind == "level" and "level" in elements:
                continue
            if not elements and kind not in ("level", "bracket"):
                continue  # a header starts with a time, a level or a bracket
            if kind == "host_app" and elements != ["ts:syslog"]:
                continue  # "host app[pid]:" only right after a syslog time
            fragment = element
            if kind in _COMPONENT_KINDS and not component_taken:
                fragment = f"(?P<component>{element})"
            candidate = prefix + fragment + r"(?:\s+|$)" if kind != "field" else prefix + fragment
            if kind in ("level", "component", "field"):
                candidate = prefix + fragment + sep
            if _share(sample, candidate) >= MIN_SHARE:
                parts.append(candidate[len(prefix) :])
                elements.append(kind)
                component_taken = component_taken or "(?P<component>" in fragment
                break
        else:
            break
    if not any(e.startswith("ts:") or e == "level" for e in elements):
        return None
    pattern = "(?s)^" + "".join(parts) + "(?P<Content>.*)$"
    if layout is not None:
        layout = _time_layout(sample, pattern)
    return Header(pattern, tuple(elements), layout)


def _time_layout(sample: pa.Array, pattern: str) -> str | None:
    return infer_layout(ts_text(pc.extract_regex(sample, pattern)))


def ts_text(struct: pa.StructArray) -> pa.Array:
    """The timestamp text of an ``extract_regex`` result (bracketed or not)."""
    a, b = field(struct, "ts"), field(struct, "ts2")
    return pc.if_else(pc.equal(pc.fill_null(a, ""), ""), b, a)


def field(struct: pa.StructArray, name: str) -> pa.Array | None:
    """A named group of an ``extract_regex`` result, None when the header has no such group."""
    for i in range(struct.type.num_fields):
        if struct.type.field(i).name == name:
            return struct.field(i)
    return None
