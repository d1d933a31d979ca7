"""Property tests: the syslog parser and TCP framer never fail, whatever the bytes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from logradar.schema import validate_stream_name
from logradar.sources.syslog import _Framer, parse_syslog, stream_for

NOW = 1_700_000_000 * 10**9

# Bytes biased towards syslog syntax so the parser's deeper branches get exercised.
SYSLOG_ISH = st.lists(
    st.one_of(
        st.sampled_from(
            [b"<13>", b"<191>", b"<0>", b"1 ", b"- ", b"[", b"]", b'="', b"\\", b'"', b" ",
             b"2003-10-11T22:14:15.003Z ", b"Oct 11 22:14:15 ", b"host ", b"app[12]: ",
             b"x@1", b"\xef\xbb\xbf", b"\xff", b"\n", b"\r\n", b"\x00"]
        ),
        st.binary(max_size=20),
    ),
    max_size=30,
).map(b"".join)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(SYSLOG_ISH)
def test_parse_never_raises_and_yields_valid_fields(raw: bytes) -> None:
    msg = parse_syslog(raw, NOW)
    assert isinstance(msg.message, str)
    assert isinstance(msg.ts_ns, int)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in msg.labels.items())
    validate_stream_name(stream_for(msg.app))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_app_name_becomes_a_valid_stream(app: str) -> None:
    validate_stream_name(stream_for(app))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=10), st.data())
def test_octet_framing_reassembles_frames_however_split(frames: list[bytes], data) -> None:
    wire = b"".join(str(len(f)).encode() + b" " + f for f in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    framer = _Framer()
    out: list[bytes] = []
    for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        out += framer.feed(wire[a:b])
    assert out == frames
    assert framer.close() == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=20))
def test_framer_survives_garbage(chunks: list[bytes]) -> None:
    framer = _Framer()
    total = sum(len(c) for c in chunks)
    out: list[bytes] = []
    for chunk in chunks:
        out += framer.feed(chunk)
    out += framer.close()
    assert sum(len(f) for f in out) <= total
