"""Pulling from LTS's query API, against a local server that implements the documented
request/response shapes and verifies the AK/SK signature (we cannot reach Huawei Cloud here).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pyarrow as pa
import pytest

from logradar.config import LtsPullSourceConfig
from logradar.sources import huawei_signer
from logradar.sources.common import IngestError
from logradar.sources.lts_pull import LtsPullSource, LtsQueryError

AK, SK = "HPUATESTACCESSKEY000", "test-secret-key-0123456789"
PROJECT, GROUP, STREAM = "0123456789abcdef0123456789abcdef", "grp-1", "str-1"
BASE_MS = 1_780_000_000_000


def test_signature_matches_the_official_sdk() -> None:
    """Known answer computed with huaweicloudsdkcore 3.1.219's ``Signer`` (same inputs)."""
    body = b'{"start_time":"1700000000000","end_time":"1700000060000","limit":100,"is_desc":false}'
    headers = huawei_signer.sign(
        "POST",
        "https://lts.ap-southeast-1.myhuaweicloud.com/v2/0123456789abcdef0123456789abcdef"
        "/groups/g-1/streams/s-1/content/query?b=2%203&a=x~y",
        {"Content-Type": "application/json;charset=UTF-8"},
        body,
        "HPUAEXAMPLEAK1234567",
        "exampleSecretKey0123456789abcdefghijklmn",
        now=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert headers["X-Sdk-Date"] == "20240102T030405Z"
    assert headers["Authorization"] == (
        "SDK-HMAC-SHA256 Access=HPUAEXAMPLEAK1234567, "
        "SignedHeaders=content-type;host;x-sdk-date, "
        "Signature=6dfac6a8eea55968a07cb1e1088375f0c982acba9c8c770c703aaac2057a0450"
    )


def verify_signature(method: str, target: str, headers: dict[str, str], body: bytes) -> str:
    """Server side of SDK-HMAC-SHA256, from the request as received; '' if valid."""
    auth = headers.get("authorization", "")
    if not auth.startswith("SDK-HMAC-SHA256 "):
        return "no SDK-HMAC-SHA256 Authorization"
    fields = dict(part.strip().split("=", 1) for part in auth[16:].split(","))
    if fields.get("Access") != AK:
        return "unknown access key"
    date = headers.get("x-sdk-date", "")
    signed_at = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if abs((datetime.now(UTC) - signed_at).total_seconds()) > 900:
        return "X-Sdk-Date too far from now"
    url = urlsplit(target)
    path = "/".join(quote(seg, safe="~") for seg in unquote(url.path).split("/"))
    query = "&".join(sorted(p for p in url.query.split("&") if p))
    signed = fields["SignedHeaders"].split(";")
    if not {"host", "x-sdk-date"} <= set(signed):
        return "host and x-sdk-date must be signed"
    canonical = "\n".join(
        [
            method,
            path if path.endswith("/") else path + "/",
            query,
            "".join(f"{h}:{headers[h].strip()}\n" for h in signed),
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    to_sign = f"SDK-HMAC-SHA256\n{date}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    expected = hmac.new(SK.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return "" if hmac.compare_digest(expected, fields.get("Signature", "")) else "bad signature"


def verify_signed(headers: dict[str, str]) -> set[str]:
    """The signed headers whose value the fake LTS accepts."""
    signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    return {h for h in signed if h != "x-project-id" or headers[h] == PROJECT}


class FakeLts:
    """LTS's ``content/query`` API over a list of stored lines, with signature checks."""

    def __init__(self) -> None:
        self.lines: list[dict] = []  # {"time_ms", "line_num", "content", "labels"}
        self.bodies: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                problem = verify_signature("POST", self.path, headers, body)
                expected = f"/v2/{PROJECT}/groups/{GROUP}/streams/{STREAM}/content/query"
                if not problem and "x-project-id" not in verify_signed(headers):
                    problem = "X-Project-Id must be sent and signed"
                if problem:
                    self.answer(401, {"error_code": "APIGW.0301", "error_msg": problem})
                elif urlsplit(self.path).path != expected:
                    self.answer(404, {"error_code": "LTS.0208", "error_msg": "no such stream"})
                else:
                    self.answer(200, outer.query(json.loads(body)))

            def answer(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def add(self, time_ms: int, content: str, host: str = "web-1") -> None:
        with self.lock:
            seq = len(self.lines)
            self.lines.append(
                {
                    "time_ms": time_ms,
                    "line_num": str(time_ms * 1_000_000 + seq),
                    "content": content,
                    "labels": {"hostName": host, "collectTime": str(time_ms), "category": "LTS"},
                }
            )

    def query(self, body: dict) -> dict:
        self.bodies.append(body)
        start, end = int(body["start_time"]), int(body["end_time"])
        with self.lock:
            hits = [x for x in self.lines if start <= x["time_ms"] <= end]
        hits.sort(key=lambda x: int(x["line_num"]), reverse=bool(body.get("is_desc")))
        if "line_num" in body:
            after = int(body["line_num"])
            assert body.get("search_type") == "forwards"
            hits = [x for x in hits if int(x["line_num"]) > after]
        page = hits[: int(body.get("limit", 50))]
        logs = [{k: x[k] for k in ("content", "line_num", "labels")} for x in page]
        return {"count": len(hits), "logs": logs, "isQueryComplete": True}

    def close(self) -> None:
        self.server.shutdown()


class Sink:
    def __init__(self, refuse: int = 0) -> None:
        self.rows: list[dict] = []
        self.refuse = refuse
        self.calls = 0

    def __call__(self, table: pa.Table, source: str) -> int:
        assert source == "lts_pull"
        self.calls += 1
        if self.calls <= self.refuse:
            raise IngestError(429, "behind", retry_after=None)
        self.rows += table.to_pylist()
        return table.num_rows

    @property
    def messages(self) -> list[str]:
        return [r["message"] for r in self.rows]


@pytest.fixture
def lts():
    server = FakeLts()
    yield server
    server.close()


def make_source(lts: FakeLts, tmp_path: Path, **cfg) -> LtsPullSource:
    config = LtsPullSourceConfig(
        enabled=True,
        endpoint=lts.endpoint,
        project_id=PROJECT,
        log_group_id=GROUP,
        log_stream_id=STREAM,
        access_key=AK,
        secret_key=cfg.pop("secret_key", SK),
        stream="cloud-app",
        delay_seconds=0,
        overlap_seconds=30,
        backfill_seconds=600,
        limit=cfg.pop("limit", 3),
        **cfg,
    )
    source = LtsPullSource(config, tmp_path / "state" / "lts_pull.json")
    source.open()
    return source


def test_pulls_every_page_with_fields(lts: FakeLts, tmp_path: Path) -> None:
    for i in range(10):
        lts.add(BASE_MS - 60_000 + i * 1000, f"GET /api/{i} 200", host=f"web-{i % 2}")
    lts.add(BASE_MS - 3_600_000, "too old for the backfill")
    sink = Sink()
    source = make_source(lts, tmp_path)
    assert source.poll(sink, now_ms=BASE_MS) == 10
    assert sink.messages == [f"GET /api/{i} 200" for i in range(10)]
    first = sink.rows[0]
    assert first["stream"] == "cloud-app"
    assert first["host"] == "web-0"
    assert first["ts"].value == (BASE_MS - 60_000) * 1_000_000
    assert json.loads(first["labels"])["category"] == "LTS"
    pages = list(lts.bodies)
    assert len(pages) == 4  # 3 + 3 + 3 + 1
    assert pages[0]["start_time"] == str(BASE_MS - 630_000)
    assert pages[0]["end_time"] == str(BASE_MS)
    assert pages[0]["is_desc"] is False and "line_num" not in pages[0]
    assert [b.get("line_num") for b in pages[1:]] == [lts.lines[i]["line_num"] for i in (2, 5, 8)]


def test_overlapping_polls_and_late_lines_are_ingested_once(lts: FakeLts, tmp_path: Path) -> None:
    sink = Sink()
    source = make_source(lts, tmp_path)
    lts.add(BASE_MS - 5_000, "a")
    source.poll(sink, now_ms=BASE_MS)
    lts.add(BASE_MS - 10_000, "late but inside the overlap")
    lts.add(BASE_MS + 5_000, "b")
    source.poll(sink, now_ms=BASE_MS + 10_000)
    source.poll(sink, now_ms=BASE_MS + 20_000)
    assert sink.messages == ["a", "late but inside the overlap", "b"]
    assert int(lts.bodies[-1]["start_time"]) == BASE_MS + 10_000 - 30_000


def test_restart_resumes_without_re_ingesting(lts: FakeLts, tmp_path: Path) -> None:
    for i in range(5):
        lts.add(BASE_MS - 5_000 + i, f"line {i}")
    first = Sink()
    make_source(lts, tmp_path).poll(first, now_ms=BASE_MS)
    assert first.messages == [f"line {i}" for i in range(5)]
    lts.add(BASE_MS + 1_000, "after restart")
    second = Sink()
    make_source(lts, tmp_path).poll(second, now_ms=BASE_MS + 2_000)
    assert second.messages == ["after restart"]


def test_wrong_secret_key_is_refused_and_nothing_moves(lts: FakeLts, tmp_path: Path) -> None:
    lts.add(BASE_MS - 1_000, "x")
    sink = Sink()
    source = make_source(lts, tmp_path, secret_key="not-the-secret")
    with pytest.raises(LtsQueryError, match=r"401.*bad signature"):
        source.poll(sink, now_ms=BASE_MS)
    assert sink.rows == [] and lts.bodies == []
    assert not (tmp_path / "state" / "lts_pull.json").exists()


def test_backpressure_retries_the_page(lts: FakeLts, tmp_path: Path) -> None:
    for i in range(4):
        lts.add(BASE_MS - 1_000 + i, f"l{i}")
    sink = Sink(refuse=2)
    make_source(lts, tmp_path, limit=10).poll(sink, now_ms=BASE_MS)
    assert sink.messages == ["l0", "l1", "l2", "l3"]
    assert sink.calls == 3


def test_as_a_running_source(lts: FakeLts, tmp_path: Path) -> None:
    now_ms = int(time.time() * 1000)
    lts.add(now_ms - 2_000, "live 1")
    lts.add(now_ms - 1_000, "live 2")
    sink = Sink()
    source = make_source(lts, tmp_path, poll_seconds=0.05)
    source.start(sink)
    try:
        deadline = time.monotonic() + 10
        while len(sink.rows) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        lts.add(int(time.time() * 1000), "live 3")
        while len(sink.rows) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        source.stop()
    assert sink.messages == ["live 1", "live 2", "live 3"]


def test_incomplete_config_is_refused(tmp_path: Path) -> None:
    source = LtsPullSource(LtsPullSourceConfig(enabled=True), tmp_path / "s.json")
    with pytest.raises(ValueError, match=r"endpoint.*secret_key"):
        source.open()
