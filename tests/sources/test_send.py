"""``logradar send`` and ``logradar tail`` against the real app under uvicorn, and
``send`` against a flaky HTTP server."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers import free_port
from logradar.commands.send import retry_after_seconds, send_command
from logradar.commands.tail import tail_command
from logradar.config import load_config
from logradar.server import build_server


class LiveServer:
    """``logradar``'s real app and pipeline served by uvicorn in a thread."""

    def __init__(self, data_dir: Path, **overrides) -> None:
        port = free_port()
        settings = load_config(data_dir=data_dir, server={"port": port}, **overrides)
        self.pipeline, self.server = build_server(settings)
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)

    def messages(self, stream: str | None = None) -> list[str]:
        table = self.pipeline.tank.read(-1, 10**9)
        return [r["message"] for r in table.to_pylist() if stream is None or r["stream"] == stream]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "data")
    yield server
    server.stop()


def test_send_file_in_batches(live: LiveServer, tmp_path: Path) -> None:
    lines = [f"GET /item/{i} 200" for i in range(2345)] + ["caf\xe9 bad byte"]
    path = tmp_path / "access.log"
    path.write_bytes("\n".join(lines[:-1]).encode() + b"\ncaf\xe9 bad byte\n")
    result = CliRunner().invoke(
        send_command,
        [str(path), "--url", live.url, "--stream", "web", "--batch-lines", "1000"],
    )
    assert result.exit_code == 0, result.output
    assert "sent 2346 lines in 3 requests" in result.output
    expected = [*lines[:-1], "caf� bad byte"]
    assert live.messages("web") == expected


def test_send_stdin(live: LiveServer) -> None:
    result = CliRunner().invoke(
        send_command,
        ["-", "--url", live.url, "--stream", "piped", "--batch-lines", "2"],
        input="a\nb\nc",
    )
    assert result.exit_code == 0, result.output
    assert live.messages("piped") == ["a", "b", "c"]


def test_send_with_token_and_refusal_without(tmp_path: Path) -> None:
    server = LiveServer(
        tmp_path / "data",
        auth={"enabled": True, "tokens": [{"token": "s3cret", "streams": ["app-*"]}]},
    )
    try:
        path = tmp_path / "x.log"
        path.write_text("hello\n")
        runner = CliRunner()
        base = [str(path), "--url", server.url, "--no-progress"]
        denied = runner.invoke(send_command, [*base, "--stream", "app-1"])
        assert denied.exit_code == 1
        assert "HTTP 401" in denied.output
        forbidden = runner.invoke(send_command, [*base, "--stream", "db", "--token", "s3cret"])
        assert forbidden.exit_code == 1
        assert "HTTP 403" in forbidden.output
        ok = runner.invoke(send_command, [*base, "--stream", "app-1", "--token", "s3cret"])
        assert ok.exit_code == 0, ok.output
        assert server.messages("app-1") == ["hello"]
    finally:
        server.stop()


def test_invalid_stream_name_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_text("x\n")
    result = CliRunner().invoke(
        send_command, [str(path), "--url", "http://127.0.0.1:9", "--stream", "../etc"]
    )
    assert result.exit_code == 2
    assert "invalid stream name" in result.output


