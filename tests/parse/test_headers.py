"""Header detection without a format (``LogFormat.compile(None)``), one test per shape."""

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from logradar.parse.formats import LogFormat

MESSAGES = ["Starting server on port 8080", "Connection from 10.0.0.1 closed", "Done: ok"]
YEAR = datetime.now(UTC).year


@pytest.mark.parametrize(
    ("heads", "level", "component", "when"),
    [
        (  # ISO-8601 with a bracketed component
            ["2024-05-01T12:00:0{}.123Z INFO [api-gw]"] * 3,
            "info",
            "api-gw",
            datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC),
        ),
        (  # log4j: date, time with comma millis, level, class:
            ["2024-05-01 12:00:0{},123 WARN  org.foo.Bar:"] * 3,
            "warn",
            "org.foo.Bar",
            datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC),
        ),
        (  # Hadoop/log4j with a thread in brackets
            ["2015-10-18 18:01:4{},978 INFO [main] org.apache.Foo:"] * 3,
            "info",
            "main",
            datetime(2015, 10, 18, 18, 1, 40, 978000, tzinfo=UTC),
        ),
        (  # syslog: host app[pid]:
            ["Jun 14 15:16:0{} combo sshd[19939]:"] * 3,
            None,
            "combo sshd[19939",
            datetime(YEAR, 6, 14, 15, 16, 0, tzinfo=UTC),
        ),
        (  # Go standard library
            ["2024/05/01 12:00:0{}"] * 3,
            None,
            None,
            datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC),
        ),
        (  # nginx error log
            ["2024/05/01 12:00:0{} [error] 12#0:"] * 3,
            "error",
            None,
            datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC),
        ),
        (  # Apache 2.2
            ["[Sun Dec 04 04:47:4{} 2005] [notice]"] * 3,
            "notice",
            None,
            datetime(2005, 12, 4, 4, 47, 40, tzinfo=UTC),
        ),
        (  # epoch seconds
            ["171456480{}.250 ERROR"] * 3,
            "error",
            None,
            datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC),
        ),
        (  # clock only: no date, so no event time
            ["12:00:0{}.123 DEBUG"] * 3,
            "debug",
            None,
            None,
        ),
        (  # Python logging's default format
            ["INFO:pkg.mod{}:"] * 3,
            "info",
            "pkg.mod0",
            None,
        ),
        (  # HDFS: yyMMdd HHmmss pid level component:
            ["081109 20361{} 148 INFO dfs.DataNode$PacketResponder:"] * 3,
            "info",
            "dfs.DataNode$PacketResponder",
            datetime(2008, 11, 9, 20, 36, 10, tzinfo=UTC),
        ),
        (  # Zookeeper: time - level [thread] -
            ["2015-07-29 17:41:4{},747 - INFO  [QuorumPeer[myid=1]/0:0:2181:Foo@774] -"] * 3,
            "info",
            "QuorumPeer[myid=1]/0:0:2181:Foo@774",
            datetime(2015, 7, 29, 17, 41, 40, 747000, tzinfo=UTC),
        ),
        (  # glog (its month-day time has no layout yet: no event time)
            ["I0501 12:00:0{}.123456  1234 server.go:88]"] * 3,
            None,
            "server.go:88",
            None,
        ),
    ],
)
def test_header_shapes_are_detected(heads, level, component, when) -> None:
    lines = [f"{h.format(i)} {m}" for i, (h, m) in enumerate(zip(heads, MESSAGES, strict=True))]
    table = LogFormat.compile(None).split(pa.array(lines))
    assert table["message"].to_pylist() == MESSAGES
    assert table["header_ok"].to_pylist() == [True] * 3
    if level is not None:
        assert table["level"][0].as_py() == level
    assert table["component"][0].as_py() == component
    ts = table["ts"][0].as_py()
    assert ts == when


def test_plain_messages_are_no_header() -> None:
    lines = ["ERROR disk full", "all good", "Done: ok", "user: alice logged in"]
    table = LogFormat.compile(None).split(pa.array(lines))
    assert table["message"].to_pylist() == lines
    assert table["header_ok"].to_pylist() == [False] * 4


def test_each_header_shape_is_learned_once_and_reused() -> None:
    fmt = LogFormat.compile(None)
    iso = [f"2024-05-01T12:00:0{i % 10}Z INFO [a] msg {i}" for i in range(30)]
    syslog = [f"Jun 14 15:16:0{i % 10} host app[1]: msg {i}" for i in range(30)]
    first = fmt.split(pa.array(iso))
    mixed = fmt.split(pa.array(iso[:5] + syslog))
    assert first["header_ok"].to_pylist() == [True] * 30
    assert mixed["header_ok"].to_pylist() == [True] * 35
    assert mixed["message"].to_pylist()[4:7] == ["msg 4", "msg 0", "msg 1"]
    again = fmt.split(pa.array([*syslog[:3], "no header here"]))
    assert again["header_ok"].to_pylist() == [True, True, True, False]


def test_a_configured_format_wins() -> None:
    line = "2024-05-01T12:00:00Z INFO [a] msg"
    table = LogFormat.compile("<Time> <Content>").split(pa.array([line]))
    assert table["message"].to_pylist() == ["INFO [a] msg"]
    assert LogFormat.compile("line").split(pa.array([line]))["message"].to_pylist() == [line]
