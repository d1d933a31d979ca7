"""Loki's push messages (``logproto.PushRequest``), a wire-compatible subset of push.proto.

Written with the protobuf runtime instead of generated code. Equivalent to::

    syntax = "proto3";
    package logproto;
    import "google/protobuf/timestamp.proto";
    message PushRequest { repeated StreamAdapter streams = 1; }
    message PushResponse {}
    message StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
    message LabelPairAdapter { string name = 1; string value = 2; }
    message EntryAdapter {
      google.protobuf.Timestamp timestamp = 1;
      string line = 2;
      repeated LabelPairAdapter structuredMetadata = 3;
    }

plus the column views described at :data:`PushColumns`, except that the ``string`` fields are
declared ``bytes`` (same wire format): Go clients do not
guarantee valid UTF-8, and logradar keeps such lines with replacement characters instead of
rejecting the whole push.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

_F = descriptor_pb2.FieldDescriptorProto


def _file() -> descriptor_pb2.FileDescriptorProto:
    f = descriptor_pb2.FileDescriptorProto(
        name="logradar/loki/push.proto",
        package="logproto",
        syntax="proto3",
        dependency=["google/protobuf/timestamp.proto"],
    )

    def message(name: str, *fields: tuple[str, int, int, str | None, bool]) -> None:
        m = f.message_type.add(name=name)
        for field_name, number, kind, type_name, repeated in fields:
            field = m.field.add(
                name=field_name,
                number=number,
                type=kind,
                label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL,
            )
            if type_name:
                field.type_name = type_name

    message("PushRequest", ("streams", 1, _F.TYPE_MESSAGE, ".logproto.StreamAdapter", True))
    message("PushResponse")
    message(
        "StreamAdapter",
        ("labels", 1, _F.TYPE_BYTES, None, False),
        ("entries", 2, _F.TYPE_MESSAGE, ".logproto.EntryAdapter", True),
        ("hash", 3, _F.TYPE_UINT64, None, False),
    )
    message(
        "LabelPairAdapter",
        ("name", 1, _F.TYPE_BYTES, None, False),
        ("value", 2, _F.TYPE_BYTES, None, False),
    )
    message(
        "EntryAdapter",
        ("timestamp", 1, _F.TYPE_MESSAGE, ".google.protobuf.Timestamp", False),
        ("line", 2, _F.TYPE_BYTES, None, False),
        ("structuredMetadata", 3, _F.TYPE_MESSAGE, ".logproto.LabelPairAdapter", True),
    )
    # Columnar views of the same bytes (see :data:`PushColumns`)
    message("PushColumns", ("streams", 1, _F.TYPE_MESSAGE, ".logproto.StreamColumns", True))
    message("StreamColumns", ("entries", 2, _F.TYPE_MESSAGE, ".logproto.EntryColumns", False))
    message(
        "EntryColumns",
        ("timestamp", 1, _F.TYPE_MESSAGE, ".logproto.TimestampColumns", False),
        ("line", 2, _F.TYPE_BYTES, None, True),
        ("structuredMetadata", 3, _F.TYPE_BYTES, None, True),
    )
    message(
        "TimestampColumns",
        ("seconds", 1, _F.TYPE_INT64, None, True),
        ("nanos", 2, _F.TYPE_INT32, None, True),
    )
    return f


def _build() -> dict[str, type]:
    pool = descriptor_pool.DescriptorPool()
    ts = descriptor_pb2.FileDescriptorProto()
    timestamp_pb2.DESCRIPTOR.CopyToProto(ts)
    pool.Add(ts)
    pool.Add(_file())
    names = (
        "PushRequest",
        "PushResponse",
        "StreamAdapter",
        "LabelPairAdapter",
        "EntryAdapter",
        "PushColumns",
    )
    return {
        n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"logproto.{n}"))
        for n in names
    }


_CLASSES = _build()
PushRequest = _CLASSES["PushRequest"]
PushResponse = _CLASSES["PushResponse"]
StreamAdapter = _CLASSES["StreamAdapter"]
LabelPairAdapter = _CLASSES["LabelPairAdapter"]
EntryAdapter = _CLASSES["EntryAdapter"]
PushColumns = _CLASSES["PushColumns"]
"""A ``PushRequest`` read column-wise: each stream's ``entries`` is declared singular, and so
is each entry's ``timestamp``, while their fields are repeated. Protobuf merges every
occurrence of a singular message field into one, appending repeated fields, so one parse
yields a stream's lines, seconds, nanos (and metadata) as flat lists, without one Python
object per entry. Fields left at their default are absent from the wire, so the lists line up
with the entries only when each has the entry's count (see ``sources/loki.py``)."""