class Flaky:
    """A real HTTP server answering from a script of statuses; records every request."""

    def __init__(self, script: list[tuple[int, dict[str, str], dict]]) -> None:
        self.requests: list[tuple[float, dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((time.monotonic(), dict(self.headers), body))
                status, headers, payload = script[min(len(outer.requests), len(script)) - 1]
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_retries_503_and_429_honouring_retry_after(tmp_path: Path) -> None:
    flaky = Flaky(
        [
            (503, {"Retry-After": "1"}, {"error": "disk full"}),
            (429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, {"error": "behind"}),
            (200, {}, {"accepted": 3}),
        ]
    )
    try:
        path = tmp_path / "x.log"
        path.write_bytes(b"one\ntwo\nthree\n")
        result = CliRunner().invoke(
            send_command, [str(path), "--url", flaky.url, "--stream", "s", "--token", "T"]
        )
    finally:
        flaky.close()
    assert result.exit_code == 0, result.output
    assert "sent 3 lines in 1 requests, 2 retries" in result.output
    assert len(flaky.requests) == 3
    times = [t for t, _, _ in flaky.requests]
    assert times[1] - times[0] >= 0.9  # waited the 1 s asked for (the date is in the past)
    for _, headers, body in flaky.requests:
        assert headers["Content-Encoding"] == "gzip"
        assert headers["Authorization"] == "Bearer T"
        assert gzip.decompress(body) == b"one\ntwo\nthree\n"


def test_other_4xx_fails_at_once_with_the_servers_reason(tmp_path: Path) -> None:
    flaky = Flaky([(400, {}, {"error": "line 1: not valid"})])
    try:
        path = tmp_path / "x.log"
        path.write_text("x\n")
        result = CliRunner().invoke(send_command, [str(path), "--url", flaky.url, "--stream", "s"])
    finally:
        flaky.close()
    assert result.exit_code == 1
    assert "HTTP 400: line 1: not valid" in result.output
    assert len(flaky.requests) == 1


def test_connection_errors_are_retried_then_reported(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_text("x\n")
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(
        send_command, [str(path), "--url", url, "--stream", "s", "--max-retries", "2"]
    )
    assert result.exit_code == 1
    assert "giving up after 3 attempts" in result.output
    assert "connection error" in result.output


def test_retry_after_forms() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


# logradar tail ---------------------------------------------------------------------------------
def test_tail_once_ships_and_resumes(live: LiveServer, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"1\n2\npartial")
    args = [str(log), "--url", live.url, "--stream", "t", "--state", str(tmp_path / "st.json")]
    runner = CliRunner()
    assert runner.invoke(tail_command, [*args, "--once"]).exit_code == 0
    assert live.messages("t") == ["1", "2"]
    with log.open("ab") as out:
        out.write(b" done\n3\n")
    assert runner.invoke(tail_command, [*args, "--once"]).exit_code == 0
    assert live.messages("t") == ["1", "2", "partial done", "3"]


def test_tail_stops_on_a_permanent_refusal(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "data", auth={"enabled": True, "tokens": [{"token": "k"}]})
    try:
        log = tmp_path / "app.log"
        log.write_text("x\n")
        result = CliRunner().invoke(
            tail_command,
            [str(log), "--url", server.url, "--stream", "t", "--state", str(tmp_path / "s.json")],
        )
    finally:
        server.stop()
    assert result.exit_code == 1
    assert "HTTP 401" in result.output


def test_tail_once_fails_when_the_server_is_down(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("x\n")
    url = f"http://127.0.0.1:{free_port()}"
    args = [str(log), "--url", url, "--stream", "t", "--state", str(tmp_path / "s.json")]
    result = CliRunner().invoke(tail_command, [*args, "--once", "--max-retries", "0"])
    assert result.exit_code == 1
    assert "connection error" in result.output


def test_tail_process_follows_rotation_until_sigterm(live: LiveServer, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("before start\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from logradar.commands.tail import tail_command; tail_command()",
         str(tmp_path / "*.log"), "--url", live.url, "--stream", "follow",
         "--state", str(tmp_path / "st.json"), "--poll-seconds", "0.05"],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stderr=subprocess.PIPE,
    )  # fmt: skip

    def wait_for(expected: list[str]) -> None:
        deadline = time.monotonic() + 20
        while live.messages("follow") != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert live.messages("follow") == expected

    try:
        wait_for(["before start"])
        with log.open("a") as out:
            out.write("after start\n")
        wait_for(["before start", "after start"])
        log.rename(tmp_path / "app.log.1")
        log.write_text("new file\n")
        wait_for(["before start", "after start", "new file"])
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
