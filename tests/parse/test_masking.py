import pyarrow as pa
import pytest

from logradar.parse.masking import mask, mask_text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Connected to 10.0.0.1:8080", "Connected to <*>:<*>"),
        ("from /10.251.73.220:50010", "from /<*>:<*>"),
        ("block blk_-6952295868487656571 done", "block blk_<*> done"),
        ("user=42 uid=0", "user=<*> uid=<*>"),
        ("generating core.2275", "generating core.<*>"),
        ("id 3f2a9c1e-1b2c-4d5e-8f90-123456789abc ok", "id <*> ok"),
        ("addr 0x7fff5fbff8a8", "addr <*>"),
        ("took 12ms and 5.2 KB", "took <*> and <*>"),
        ("version v1.2.3 on 2015-10-18 18:01:47,978", "version <*> on <*> <*>:<*>:<*>,<*>"),
        ("node R02-M1-N0-C:J12-U11", "node <*>-C:<*>"),
        ("attempt_1445144423722_0020_m_000000_0 done.", "attempt_<*>_<*>_m_<*>_<*> done."),
        ("[Sun Dec 04 04:47:44 2005] Monday", "[<*> <*> <*> <*>:<*>:<*> <*>] Monday"),
        ("no variables here", "no variables here"),
        ("", ""),
    ],
)
def test_mask_examples(text: str, masked: str) -> None:
    assert mask_text(text) == masked


def test_mask_keeps_nulls_and_chunks() -> None:
    arr = pa.chunked_array([["a 1", None], ["b 2"]])
    assert mask(arr).to_pylist() == ["a <*>", None, "b <*>"]
