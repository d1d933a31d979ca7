"""Huawei Cloud LTS report APIs, same paths and bodies as the cloud service.

Existing LTS reporters can point at logradar unchanged:

- ``POST /v2/{project_id}/lts/groups/{log_group_id}/streams/{log_stream_id}/tenant/contents``
  with ``{"log_time_ns": int, "contents": [str, ...], "labels": {str: str}}``
- ``POST .../tenant/contents/high-accuracy``
  with ``{"contents": [{"log_time_ns": int, "log": str}, ...], "labels": {str: str}}``

The ``log_stream_id`` path segment is the stream name. Answers use LTS's envelope
``{"errorCode", "errorMessage", "result"}``; success is ``SVCSTG.ALS.200.200``.
"""

from __future__ import annotations

import json

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from logradar.schema import InvalidStreamName, ingest_table, validate_stream_name
from logradar.sources.common import (
    IngestError,
    check_label_count,
    clean_json,
    decode_text,
    ingest,
    off_loop,
    pipeline_of,
    read_body,
)

PREFIX = "/v2/{project_id}/lts/groups/{log_group_id}/streams/{log_stream_id}/tenant/contents"
HOST_LABELS = ("hostName", "host", "hostname", "hostIP")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=False)


class ContentsBody(_Strict):
    log_time_ns: int = Field(ge=0, lt=2**63)
    contents: list[str]
    labels: dict[str, str] = Field(default_factory=dict)


class HighAccuracyItem(_Strict):
    log_time_ns: int = Field(ge=0, lt=2**63)
    log: str


class HighAccuracyBody(_Strict):
    contents: list[HighAccuracyItem]
    labels: dict[str, str] = Field(default_factory=dict)


_CONTENTS = TypeAdapter(ContentsBody)
_HIGH_ACCURACY = TypeAdapter(HighAccuracyBody)


def lts_answer(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    code = f"SVCSTG.ALS.{status}.{200 if status == 200 else 400}"
    body = {"errorCode": code, "errorMessage": message, "result": None}
    return JSONResponse(body, status, headers=headers)


def _refusal(e: ValidationError) -> IngestError:
    first = e.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return IngestError(400, f"invalid LTS body at {where}: {first['msg']}")


def _validate(adapter: TypeAdapter, body: bytes):
    try:
        return adapter.validate_json(body)
    except ValidationError as e:
        if not any(err["type"] == "json_invalid" for err in e.errors()):
            raise _refusal(e) from None
        refusal = _refusal(e)
    # JSON that pydantic's parser refuses but Python's reads: invalid UTF-8 (kept with
    # replacement characters) and lone surrogates from escapes like \ud800 (replaced).
    try:
        doc = json.loads(decode_text(body))
    except (ValueError, RecursionError):
        raise refusal from None
    try:
        parsed = adapter.validate_python(doc)
    except ValidationError as e:
        raise _refusal(e) from None
    return adapter.validate_python(clean_json(parsed.model_dump()))


def _body_table(body: bytes, stream: str, high_accuracy: bool, max_labels: int) -> pa.Table:
    """The lines of a report body (CPU work, run off the event loop)."""
    if high_accuracy:
        parsed = _validate(_HIGH_ACCURACY, body)
        messages = [item.log for item in parsed.contents]
        ts: list[int] | int = [item.log_time_ns for item in parsed.contents]
    else:
        parsed = _validate(_CONTENTS, body)
        messages = parsed.contents
        ts = parsed.log_time_ns
    check_label_count(len(parsed.labels), max_labels, "the body's labels")
    host = next((parsed.labels[k] for k in HOST_LABELS if k in parsed.labels), None)
    return ingest_table(stream, messages, ts, host=host, labels=parsed.labels)


async def _report(request: Request, high_accuracy: bool) -> JSONResponse:
    try:
        stream = validate_stream_name(request.path_params["log_stream_id"])
        server = pipeline_of(request).settings.server
        body = await read_body(request, server.max_body_bytes)
        table = await off_loop(_body_table, body, stream, high_accuracy, server.max_labels)
        await ingest(request, table, "lts")
    except InvalidStreamName as e:
        return lts_answer(400, str(e))
    except IngestError as e:
        return lts_answer(e.status, e.reason, e.headers)
    return lts_answer(200, "Report success.")


async def report_contents(request: Request) -> JSONResponse:
    return await _report(request, high_accuracy=False)


async def report_high_accuracy(request: Request) -> JSONResponse:
    return await _report(request, high_accuracy=True)


routes = [
    Route(PREFIX, report_contents, methods=["POST"]),
    Route(PREFIX + "/high-accuracy", report_high_accuracy, methods=["POST"]),
]
