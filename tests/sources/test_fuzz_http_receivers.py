"""Arbitrary bodies to the Loki, Elasticsearch, OTLP, Huawei LTS and /api/v1/logs receivers.

Whatever arrives, the answer is never a 5xx, a refused request changes nothing in the tank,
and an accepted one only appends (what was accepted before stays as it was). For LTS and
/api/v1/logs the bodies are also cut short, corrupted, gzip/deflate-compressed (in several
members, corrupt, or falsely declared) and sent with wrong content types, and the tank is
checked exactly: an accepted body adds its lines, each once; a well-formed one is accepted; a
refused one gets a 4xx with a reason.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Callable
from unittest.mock import ANY
from urllib.parse import quote, urlencode

import cramjam
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

from helpers import tank_rows
from logradar.sources.proto.logproto import PushRequest

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
INT64 = st.integers(-(2**63), 2**63 - 1)
#: Text that may hold lone surrogates, which ``json.dumps`` writes as ``\ud800`` escapes.
texts = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=20)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | texts
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
label_names = st.sampled_from(["service_name", "job", "app", "host", "level"]) | st.text(max_size=8)
#: JSON that json.loads refuses with errors other than JSONDecodeError.
hostile_json = st.integers(1, 5000).map(lambda n: "[" * n + "]" * n) | st.integers(4000, 5000).map(
    lambda n: '{"a": [' + "7" * n + "]}"
)


def check(client, path: str, body: bytes, headers: dict[str, str], ok: int) -> None:
    """Post ``body``; assert no 5xx, and that the tank changed only by appending on success."""
    c, p = client
    before = tank_rows(p)
    r = c.post(path, content=body, headers=headers)
    assert r.status_code < 500, r.text
    after = tank_rows(p)
    if r.status_code == ok:
        assert after[: len(before)] == before
    else:
        assert after == before
    if path.endswith("_bulk") and r.status_code == ok:
        created = [x for item in r.json()["items"] for x in item.values() if x["status"] == 201]
        assert len(after) - len(before) == len(created)


# Loki -----------------------------------------------------------------------------------
loki_entries = st.lists(
    st.one_of(
        st.tuples(st.integers(0, 2**63 - 1).map(str), texts),
        st.tuples(st.integers(0, 2**63).map(str), texts, st.dictionaries(texts, texts)),
        st.lists(json_values, max_size=4),
    ),
    max_size=4,
)
loki_json = st.one_of(
    st.fixed_dictionaries(
        {
            "streams": st.lists(
                st.fixed_dictionaries(
                    {
                        "stream": st.dictionaries(label_names, texts) | json_values,
                        "values": loki_entries | json_values,
                    }
                ),
                max_size=3,
            )
        }
    ),
    json_values,
).map(lambda doc: json.dumps(doc).encode())


@st.composite
def promtail_pushes(draw) -> bytes:
    request = PushRequest()
    for _ in range(draw(st.integers(0, 3))):
        labels = draw(st.dictionaries(label_names, st.text(max_size=10), max_size=3))
        selector = "{" + ", ".join(f"{k}={json.dumps(v)}" for k, v in labels.items()) + "}"
        selector = draw(st.just(selector) | st.text(max_size=30))
        stream = request.streams.add(labels=selector.encode("utf-8", "surrogatepass"))
        for _ in range(draw(st.integers(0, 3))):
            entry = stream.entries.add(line=draw(st.binary(max_size=40)))
            entry.timestamp.seconds = draw(INT64)
            entry.timestamp.nanos = draw(st.integers(-(2**31), 2**31 - 1))
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


loki_protobuf = (
    promtail_pushes()
    | st.binary()
    | st.binary().map(lambda b: bytes(cramjam.snappy.compress_raw(b)))
)


@FUZZ
@given(body=loki_json | st.binary() | hostile_json.map(str.encode))
def test_loki_json_fuzz(client, body):
    check(client, "/loki/api/v1/push", body, {"Content-Type": "application/json"}, 204)


@FUZZ
@given(body=loki_protobuf)
def test_loki_protobuf_fuzz(client, body):
    check(client, "/loki/api/v1/push", body, {"Content-Type": "application/x-protobuf"}, 204)


# Elasticsearch --------------------------------------------------------------------------
actions = st.fixed_dictionaries(
    {},
    optional={
        "_index": texts | json_values,
        "_id": st.text(max_size=10) | json_values,
    },
)
bulk_line = st.one_of(
    st.dictionaries(st.sampled_from(["index", "create", "delete", "update"]), actions, max_size=2),
    st.fixed_dictionaries(
        {},
        optional={
            "message": json_values,
            "log": json_values,
            "@timestamp": json_values | st.datetimes().map(lambda d: d.isoformat()),
            "host": json_values,
        },
    ),
    json_values,
).map(json.dumps)
bulk_bodies = st.lists(bulk_line | st.text(max_size=20) | hostile_json, max_size=8).map(
    lambda lines: "\n".join(lines).encode()
)


@FUZZ
@given(body=bulk_bodies | st.binary(), index=st.none() | st.sampled_from(["app", "logs-x-y"]))
def test_elastic_bulk_fuzz(client, body, index):
    path = f"/{index}/_bulk" if index else "/_bulk"
    check(client, path, body, {"Content-Type": "application/x-ndjson"}, 200)


# OTLP -----------------------------------------------------------------------------------
any_values = st.recursive(
    st.fixed_dictionaries({"stringValue": st.text(max_size=10)})
    | st.fixed_dictionaries({"intValue": st.integers(-(2**63), 2**63 - 1).map(str)})
    | st.fixed_dictionaries({"doubleValue": st.floats(allow_nan=False, allow_infinity=False)})
    | st.fixed_dictionaries({"boolValue": st.booleans()})
    | json_values,
    lambda inner: (
        st.fixed_dictionaries(
            {"arrayValue": st.fixed_dictionaries({"values": st.lists(inner, max_size=3)})}
        )
        | st.fixed_dictionaries(
            {
                "kvlistValue": st.fixed_dictionaries(
                    {
                        "values": st.lists(
                            st.fixed_dictionaries({"key": st.text(max_size=5), "value": inner}),
                            max_size=3,
                        )
                    }
                )
            }
        )
    ),
    max_leaves=8,
)
key_values = st.lists(
    st.fixed_dictionaries({"key": st.text(max_size=12), "value": any_values}), max_size=3
)
log_records = st.fixed_dictionaries(
    {},
    optional={
        "timeUnixNano": st.integers(0, 2**64 - 1).map(str) | json_values,
        "observedTimeUnixNano": st.integers(0, 2**64 - 1).map(str),
        "severityNumber": st.integers(-5, 40),
        "severityText": texts,
        "body": any_values,
        "attributes": key_values,
        "traceId": st.binary(max_size=16).map(bytes.hex) | st.text(max_size=8),
    },
)
otlp_docs = (
    st.fixed_dictionaries(
        {
            "resourceLogs": st.lists(
                st.fixed_dictionaries(
                    {
                        "resource": st.fixed_dictionaries({"attributes": key_values}),
                        "scopeLogs": st.lists(
                            st.fixed_dictionaries(
                                {"logRecords": st.lists(log_records, max_size=3)}
                            ),
                            max_size=2,
                        ),
                    }
                ),
                max_size=2,
            )
        }
    )
    | json_values
)


@FUZZ
@given(
    body=otlp_docs.map(lambda d: json.dumps(d).encode())
    | st.binary()
    | hostile_json.map(str.encode)
)
def test_otlp_json_fuzz(client, body):
    check(client, "/v1/logs", body, {"Content-Type": "application/json"}, 200)


@st.composite
def otlp_requests(draw) -> bytes:
    request = logs_service_pb2.ExportLogsServiceRequest()
    for _ in range(draw(st.integers(0, 2))):
        resource_logs = request.resource_logs.add()
        for key in draw(st.lists(st.sampled_from(["service.name", "host.name", "k"]), max_size=3)):
            attr = resource_logs.resource.attributes.add(key=key)
            attr.value.string_value = draw(st.text(max_size=12))
        records = resource_logs.scope_logs.add().log_records
        for _ in range(draw(st.integers(0, 3))):
            record = records.add(
                time_unix_nano=draw(st.integers(0, 2**64 - 1)),
                severity_number=draw(st.integers(0, 24)),
                trace_id=draw(st.binary(max_size=16)),
            )
            record.body.string_value = draw(st.text(max_size=20))
    return request.SerializeToString()


@FUZZ
@given(body=otlp_requests() | st.binary())
def test_otlp_protobuf_fuzz(client, body):
    check(client, "/v1/logs", body, {"Content-Type": "application/x-protobuf"}, 200)


# LTS and /api/v1/logs: exact accounting ---------------------------------------------------
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(value: str) -> str:
    """What the receivers store for a string from JSON: lone surrogates become U+FFFD."""
    return _SURROGATE.sub("\ufffd", value)


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    """``good`` nine times in ten, else ``bad``: enough valid requests to check what is kept."""
    return st.integers(0, 9).flatmap(lambda n: bad if n == 9 else good)


def json_bodies(docs: st.SearchStrategy) -> st.SearchStrategy[bytes]:
    """``docs`` as JSON, else other JSON, JSON the parsers give up on, or random bytes."""
    other = json_values.map(json.dumps).map(str.encode) | hostile_json.map(str.encode) | st.binary()
    return mostly(docs.map(json.dumps).map(str.encode), other)


#: How a body is changed on the way (mostly not at all) and how it is encoded: gzip in several
#: members, compressed data cut short or with bytes appended, or a Content-Encoding that lies.
MUTATIONS = ["none"] * 4 + ["truncate", "flip"]
ENCODINGS = [
    *["identity"] * 3,
    *["gzip"] * 2,
    *["gzip-members", "gzip-corrupt", "gzip-plain", "deflate", "deflate-corrupt", "br"],
]
json_types = st.sampled_from(["application/json", "application/x-ndjson", "text/plain"])
content_types = st.sampled_from(
    [
        "application/json",
        "application/x-ndjson",
        "application/jsonl",
        "application/json; charset=utf-8",
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-protobuf",
        "application/xml",
    ]
)


@st.composite
def wire(draw, bodies: st.SearchStrategy[bytes]) -> tuple[bytes, dict[str, str]]:
    """A body as it may arrive, with its Content-Encoding and maybe a Content-Type."""
    body = draw(bodies)
    mutation = draw(st.sampled_from(MUTATIONS))
    if body and mutation != "none":
        i = draw(st.integers(0, len(body) - 1))
        if mutation == "truncate":
            body = body[:i]
        else:
            body = body[:i] + bytes([body[i] ^ draw(st.integers(1, 255))]) + body[i + 1 :]
    how = draw(st.sampled_from(ENCODINGS))
    compress = gzip.compress if how.startswith("gzip") else zlib.compress
    if how == "gzip-members":
        cut = draw(st.integers(0, len(body)))
        body = gzip.compress(body[:cut]) + gzip.compress(body[cut:])
    elif how in ("gzip", "deflate"):
        body = compress(body)
    elif how.endswith("-corrupt"):
        body = compress(body)
        # not only zero bytes: gzip.decompress would skip them as padding
        extra = draw(st.binary(min_size=1, max_size=8).filter(lambda b: b.strip(b"\0")))
        body = draw(st.sampled_from([body[: len(body) // 2], body + extra]))
    headers = {"Content-Encoding": how.split("-")[0]}
    content_type = draw(st.none() | mostly(json_types, content_types))
    if content_type is not None:
        headers["Content-Type"] = content_type
    return body, headers


def unwrap(body: bytes, headers: dict[str, str]) -> str:
    """The text of a body that can be read (raises otherwise)."""
    encoding = headers["Content-Encoding"]
    if encoding == "gzip":
        assert body, "no gzip member"
        body = gzip.decompress(body)
    elif encoding == "deflate":
        inflater = zlib.decompressobj()
        body = inflater.decompress(body)
        assert inflater.eof and not inflater.unused_data, "not one whole zlib stream"
    else:
        assert encoding == "identity", encoding
    return body.decode("utf-8", "replace")


def stream_name(name: object) -> str:
    """``name`` if it is a stream name as documented (raises otherwise)."""
    assert isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}", name)
    assert ".." not in name
    return name


#: What a body must do: the rows it holds, and whether it is well-formed (so must be accepted).
Expected = tuple[list[tuple], bool]


def check_exact(client, path, body, headers, reason: str, expect: Callable[[], Expected]) -> None:
    """Post ``body``: never a 5xx, and the tank changes exactly as ``expect()`` says.

    ``expect()`` reads the body as the receiver documents it; it raises for a body that cannot
    be read, which must be refused. A refusal is a 4xx with a reason and leaves the tank as it
    was; an acceptance appends exactly the expected rows. So after a run the tank holds each
    line of the accepted bodies once, and nothing of the refused ones.
    """
    c, p = client
    before = tank_rows(p)
    r = c.post(path, content=body, headers=headers)
    after = tank_rows(p)
    try:
        rows, well_formed = expect()
    except Exception as e:
        rows, well_formed = e, False
    if not 200 <= r.status_code < 300:
        assert 400 <= r.status_code < 500, r.text
        assert not well_formed, f"refused a well-formed body: {r.text}"
        assert r.json()[reason], r.text
        assert after == before
        return
    assert not isinstance(rows, Exception), f"accepted a body that cannot be read: {rows!r}"
    assert after[: len(before)] == before
    got = [
        (x["stream"], x["ts"], x["host"], x["message"], json.loads(x["labels"] or "{}"))
        for x in after[len(before) :]
    ]
    assert got == rows


# Huawei LTS -------------------------------------------------------------------------------
LTS = "/v2/0123456789abcdef0123456789abcdef/lts/groups/g-1/streams/{stream}/tenant/contents"
LTS_HOST_LABELS = ("hostName", "host", "hostname", "hostIP")
bad_stream_names = st.sampled_from(["a..b", "-x", "web\n", "x" * 129]) | st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="/"), min_size=1, max_size=10
).filter(lambda s: s not in (".", ".."))
lts_streams = mostly(st.sampled_from(["web", "api-1", "_a.b"]), bad_stream_names)
lts_times = mostly(
    st.integers(0, 2**63 - 1), st.integers(2**63, 2**64) | st.integers(-3, -1) | json_values
)
lts_labels = mostly(
    st.dictionaries(st.sampled_from(LTS_HOST_LABELS) | texts, texts, max_size=3), json_values
)
lts_contents = st.fixed_dictionaries(
    {"log_time_ns": lts_times, "contents": mostly(st.lists(texts, max_size=4), json_values)},
    optional={"labels": lts_labels},
)
lts_items = mostly(st.fixed_dictionaries({"log_time_ns": lts_times, "log": texts}), json_values)
lts_high_accuracy = st.fixed_dictionaries(
    {"contents": mostly(st.lists(lts_items, max_size=4), json_values)},
    optional={"labels": lts_labels},
)


def lts_expect(text: str, stream: str, high_accuracy: bool) -> Expected:
    """The rows of an LTS report; well-formed when all types are as documented."""
    doc = json.loads(text)
    stream_name(stream)
    raw_labels = doc.get("labels", {})
    labels = {clean(k): clean(v) for k, v in raw_labels.items()}
    host = next((labels[k] for k in LTS_HOST_LABELS if k in labels), None)
    if high_accuracy:
        lines = [(item["log_time_ns"], item["log"]) for item in doc["contents"]]
        times = [t for t, _ in lines]
    else:
        lines = [(doc["log_time_ns"], line) for line in doc["contents"]]
        times = [doc["log_time_ns"]]
    rows = [(stream, t if type(t) is int else ANY, host, clean(m), labels) for t, m in lines]
    well_formed = (
        isinstance(doc["contents"], list)
        and all(type(t) is int and 0 <= t < 2**63 for t in times)
        and all(isinstance(m, str) for _, m in lines)
    )
    return rows, well_formed


@st.composite
def lts_reports(draw) -> tuple[bool, tuple[bytes, dict[str, str]]]:
    """Whether it is a high-accuracy report, and the body as it arrives."""
    high_accuracy = draw(st.booleans())
    docs = lts_high_accuracy if high_accuracy else lts_contents
    return high_accuracy, draw(wire(json_bodies(docs)))


PLAIN = {"Content-Encoding": "identity"}
GZIP = {"Content-Encoding": "gzip"}
ONE_LINE = b'{"log_time_ns": 1, "contents": ["x"]}'


# The examples are what fuzzing found: a stream name ending in a newline passed validation;
# times beyond int64 were a 500; lone surrogates refused valid JSON; a second gzip member was
# dropped (acknowledged, never stored).
@FUZZ
@given(stream=lts_streams, report=lts_reports())
@example(stream="web\n", report=(False, (ONE_LINE, PLAIN)))
@example(stream="web", report=(False, (ONE_LINE.replace(b"1", str(2**63).encode()), PLAIN)))
@example(
    stream="web", report=(True, (b'{"contents": [{"log_time_ns": 1, "log": "\\ud800"}]}', PLAIN))
)
@example(
    stream="web",
    report=(False, (gzip.compress(ONE_LINE[:20]) + gzip.compress(ONE_LINE[20:]), GZIP)),
)
def test_lts_report_fuzz(client, stream, report):
    high_accuracy, (body, headers) = report
    path = LTS.format(stream=quote(stream, safe="")) + ("/high-accuracy" if high_accuracy else "")
    check_exact(
        client,
        path,
        body,
        headers,
        "errorMessage",
        lambda: lts_expect(unwrap(body, headers), stream, high_accuracy),
    )


# /api/v1/logs -----------------------------------------------------------------------------
NDJSON_TYPES = ("application/x-ndjson", "application/json", "application/jsonl")
NDJSON = {"Content-Encoding": "identity", "Content-Type": "application/x-ndjson"}
query_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
iso_times = st.tuples(st.datetimes(), st.sampled_from(["", "Z", "+05:30"])).map(
    lambda p: p[0].isoformat() + p[1]
)
ndjson_objects = st.fixed_dictionaries(
    {"message": mostly(texts, json_values)},
    optional={
        "ts": mostly(
            st.integers(10**17, 2**63 - 1) | iso_times,
            json_values | st.integers(-(2**70), 2**70) | st.floats(),
        ),
        "stream": mostly(st.sampled_from(["web", "api-1"]), bad_stream_names | json_values),
        "host": mostly(texts, json_values),
        "labels": mostly(st.dictionaries(texts, texts, max_size=2), json_values),
    },
)
ndjson_lines = mostly(
    ndjson_objects.map(json.dumps), json_values.map(json.dumps) | texts | hostile_json
)
ndjson_bodies = st.lists(
    st.tuples(ndjson_lines, st.sampled_from(["\n", "\r\n", "\n\n", ""])), max_size=5
).map(lambda lines: "".join(line + end for line, end in lines).encode("utf-8", "surrogatepass"))


def api_expect(text: str, content_type: str, stream: str, host: str | None) -> Expected:
    """The rows of a /api/v1/logs body; well-formed when every field is as documented (times
    only as nanoseconds)."""
    stream_name(stream)
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    lines = [line for line in lines if line.strip()]
    content_type = content_type.split(";")[0].strip()
    if content_type == "text/plain":
        return [(stream, ANY, host, line, {}) for line in lines], True
    assert content_type in NDJSON_TYPES, content_type
    rows = []
    well_formed = True
    for line in lines:
        obj = json.loads(line)
        ts, line_host, labels = obj.get("ts"), obj.get("host"), obj.get("labels")
        exact_ts = type(ts) is int and 10**17 <= ts < 2**63
        well_formed &= (ts is None or exact_ts) and (
            labels is None
            or (isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values()))
        )
        rows.append(
            (
                stream_name(obj.get("stream", stream)),
                ts if exact_ts else ANY,
                None if line_host is None else clean(line_host),
                clean(obj["message"]),
                labels or {},
            )
        )
    return rows, well_formed


@FUZZ
@given(
    sent=wire(mostly(ndjson_bodies, json_bodies(json_values) | st.text().map(str.encode))),
    stream=mostly(st.none() | st.just("web"), bad_stream_names),
    host=st.none() | query_text,
)
# Found by fuzzing: an infinite ts, JSON too deep for the parser, a stream name ending in a
# newline, and a body in two gzip members.
@example(sent=(b'{"message": "x", "ts": Infinity}', NDJSON), stream=None, host=None)
@example(sent=(b"[" * 5000 + b"]" * 5000, NDJSON), stream=None, host=None)
@example(sent=(b'{"message": "x"}', NDJSON), stream="web\n", host=None)
@example(sent=(gzip.compress(b"a\n") + gzip.compress(b"b\n"), GZIP), stream=None, host=None)
def test_api_logs_fuzz(client, sent, stream, host):
    body, headers = sent
    params = {k: v for k, v in {"stream": stream, "host": host}.items() if v is not None}
    path = "/api/v1/logs?" + urlencode(params)
    content_type = headers.get("Content-Type", "text/plain")
    check_exact(
        client,
        path,
        body,
        headers,
        "error",
        lambda: api_expect(
            unwrap(body, headers), content_type, "default" if stream is None else stream, host
        ),
    )
