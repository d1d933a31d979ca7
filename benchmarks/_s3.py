"""A real S3-protocol server (moto) and a fault-injecting HTTP proxy in front of it.

Shared by the archive tests and ``benchmarks/archive_faults.py``. :class:`MotoServer` runs
``moto.server`` as a subprocess with request authentication on (so wrong credentials get
S3's 403 ``InvalidAccessKeyId``), and creates a user whose AK/SK may use S3. :class:`FaultProxy`
forwards requests unchanged (the SigV4 signature covers the ``Host`` header, which is kept)
and, on demand, drops connections (the store went away), holds requests (a hang), or
answers 500/503 with S3's XML error body.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

REGION = "us-east-1"
_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",
                                                   "Resource": "*"}]}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    """``moto.server`` on a free port with authentication; ``access_key``/``secret_key``
    are a user allowed ``s3:*``; ``bucket(name)`` creates a bucket."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # the first actions (create the user, its key and policy) run without auth
        env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.05)
        iam = self.client("iam", "x", "x")
        iam.create_user(UserName="archiver")
        key = iam.create_access_key(UserName="archiver")["AccessKey"]
        self.access_key, self.secret_key = key["AccessKeyId"], key["SecretAccessKey"]
        iam.put_user_policy(
            UserName="archiver", PolicyName="s3", PolicyDocument=json.dumps(_POLICY)
        )

    def client(self, service: str = "s3", access_key: str = "", secret_key: str = ""):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
        )

    def bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return sorted(o["Key"] for page in pages for o in page.get("Contents", ()))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
    "<Message>injected by the fault proxy</Message></Error>"
)


class FaultProxy:
    """HTTP proxy to ``upstream``; ``mode`` decides what a request gets:
    ``ok`` (forwarded), ``down`` (connection closed, no answer), ``hang`` (held until the
    mode changes), ``500``/``503`` (an S3 error answer); see :meth:`fail_after`. ``delay``
    slows every forwarded answer."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.mode = "ok"
        self.delay = 0.0
        self.requests = 0
        self._budget: int | None = None
        self._next_mode = "ok"
        self._times: int | None = None
        self._changed = threading.Condition()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                """The request body as sent: chunked (with trailers) kept byte for byte."""
                if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0))
                raw = bytearray()
                while True:
                    line = self.rfile.readline()
                    raw += line
                    size = int(line.split(b";")[0], 16)
                    if size == 0:
                        while (trailer := self.rfile.readline()) not in (b"\r\n", b""):
                            raw += trailer
                        return bytes(raw + b"\r\n")
                    raw += self.rfile.read(size + 2)

            def _handle(self) -> None:
                body = self._body()
                mode = proxy._take()
                if mode == "hang":
                    with proxy._changed:
                        proxy._changed.wait_for(lambda: proxy.mode != "hang", timeout=120)
                    mode = proxy.mode
                if mode == "down":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if mode in ("500", "503"):
                    code = "InternalError" if mode == "500" else "SlowDown"
                    payload = _ERROR.format(code=code).encode()
                    self.send_response(int(mode))
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if proxy.delay:
                    time.sleep(proxy.delay)
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                try:
                    conn.putrequest(
                        self.command, self.path, skip_host=True, skip_accept_encoding=True
                    )
                    for name, value in self.headers.items():
                        conn.putheader(name, value)
                    conn.endheaders()
                    conn.send(body)
                    answer = conn.getresponse()
                    payload = answer.read()
                finally:
                    conn.close()
                self.send_response(answer.status, answer.reason)
                hop = ("transfer-encoding", "connection")
                if self.command != "HEAD":  # a HEAD answer keeps the object's length
                    hop += ("content-length",)
                    self.send_header("Content-Length", str(len(payload)))
                for name, value in answer.getheaders():
                    if name.lower() not in hop:
                        self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that gave up on a held request: expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _take(self) -> str:
        with self._changed:
            self.requests += 1
            if self._budget is not None:
                if self._budget == 0:
                    self.mode, self._budget = self._next_mode, None
                    self._changed.notify_all()
                else:
                    self._budget -= 1
            if self._times is not None and self.mode != "ok":
                self._times -= 1
                if self._times < 0:
                    self.mode, self._times = "ok", None
            return self.mode

    def set(self, mode: str) -> None:
        with self._changed:
            self.mode, self._budget, self._times = mode, None, None
            self._changed.notify_all()

    def fail_after(self, requests: int, mode: str, times: int | None = None) -> None:
        """Let ``requests`` more requests through, then answer ``mode`` (to ``times``
        requests, or until :meth:`set`)."""
        with self._changed:
            self._budget, self._next_mode, self._times = requests, mode, times

    def close(self) -> None:
        self.set("ok")
        self.server.shutdown()
        self.server.server_close()
