"""Masking: replace the variable parts of log messages by ``<*>``, vectorized.

One default rule set, no per-system regexes. A run of letters and digits that contains a
digit is a variable, together with the ``.``/``-`` joined runs after it that contain digits
too, and an optional unit: numbers, decimals, IPs and versions (``10.0.0.1`` -> ``<*>``),
dates, hex ids, UUIDs, sizes and durations (``5.2 KB``, ``12ms``). A leading ``-`` is part of
the number unless it follows a letter or digit (``blk_-42`` -> ``blk_<*>``, ``db-replica-1`` ->
``db-replica-<*>``); a unit is taken only when it is a whole word (``pct=1 seconds=2`` ->
``pct=<*> seconds=<*>``). Other characters stay, so ``/10.0.0.1:8080``
becomes ``/<*>:<*>``, ``user=42`` ``user=<*>``, ``core.2275`` ``core.<*>`` and
``attempt_1445_0020_m_0`` ``attempt_<*>_<*>_m_<*>``. Variables without digits (user names,
host names) are left to the template miner, which generalizes words that vary.

The whole mask is one RE2 pass (``pyarrow.compute.replace_substring_regex``) over the Arrow
array, so the cost is one linear scan of the bytes.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

WILDCARD = "<*>"

_UNITS = r"(?:[KMGTP]i?B|B|bytes|ms|us|ns|sec|secs|seconds|s|min|mins|minutes|h|hrs|hours)"
_DAYS_MONTHS = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"

#: Group 1: the character before the variable (kept, so ``db-replica-1`` keeps its ``-``; a
#: ``-`` right after a letter or digit is never a minus sign). Then a digit-bearing
#: alphanumeric run, the ``.``/``-`` joined runs after it, and an optional space-separated
#: unit that must end the word (group 2, kept: ``seconds=1`` is a key, not a unit).
MASK_PATTERN = (
    r"(^|[^A-Za-z0-9]|)(?:-?[A-Za-z0-9]*\d[A-Za-z0-9]*(?:[.\-][A-Za-z0-9]*\d[A-Za-z0-9]*)*"
    rf"(?:\s{_UNITS}([^=\w]|$))?|\b{_DAYS_MONTHS}\b)"
)
_REPLACEMENT = r"\1<*>\2"

#: The same masks without capturing groups (RE2 then extracts no submatches: faster). It takes
#: a leading ``-`` even after a letter or digit, which :data:`_HYPHEN` puts back on the
#: distinct forms (a value right after a letter or digit can only come from such a ``-``), and
#: a unit before ``=`` too, so lines with :data:`_UNIT_KEY` are masked with :data:`MASK_PATTERN`.
_FAST_PATTERN = (
    r"-?[A-Za-z0-9]*\d[A-Za-z0-9]*(?:[.\-][A-Za-z0-9]*\d[A-Za-z0-9]*)*"
    rf"(?:\s{_UNITS}\b)?|\b{_DAYS_MONTHS}\b"
)
_HYPHEN = (r"([A-Za-z0-9])<\*>", r"\1-<*>")
_UNIT_KEY = rf"\d\s{_UNITS}="


def mask(messages: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Return the messages with every variable replaced by ``<*>`` (nulls stay null)."""
    if not pa.types.is_string(messages.type) and not pa.types.is_large_string(messages.type):
        messages = messages.cast(pa.string())
    return pc.replace_substring_regex(messages, pattern=MASK_PATTERN, replacement=_REPLACEMENT)


def mask_forms(messages: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
    """The masked messages, dictionary-encoded: each distinct masked form once (in order of
    first appearance), an index per line; nulls become ``""``. What the template miner looks
    up, and what level detection reads (see :func:`logradar.parse.levels.detect_level`).

    Equal to ``dictionary_encode(mask(messages))``, made with the faster capture-free pattern
    and the ``-`` fix applied to the distinct forms only.
    """
    if isinstance(messages, pa.ChunkedArray):
        messages = messages.combine_chunks() if messages.num_chunks else pa.array([], pa.string())
    if not pa.types.is_string(messages.type):
        messages = messages.cast(pa.string())
    masked = pc.replace_substring_regex(messages, pattern=_FAST_PATTERN, replacement=WILDCARD)
    keyed = pc.fill_null(pc.match_substring_regex(messages, _UNIT_KEY), False)
    if pc.any(keyed).as_py():
        exact = pc.replace_substring_regex(
            messages.filter(keyed), pattern=MASK_PATTERN, replacement=_REPLACEMENT
        )
        masked = pc.replace_with_mask(masked, keyed, exact)
    encoded = pc.dictionary_encode(pc.fill_null(masked, ""))
    forms = pc.replace_substring_regex(
        encoded.dictionary, pattern=_HYPHEN[0], replacement=_HYPHEN[1]
    )
    unique = pc.unique(forms)
    if len(unique) == len(forms):
        return pa.DictionaryArray.from_arrays(encoded.indices, forms)
    remap = pc.index_in(forms, value_set=unique).cast(encoded.indices.type)
    return pa.DictionaryArray.from_arrays(remap.take(encoded.indices), unique)


def mask_text(message: str) -> str:
    """Mask one message (the slow path, for tests and single lines)."""
    return mask(pa.array([message], pa.string()))[0].as_py()
