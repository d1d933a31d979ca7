"""``loads`` (orjson, else the standard library) and ``labels_json``: the receivers' JSON."""

from __future__ import annotations

import json
import math

import pytest

from logradar.schema import labels_json
from logradar.sources.common import loads


@pytest.mark.parametrize(
    "text",
    ['{"a": [1, 2.5, "x", null, true]}', '"caf\\u00e9"', '{"a": 1, "a": 2}', "[]"],
)
def test_loads_equals_the_standard_library(text):
    assert loads(text) == json.loads(text)
    assert loads(text.encode()) == json.loads(text)


def test_what_orjson_refuses_the_standard_library_still_reads():
    assert loads('"\\ud800"') == "\ud800"  # a lone surrogate; receivers replace it later
    assert math.isnan(loads("NaN"))
    assert loads(b'"caf\xe9"') == "caf\ufffd"  # invalid UTF-8 bytes are replaced
    with pytest.raises(json.JSONDecodeError):
        loads("{oops")
    with pytest.raises(RecursionError):
        loads("[" * 100_000 + "]" * 100_000)


def test_labels_json_sorts_keys_and_keeps_lone_surrogates_escaped():
    assert labels_json({"b": "2", "a": "é"}) == '{"a":"é","b":"2"}'
    assert labels_json({}) is None
    stored = labels_json({"k": "\ud800"})
    assert stored is not None and stored.isascii() and json.loads(stored) == {"k": "\ud800"}
