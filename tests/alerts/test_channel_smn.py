"""Huawei SMN publish against a local server implementing the documented request, which
checks the AK/SK (SDK-HMAC-SHA256) signature on its own (we cannot reach Huawei Cloud here)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit

import pytest

from alert_helpers import RESOLVED, Request, deliver_through_outage, make_payload
from logradar.alerts.channels import ChannelError
from logradar.alerts.channels.smn import SmnChannel
from logradar.store import Store

AK, SK = "HPUASMNTESTACCESSKEY", "smn-test-secret-0123456789"
PROJECT = "0123456789abcdef0123456789abcdef"
TOPIC = f"urn:smn:ap-southeast-1:{PROJECT}:oncall"
PUBLISH = re.compile(r"^/v2/(?P<project>[^/]+)/notifications/topics/(?P<urn>[^/]+)/publish$")


def signature_problem(request: Request, secret: str = SK) -> str:
    """Verify SDK-HMAC-SHA256 from the request as received; '' if valid."""
    auth = request.headers.get("authorization", "")
    if not auth.startswith("SDK-HMAC-SHA256 "):
        return "no SDK-HMAC-SHA256 Authorization"
    fields = dict(
        part.strip().split("=", 1) for part in auth.removeprefix("SDK-HMAC-SHA256 ").split(",")
    )
    if fields.get("Access") != AK:
        return "unknown access key"
    date = request.headers.get("x-sdk-date", "")
    signed_at = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if abs((datetime.now(UTC) - signed_at).total_seconds()) > 900:
        return "X-Sdk-Date too far from now"
    signed = fields["SignedHeaders"].split(";")
    if not {"host", "x-sdk-date", "content-type"} <= set(signed):
        return "host, content-type and x-sdk-date must be signed"
    url = urlsplit(request.path)
    path = "/".join(quote(seg, safe="~") for seg in unquote(url.path).split("/"))
    canonical = "\n".join(
        [
            "POST",
            path if path.endswith("/") else path + "/",
            "&".join(sorted(p for p in url.query.split("&") if p)),
            "".join(f"{h}:{request.headers[h].strip()}\n" for h in signed),
            ";".join(signed),
            hashlib.sha256(request.body).hexdigest(),
        ]
    )
    to_sign = f"SDK-HMAC-SHA256\n{date}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return "" if hmac.compare_digest(expected, fields.get("Signature", "")) else "bad signature"


class FakeSmn:
    """``POST /v2/{project_id}/notifications/topics/{topic_urn}/publish`` as documented."""

    def __init__(self) -> None:
        self.published: list[dict] = []

    def __call__(self, request: Request):
        def error(status: int, code: str, message: str):
            body = {"request_id": uuid.uuid4().hex, "error_code": code, "error_msg": message}
            return status, {"Content-Type": "application/json"}, json.dumps(body).encode()

        m = PUBLISH.match(urlsplit(request.path).path)
        if m is None or m["project"] != PROJECT or unquote(m["urn"]) != TOPIC:
            return error(404, "SMN.0011", "topic not found")
        if problem := signature_problem(request):
            return error(401, "APIGW.0301", f"Incorrect IAM authentication information: {problem}")
        body = request.json()
        if len(body.get("subject", "").encode()) > 512:
            return error(400, "SMN.0003", "subject too long")
        structure = json.loads(body["message_structure"])
        if "default" not in structure or set(structure) - {
            "default",
            "email",
            "sms",
            "http",
            "https",
            "functionstage",
        }:
            return error(400, "SMN.0036", "invalid message_structure")
        self.published.append({"subject": body["subject"], **structure})
        answer = {"request_id": uuid.uuid4().hex, "message_id": uuid.uuid4().hex}
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()


def channel(url: str, secret: str = SK) -> SmnChannel:
    return SmnChannel("sms", endpoint=url, project_id=PROJECT, topic_urn=TOPIC, access_key=AK,
                      secret_key=secret, timeout=5)  # fmt: skip


def test_publishes_a_signed_message_structure(http_service) -> None:
    smn = FakeSmn()
    service = http_service(smn)
    answer = channel(service.url).send(make_payload())
    assert answer.startswith("HTTP 200") and "message_id" in answer
    (published,) = smn.published
    assert published["subject"].startswith("[logradar] FIRING high payments: template 7")
    assert published["sms"].startswith("FIRING high payments: template 7")
    assert published["sms"].endswith("http://logradar.example:8080/incidents/12")
    assert len(published["sms"]) <= 300
    assert "POST /pay/123 500 upstream timeout" in published["email"]
    assert published["default"] == published["email"]
    channel(service.url).send(make_payload(RESOLVED, seq=2))
    assert smn.published[1]["subject"].startswith("[logradar] RESOLVED")


def test_a_wrong_secret_is_refused(http_service) -> None:
    service = http_service(FakeSmn())
    with pytest.raises(ChannelError, match=r"401.*bad signature"):
        channel(service.url, secret="not-the-secret").send(make_payload())


def test_down_for_ten_minutes_loses_nothing(http_service, store: Store) -> None:
    smn = FakeSmn()
    service = http_service(smn)
    rows = deliver_through_outage(
        store, channel(service.url), lambda d: setattr(service, "down", d)
    )
    assert [r["status"] for r in rows] == ["delivered", "delivered"]
    assert [p["subject"].split()[1] for p in smn.published] == ["FIRING", "RESOLVED"]
