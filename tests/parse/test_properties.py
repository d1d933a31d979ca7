"""Parsing never raises, whatever the text (hypothesis), and the reader survives bad bytes."""

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logradar.parse.formats import LogFormat, detect_level
from logradar.parse.masking import mask_forms
from logradar.parse.reader import iter_line_batches
from logradar.parse.templates import TemplateMiner

FORMATS = [
    None,
    "<Date> <Time> <Level> <Component>: <Content>",
    "\\[<Time>\\] \\[<Level>\\] <Content>",
    "json",
    "syslog",
]
lines = st.lists(st.one_of(st.text(max_size=300), st.none()), max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=lines, spec=st.sampled_from(FORMATS))
def test_split_and_parse_never_raise(batch: list[str | None], spec: str | None) -> None:
    table = LogFormat.compile(spec).split(pa.array(batch, pa.string()))
    assert table.num_rows == len(batch)
    assert table["message"].null_count == 0
    miner = TemplateMiner()
    out = miner.parse(table["message"])
    assert out.null_count == 0
    assert miner.match(table["message"]).to_pylist() == out.to_pylist()
    assert len(miner.params(table["message"], out)) == len(batch)
    restored = TemplateMiner.from_state_dict(miner.state_dict())
    assert restored.match(table["message"]).to_pylist() == out.to_pylist()


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=2000))
def test_reader_decodes_arbitrary_bytes(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("bytes") / "log.txt"
    path.write_bytes(data)
    got = [line for b in iter_line_batches(path, block_bytes=64) for line in b.to_pylist()]
    text = data.decode("utf-8", "replace")
    expected = text.removesuffix("\n").split("\n") if text else []
    assert got == [s.removesuffix("\r") for s in expected]


def test_invalid_utf8_and_huge_lines(tmp_path) -> None:
    path = tmp_path / "bad.log"
    huge = b"x" * (1024 * 1024) + b" 42 \xff\xfe end"
    path.write_bytes(b"ok line 1\r\n\xc3\x28 broken \xa0\xa1 2\n" + huge + b"\nlast")
    got = [line for b in iter_line_batches(path, block_bytes=4096) for line in b.to_pylist()]
    assert got[0] == "ok line 1"
    assert got[1] == "\ufffd( broken \ufffd\ufffd 2"
    assert len(got[2]) > 1024 * 1024 and got[2].endswith("42 \ufffd\ufffd end")
    assert got[3] == "last"
    miner = TemplateMiner()
    fmt = LogFormat.compile("<Date> <Content>")
    messages = fmt.split(pa.array(got))["message"]
    out = miner.parse(messages)
    assert out.null_count == 0 and len(set(out.to_pylist())) == 4
    assert miner.params(messages, out).to_pylist()[2] == ["42"]
    whole = pa.array([got[2]])
    assert miner.params(whole, miner.parse(whole)).to_pylist() == [["42"]]


#: Pieces that stress level detection against masking: level words and tags next to digits,
#: units, day names, joins and exception names with digits.
_LEVEL_PIECES = st.sampled_from(
    ["INFO", "ERROR", "WARN", "error", "[", "]", "<", ">", "level=", "severity:", '"', " ",
     "5", "-", ".", "_", "x", "ms", " s", "Mon", "Jan", "S3Exception:", "IOException:",
     "Traceback (most recent call last)", "é", ",", "=", "\t"]
)  # fmt: skip


@given(st.lists(st.lists(_LEVEL_PIECES, max_size=10).map("".join), max_size=30))
def test_level_from_masked_forms_equals_level_from_messages(messages: list[str]) -> None:
    array = pa.array(messages, pa.string())
    assert detect_level(array, mask_forms(array)).equals(detect_level(array))
