"""The Loki protobuf reader's column fast path gives exactly what the per-entry reading gives.

The reference reads each entry through the protobuf objects (the documented semantics: the
last occurrence of a singular field wins, absent fields are defaults); the receiver reads the
column view whenever it can prove the columns line up. Bodies include what breaks alignment:
empty lines, whole-second times, missing timestamps, structured metadata, out-of-range times,
and a field written twice in one entry (non-canonical, but valid protobuf).
"""

from __future__ import annotations

import cramjam
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logradar.config import LokiSourceConfig
from logradar.schema import labels_json
from logradar.sources.common import IngestError, decode_text
from logradar.sources.loki import _from_protobuf, _Push, parse_selector
from logradar.sources.proto.logproto import PushRequest

entries = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(0, 4_000_000_000), st.integers(-5, 2**63 - 1)),
        st.integers(-(2**31), 2**31 - 1) | st.sampled_from([0, 1, 999_999_999]),
        st.binary(max_size=20) | st.just(b""),
        st.lists(st.tuples(st.binary(max_size=4), st.binary(max_size=4)), max_size=2) | st.just([]),
        st.booleans(),  # write the line field a second time (last one wins)
    ),
    max_size=8,
)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def encode(streams: list[list[tuple]]) -> bytes:
    """A push body; an entry marked ``twice`` gets its line field written again (with a
    different value) after its other fields: valid protobuf, not what an encoder writes."""
    body = b""
    for k, stream in enumerate(streams):
        adapter = PushRequest().streams.add(labels=f'{{job="j{k}"}}'.encode())
        data = _field(1, adapter.labels)
        for seconds, nanos, line, metadata, twice in stream:
            entry = adapter.entries.add(line=line)
            if seconds is not None:
                entry.timestamp.seconds, entry.timestamp.nanos = seconds, nanos
            for name, value in metadata:
                entry.structuredMetadata.add(name=name, value=value)
            raw = entry.SerializeToString()
            data += _field(2, raw + (_field(2, line + b"!") if twice else b""))
        body += _field(1, data)
    return body


def reference(body: bytes) -> list[dict]:
    rows = []
    for stream in PushRequest.FromString(body).streams:
        labels = parse_selector(decode_text(stream.labels))
        for entry in stream.entries:
            stamp = entry.timestamp
            meta = {decode_text(p.name): decode_text(p.value) for p in entry.structuredMetadata}
            rows.append(
                {
                    "ts": stamp.seconds * 1_000_000_000 + stamp.nanos,
                    "message": decode_text(entry.line),
                    "labels": labels_json({**labels, **meta}),
                }
            )
    return rows


def received(body: bytes) -> list[dict] | str:
    push = _Push(LokiSourceConfig(), max_labels=128)
    try:
        _from_protobuf(_snappy(body), push, 10**8)
    except IngestError as e:
        return e.reason
    if not push.tables:
        return []
    table = pa.concat_tables(push.tables)
    ts = table.column("ts").cast(pa.int64()).to_pylist()
    return [
        {"ts": t, "message": m, "labels": lab}
        for t, m, lab in zip(
            ts, table.column("message").to_pylist(), table.column("labels").to_pylist(), strict=True
        )
    ]


def _snappy(body: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(body))


@settings(max_examples=300, deadline=None)
@given(st.lists(entries, min_size=1, max_size=3))
def test_columns_equal_per_entry_reading(streams):
    body = encode(streams)
    expected = reference(body)
    got = received(body)
    if any(not 0 <= row["ts"] < 2**63 for row in expected):
        assert isinstance(got, str) and "out of range" in got
    else:
        assert got == expected


@pytest.mark.parametrize("nanos", [1, 0])
def test_both_paths_are_used(monkeypatch, nanos):
    """Whole-second times leave nanos off the wire: the per-entry path must take over."""
    from logradar.sources import loki

    calls = []
    real = loki._entry_columns
    monkeypatch.setattr(loki, "_entry_columns", lambda *a: calls.append(r := real(*a)) or r)
    body = encode(
        [[(1_700_000_000 + i, nanos * (i + 1), b"line %d" % i, [], False) for i in range(5)]]
    )
    assert received(body) == reference(body)
    assert (calls[0] is not None) == bool(nanos)
