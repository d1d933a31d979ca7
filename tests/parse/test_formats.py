import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from logradar.parse.formats import LogFormat, detect_level, parse_timestamps

LOGHUB = Path(__file__).resolve().parents[3] / "shared/datasets/loghub-2k"
SYSTEMS = sorted(json.loads((LOGHUB / "formats.json").read_text()))


def ns(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp()) * 10**9


@pytest.mark.parametrize("system", SYSTEMS)
def test_loghub_headers_split_like_the_structured_csv(system: str) -> None:
    spec = json.loads((LOGHUB / "formats.json").read_text())[system]
    raw = (LOGHUB / system / f"{system}_2k.log").read_bytes().decode("utf-8", "replace")
    lines = raw.split("\n")[:200]  # CRLF files: split() trims the \r
    with open(LOGHUB / system / f"{system}_2k.log_structured.csv", encoding="utf-8") as f:
        rows = [r for _, r in zip(range(200), csv.DictReader(f), strict=False)]
    table = LogFormat.compile(spec).split(pa.array(lines))
    assert table["message"].to_pylist() == [r["Content"] for r in rows]
    assert all(table["header_ok"].to_pylist())
    assert table["ts"].null_count == 0
    assert table.schema.field("ts").type == pa.timestamp("ns", tz="UTC")


def test_malformed_header_keeps_the_raw_line() -> None:
    fmt = LogFormat.compile("<Date> <Time> <Level> <Component>: <Content>")
    lines = ["2015-10-18 18:01:47,978 INFO main: hello 1", "no header here", "", None]
    table = fmt.split(pa.array(lines, pa.string()))
    assert table.num_rows == 4
    assert table["message"].to_pylist() == ["hello 1", "no header here", "", ""]
    assert table["header_ok"].to_pylist() == [True, False, False, False]
    assert table["Level"].to_pylist() == ["INFO", None, None, None]
    assert table["level"].to_pylist()[0] == "info"
    assert table["ts"].cast(pa.int64()).to_pylist() == [
        ns(2015, 10, 18, 18, 1, 47) + 978 * 10**6,
        None,
        None,
        None,
    ]


def test_whole_line_format() -> None:
    table = LogFormat.compile("line").split(pa.array(["ERROR disk full", "all good"]))
    assert table.column_names == ["message", "ts", "level", "header_ok"]
    assert table["message"].to_pylist() == ["ERROR disk full", "all good"]
    assert table["level"].to_pylist() == ["error", None]


@pytest.mark.parametrize(
    "spec",
    [
        "<Date> <Time>",  # no Content
        "<Date> <Date> <Content>",
        "<Bad Name> <Content>",
        "<Date> ( <Content>",  # unbalanced regex
        "<level> <Content>",  # reserved output name
        "json:",
    ],
)
def test_invalid_specs_raise_value_error(spec: str) -> None:
    with pytest.raises(ValueError):
        LogFormat.compile(spec)


def test_json_lines() -> None:
    lines = [
        '{"message": "user 7 logged in", "level": "WARNING", "ts": "2020-01-02T03:04:05Z"}',
        '{"msg": "fallback key", "severity": "err", "time": 1577836800}',
        "not json at all",
        '{"other": 1}',
    ]
    table = LogFormat.compile("json").split(pa.array(lines))
    assert table["message"].to_pylist() == [
        "user 7 logged in",
        "fallback key",
        "not json at all",
        '{"other": 1}',
    ]
    assert table["header_ok"].to_pylist() == [True, True, False, False]
    assert table["level"].to_pylist()[:2] == ["warn", "error"]
    ts = table["ts"].cast(pa.int64()).to_pylist()
    assert ts[0] == ns(2020, 1, 2, 3, 4, 5)
    custom = LogFormat.compile("json:text").split(pa.array(['{"text": "hi", "message": "no"}']))
    assert custom["message"].to_pylist() == ["hi"]


