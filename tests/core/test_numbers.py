"""Numeric tokens found over bytes equal the plain definition: split, then match each token."""

import random
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from logradar.engine.numbers import NUMBER, numeric_tokens, split_tokens


def reference(messages: list[str | None]) -> list[tuple[int, int, float]]:
    """(row, position, value) by splitting each message with the regex and matching tokens."""
    out = []
    for row, text in enumerate(messages):
        if text is None:
            continue
        for position, token in enumerate(re.split(r"[^0-9A-Za-z_.\-]+", text, flags=re.ASCII)):
            if re.fullmatch(NUMBER, token, flags=re.ASCII):
                out.append((row, position, float(token)))
    return out


def found(array: pa.Array) -> list[tuple[int, int, float]]:
    t = numeric_tokens(array)
    assert t.row.dtype == np.int64 and t.position.dtype == np.int64
    return list(zip(t.row.tolist(), t.position.tolist(), t.value.tolist(), strict=True))


def test_examples():
    messages = ["blk_-42 took 17.5 ms, code=-3", " 7", "", "1.2.3 v2 -0.5 1e5 12-3 .5 5.", None]
    assert found(pa.array(messages)) == [
        (0, 2, 17.5),
        (0, 5, -3.0),
        (1, 1, 7.0),
        (3, 2, -0.5),
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_messages_and_slices(seed):
    rnd = random.Random(seed)
    alphabet = "ab9Z-._ ,\t\n:=/0123é€😀\\"
    texts = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 14))) for _ in range(3000)]
    messages = [*texts, None, "", "", "5", "blk_-42 took 17.5 ms, code=-3", ""]
    array = pa.array(messages)
    assert found(array) == reference(messages)
    part = array.slice(11, 900)
    assert found(part) == reference(messages[11:911])
    assert found(pa.array([], pa.string())) == []
    assert found(pa.chunked_array([array.slice(0, 10), array.slice(10, 5)])) == reference(
        messages[:15]
    )


@given(st.lists(st.one_of(st.none(), st.text(alphabet="0123456789.-_aZ =é\n", max_size=12))))
def test_any_messages(messages):
    assert found(pa.array(messages, pa.string())) == reference(messages)


@pytest.mark.parametrize("seed", [0, 1])
def test_split_tokens_equals_the_regex_split(seed):
    rnd = random.Random(seed)
    alphabet = "ab9Z-._ ,\t\n:=/0é€😀\\"
    texts = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 14))) for _ in range(3000)]
    messages = pa.array([*texts, None, "", "blk_-42 took 17.5 ms, code=-3"])
    for array in (messages, messages.slice(11, 900), pa.array([], pa.string())):
        expected = pc.split_pattern_regex(array, r"[^0-9A-Za-z_.\-]+")
        assert split_tokens(array).equals(expected)
