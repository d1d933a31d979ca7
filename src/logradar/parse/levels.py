"""Severity levels: normalize a level field, or detect the level from the message text.

Normalized levels are ``debug``, ``info``, ``notice``, ``warn``, ``error`` and ``fatal``.
Detection is deliberately conservative: it only trusts an explicit level word written in
upper case (``ERROR``, ``WARN``, ...), a bracketed or ``level=`` level in any case
(``[error]``, ``level=warning``), or an exception class name followed by ``:``
(``java.io.IOException:``, ``ValueError:``) or a Python ``Traceback``. Words such as
"failed" or "error" inside prose do not set a level.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

LEVELS = ("debug", "info", "notice", "warn", "error", "fatal")

_ALIASES = {
    "trace": "debug",
    "debug": "debug",
    "dbg": "debug",
    "verbose": "debug",
    "fine": "debug",
    "finer": "debug",
    "finest": "debug",
    "info": "info",
    "information": "info",
    "informational": "info",
    "notice": "notice",
    "warn": "warn",
    "warning": "warn",
    "err": "error",
    "error": "error",
    "severe": "error",
    "failure": "error",
    "crit": "fatal",
    "critical": "fatal",
    "fatal": "fatal",
    "alert": "fatal",
    "emerg": "fatal",
    "emergency": "fatal",
    "panic": "fatal",
    # single letters (Android logcat and the like); only ever read from a level field
    "v": "debug",
    "d": "debug",
    "i": "info",
    "w": "warn",
    "e": "error",
    "f": "fatal",
}
_KEYS = pa.array(list(_ALIASES), pa.string())
_VALUES = pa.array(list(_ALIASES.values()), pa.string())

#: Syslog severity (PRI % 8) to normalized level.
SYSLOG_SEVERITY = ("fatal", "fatal", "fatal", "error", "warn", "notice", "info", "debug")

_WORDS = "TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|SEVERE|CRIT|CRITICAL|FATAL|EMERG|PANIC"
_UPPER = rf"(?:^|[^\w])(?P<lvl>{_WORDS})(?:$|[^\w])"
_TAGGED = (
    r"(?i)(?:\[|<|level\s*[=:]\s*\"?|severity\s*[=:]\s*\"?)(?P<lvl>"
    + _WORDS.lower()
    + r"|warning|information)(?:\]|>|\"|\s|,|$)"
)
_EXCEPTION = r"(?:\b[A-Za-z_][\w.$]*(?:Exception|Error)\b:|^Traceback \(most recent call last\))"


def normalize_level(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Map level strings (any case, common aliases) to normalized levels; unknown -> null."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.string())
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    key = pc.utf8_lower(pc.utf8_trim_whitespace(values))
    return pc.take(_VALUES, pc.index_in(key, value_set=_KEYS))


def detect_level(
    messages: pa.Array | pa.ChunkedArray, masked: pa.DictionaryArray | None = None
) -> pa.StringArray:
    """Level read from the message text itself, null when the text does not say.

    ``masked``, the messages' :func:`~logradar.parse.masking.mask_forms`, makes it cheaper:
    an upper-case level word contains no digits and stands between non-word characters, and
    masking only replaces digit-bearing runs (and day or month names) by ``<*>``, itself
    between non-word characters, so the word reads the same from the masked form, once per
    distinct form. Tags (``level=`` glued to digits is masked away) and exception names
    (``S3Exception:``) are always read from the messages.
    """
    if isinstance(messages, pa.ChunkedArray):
        messages = messages.combine_chunks() if messages.num_chunks else pa.array([], pa.string())
    if masked is None:
        upper = normalize_level(pc.extract_regex(messages, _UPPER).flatten()[0])
    else:
        words = pc.extract_regex(masked.dictionary, _UPPER).flatten()[0]
        upper = normalize_level(words).take(masked.indices)
    tagged = normalize_level(pc.extract_regex(messages, _TAGGED).flatten()[0])
    exception = pc.if_else(
        pc.match_substring_regex(messages, _EXCEPTION),
        pa.scalar("error"),
        pa.scalar(None, pa.string()),
    )
    return pc.coalesce(tagged, upper, exception)
