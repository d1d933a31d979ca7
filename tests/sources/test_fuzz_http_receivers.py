"""Arbitrary bodies to the Loki, Elasticsearch and OTLP receivers.

Whatever arrives, the answer is never a 5xx, a refused request changes nothing in the tank,
and an accepted one only appends (what was accepted before stays as it was).
"""

from __future__ import annotations

import json

import cramjam
from hypothesis import HealthCheck, given, settings
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