def test_syslog_5424_and_3164() -> None:
    lines = [
        "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed",
        "<13>Feb  5 17:32:18 10.0.0.99 myapp[123]: Use the BFG!",
        "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure",
        "garbage",
    ]
    table = LogFormat.compile("syslog").split(pa.array(lines))
    assert table["message"].to_pylist() == [
        "'su root' failed",
        "Use the BFG!",
        "authentication failure",
        "garbage",
    ]
    assert table["host"].to_pylist() == ["mymachine.example.com", "10.0.0.99", "combo", None]
    assert table["app"].to_pylist() == ["su", "myapp", "sshd(pam_unix)", None]
    assert table["procid"].to_pylist() == [None, "123", "19939", None]
    assert table["msgid"].to_pylist() == ["ID47", None, None, None]
    assert table["level"].to_pylist() == ["fatal", "notice", None, None]  # PRI 34 -> crit
    assert table["header_ok"].to_pylist() == [True, True, True, False]
    assert table["ts"].cast(pa.int64())[0].as_py() == ns(2003, 10, 11, 22, 14, 15) + 3 * 10**6


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["081109 203615"], ns(2008, 11, 9, 20, 36, 15)),
        (["2015-10-18 18:01:47,978"], ns(2015, 10, 18, 18, 1, 47) + 978 * 10**6),
        (["2020-01-01T01:00:00+01:00"], ns(2020, 1, 1, 0, 0, 0)),
        (["2020-01-01T00:00:00-0530"], ns(2020, 1, 1, 5, 30, 0)),
        (["1117838570"], 1117838570 * 10**9),
        (["1117838570123"], 1117838570123 * 10**6),
        (["[Sun Dec 04 04:47:44 2005]"], ns(2005, 12, 4, 4, 47, 44)),
        (["2005-06-03-15.42.50.675872"], ns(2005, 6, 3, 15, 42, 50) + 675872 * 10**3),
        (["20171223-22:16:0:119"], ns(2017, 12, 23, 22, 16, 0) + 119 * 10**6),
        (["17/06/09 20:10:40"], ns(2017, 6, 9, 20, 10, 40)),
        (["2005.06.03 15:42:50"], ns(2005, 6, 3, 15, 42, 50)),
    ],
)
def test_timestamp_inference(texts: list[str], expected: int) -> None:
    assert parse_timestamps(pa.array(texts)).cast(pa.int64()).to_pylist() == [expected]


def test_month_day_without_year() -> None:
    parsed = parse_timestamps(pa.array(["03-17 16:13:38.811", "10.30 16:49:06"])).to_pylist()
    assert [(v.month, v.day, v.hour, v.minute) for v in parsed] == [
        (3, 17, 16, 13),
        (10, 30, 16, 49),
    ]
    assert parsed[0].microsecond == 811_000


def test_optional_groups_and_single_letter_levels() -> None:
    fmt = LogFormat.compile(r"<Month> <Date> <Time> <Host> <Component>(\[<PID>\])?: <Content>")
    table = fmt.split(
        pa.array(
            [
                "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure",
                "Jun 15 04:06:18 combo logrotate: ALERT exited abnormally with [1]",
            ]
        )
    )
    assert table["Component"].to_pylist() == ["sshd(pam_unix)", "logrotate"]
    assert table["PID"].to_pylist() == ["19939", ""]
    assert table["message"].to_pylist()[1] == "ALERT exited abnormally with [1]"
    assert table["ts"].null_count == 0
    logcat = LogFormat.compile("<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>")
    row = logcat.split(pa.array(["03-17 16:13:38.811  1702  2395 D WindowManager: hi"]))
    assert row["level"].to_pylist() == ["debug"] and row["ts"].null_count == 0


def test_timestamps_without_year_and_garbage() -> None:
    parsed = parse_timestamps(pa.array(["Jan  2 03:04:05", "Jan 12 03:04:05", None]))
    values = parsed.to_pylist()
    assert [(v.month, v.day, v.hour) for v in values[:2]] == [(1, 2, 3), (1, 12, 3)]
    assert values[2] is None
    assert values[0].year in (datetime.now(UTC).year, datetime.now(UTC).year - 1)
    assert parse_timestamps(pa.array(["nonsense", "more"])).null_count == 2
    mixed = parse_timestamps(pa.array(["2015-10-18 18:01:47"] * 19 + ["2015-13-45 18:01:47"]))
    assert mixed.null_count == 1


def test_detect_level_is_conservative() -> None:
    messages = [
        "ERROR could not open file",
        "the job failed with an error",  # prose: no level
        "java.io.IOException: Broken pipe",
        "[warn] deprecated option",
        "level=debug starting",
        "INFORMATION is power",  # not a level word
        "Traceback (most recent call last):",
        "",
    ]
    assert detect_level(pa.array(messages)).to_pylist() == [
        "error",
        None,
        "error",
        "warn",
        "debug",
        None,
        "error",
        None,
    ]
