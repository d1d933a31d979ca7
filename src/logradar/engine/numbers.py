"""Numeric tokens of log messages: the values the parameter detector watches.

A message's *tokens* are the runs of :data:`TOKEN_CHARS`; anything else separates them. A
token's *position* is its index in ``pc.split_pattern_regex(message, "[^0-9A-Za-z_.\\-]+")``
(so a message starting with a separator has an empty token 0). A token is *numeric* when it
matches :data:`NUMBER` as a whole, so digit runs inside ids (hex, ``tx_6e3c3e4412``,
``blk_-42``) are not values.

The split is done by Arrow kernels (which release the GIL while the receivers run): the bytes
are mapped through a table, separators to spaces, then split on whitespace runs, several times
faster than the regex split. Only tokens whose first byte is a digit or ``-`` are matched
against :data:`NUMBER`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Token characters; anything else (every byte of a non-ASCII character too) separates tokens.
TOKEN_CHARS = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_.-"
NUMBER = r"^-?\d+(?:\.\d+)?$"
_NUMERIC_START = np.zeros(256, dtype=bool)
_NUMERIC_START[np.frombuffer(b"0123456789-", dtype=np.uint8)] = True
#: Byte -> itself for token characters, else a space (for ``bytes.translate``).
_TO_TOKENS = bytes(b if b in TOKEN_CHARS else ord(" ") for b in range(256))


@dataclass(frozen=True, slots=True)
class NumericTokens:
    """Parallel arrays, one entry per numeric token, in message order."""

    row: np.ndarray
    """Index of the message the token is in."""
    position: np.ndarray
    """The token's index among its message's tokens (see module doc)."""
    value: np.ndarray
    """The token as a float64."""


def split_tokens(messages: pa.StringArray) -> pa.ListArray:
    """Each message's tokens, the same as ``pc.split_pattern_regex(messages,
    "[^0-9A-Za-z_.\\-]+")`` (an empty first or last token where a message starts or ends with a
    separator)."""
    validity, offsets, data = messages.buffers()[:3]
    if data is None:
        return pc.split_pattern(messages, " ")
    spaced = data.to_pybytes().translate(_TO_TOKENS)
    mapped = pa.Array.from_buffers(
        messages.type,
        len(messages),
        [validity, offsets, pa.py_buffer(spaced)],
        messages.null_count,
        messages.offset,
    )
    return pc.ascii_split_whitespace(mapped)


def numeric_tokens(messages: pa.StringArray | pa.ChunkedArray) -> NumericTokens:
    """The numeric tokens of ``messages`` (nulls have none)."""
    if isinstance(messages, pa.ChunkedArray):
        messages = messages.combine_chunks()
    tokens = split_tokens(messages)
    flat = pc.list_flatten(tokens)
    if len(flat) == 0:
        return NumericTokens(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    row = pc.list_parent_indices(tokens).to_numpy()
    offsets = tokens.offsets.to_numpy()
    position = np.arange(len(flat)) - (offsets[row] - offsets[0])
    # only tokens starting with a digit or '-' can be numbers: find them by each token's
    # first byte, and run the regex on those alone
    bounds = np.frombuffer(flat.buffers()[1], dtype=np.int32)[flat.offset :][: len(flat) + 1]
    nonempty = bounds[1:] > bounds[:-1]
    first = np.zeros(len(flat), dtype=np.uint8)
    first[nonempty] = np.frombuffer(flat.buffers()[2], dtype=np.uint8)[bounds[:-1][nonempty]]
    candidate = np.flatnonzero(_NUMERIC_START[first])
    texts = flat.take(pa.array(candidate))
    numeric = pc.match_substring_regex(texts, NUMBER).to_numpy(zero_copy_only=False)
    value = pc.cast(texts.filter(pa.array(numeric)), pa.float64()).to_numpy()
    keep = candidate[numeric]
    return NumericTokens(row[keep].astype(np.int64), position[keep].astype(np.int64), value)
