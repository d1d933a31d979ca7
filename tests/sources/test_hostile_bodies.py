"""Hostile request bodies: lone surrogates in labels, gzip bombs of empty members, big bodies
parsed off the event loop (issue 17, items 2 and 9)."""

from __future__ import annotations

import gzip
import json
import threading
import zlib

import pytest

from helpers import tank_rows
from logradar.sources.common import IngestError, inflate


def test_ndjson_labels_with_lone_surrogates_are_replaced_as_strict_json(client):
    c, p = client
    body = b'{"message": "m", "labels": {"k\\ud800": "v\\udfff"}}\n'
    r = c.post("/api/v1/logs", content=body, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    stored = tank_rows(p)[0]["labels"]
    assert "\\ud" not in stored.lower()
    assert json.loads(stored) == {"k\ufffd": "v\ufffd"}


def empty_members(count: int) -> bytes:
    return gzip.compress(b"", mtime=0) * count


def test_many_empty_gzip_members_inflate_in_linear_work():
    """Work is counted in members: 100k members are refused well before quadratic copying."""
    body = empty_members(100_000)  # ~2 MB: quadratic inflation took ~12 s
    with pytest.raises(IngestError) as refused:
        inflate(body, "gzip", 16 * 1024 * 1024)
    assert refused.value.status == 413
    assert "members" in refused.value.reason


def test_concatenated_gzip_members_still_decode(client):
    c, p = client
    body = gzip.compress(b"one\n") + empty_members(50) + gzip.compress(b"two\n")
    r = c.post(
        "/api/v1/logs",
        content=body,
        headers={"Content-Type": "text/plain", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 200, r.text
    assert [x["message"] for x in tank_rows(p)] == ["one", "two"]


def test_inflate_hands_each_byte_to_zlib_a_bounded_number_of_times(monkeypatch):
    """Linear work: the bytes given to zlib stay proportional to the body (the old loop gave
    it the whole rest of the body once per member: quadratic)."""
    fed: list[int] = []
    real = zlib.decompressobj

    class Counting:
        def __init__(self, wbits: int) -> None:
            self._inner = real(wbits)

        def decompress(self, data, max_length=0):
            fed.append(memoryview(data).nbytes)
            return self._inner.decompress(data, max_length)

        def __getattr__(self, name):
            return getattr(self._inner, name)

    monkeypatch.setattr(zlib, "decompressobj", Counting)
    body = empty_members(500) + gzip.compress(b"x" * 100_000)
    assert inflate(body, "gzip", 1024 * 1024) == b"x" * 100_000
    assert sum(fed) < 10 * len(body)


def test_healthz_answers_while_a_big_body_is_parsed(client, monkeypatch):
    """Parsing runs off the event loop: /healthz answers while a parse is held mid-way."""
    from logradar.sources import elastic

    c, p = client
    parsing = threading.Event()
    release = threading.Event()
    real = elastic._parse_bulk

    def held(*args, **kwargs):
        parsing.set()
        assert release.wait(30), "the test never released the parse"
        return real(*args, **kwargs)

    monkeypatch.setattr(elastic, "_parse_bulk", held)
    body = b'{"index": {"_index": "app"}}\n{"message": "x"}\n'
    result: dict[str, int] = {}

    def post() -> None:
        result["status"] = c.post("/_bulk", content=body).status_code

    p.start()
    with c:  # one event loop serves both requests, as in uvicorn
        poster = threading.Thread(target=post)
        poster.start()
        try:
            assert parsing.wait(30)
            assert c.get("/healthz").status_code == 200  # hangs if parsing holds the loop
        finally:
            release.set()
            poster.join(30)
    assert result["status"] == 200
    assert [x["message"] for x in tank_rows(p)] == ["x"]
