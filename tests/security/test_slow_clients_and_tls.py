"""Slow clients and TLS on the real server (issue 17, item 7, and the README's TLS advice):
a head that never ends is cut, a body that trickles gets 408, connections are capped, and
``--tls-cert/--tls-key`` serve HTTPS (a self-signed certificate made by openssl)."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from _up import UpServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SLOW_CLIENT_ENV = {
    "LOGRADAR_SERVER__HEADER_TIMEOUT_SECONDS": "2",
    "LOGRADAR_SERVER__BODY_TIMEOUT_SECONDS": "2",
    "LOGRADAR_SERVER__MAX_CONNECTIONS": "4",
}


def self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    names = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run([*request, *names, *files], check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[UpServer]:
    folder = tmp_path_factory.mktemp("tls")
    up = UpServer(folder / "data", env=SLOW_CLIENT_ENV, tls=self_signed(folder))
    yield up
    up.stop()


def tls_socket(up: UpServer) -> ssl.SSLSocket:
    assert isinstance(up.verify, ssl.SSLContext)
    port = int(up.url.rsplit(":", 1)[1])
    raw = socket.create_connection(("127.0.0.1", port), timeout=60)
    return up.verify.wrap_socket(raw, server_hostname="127.0.0.1")


def closed_by_server(sock: ssl.SSLSocket) -> bool:
    """Blocks until the server ends the connection (True) or the 60 s socket timeout."""
    try:
        return sock.recv(1024) == b""
    except (TimeoutError, ssl.SSLError, OSError) as e:
        return not isinstance(e, TimeoutError)


def test_https_with_the_given_certificate_and_no_plain_http(server):
    assert httpx.get(server.url + "/healthz", verify=server.verify).status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url.replace("https", "http") + "/healthz", timeout=5)


def test_a_head_that_never_ends_is_cut_and_frees_its_slot(server):
    idle = [tls_socket(server) for _ in range(4)]
    idle[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # never ends
    try:
        full = httpx.get(server.url + "/healthz", verify=server.verify, timeout=30)
        assert full.status_code == 503  # max_connections reached
        assert all(closed_by_server(sock) for sock in idle)  # by the 2 s deadline
    finally:
        for sock in idle:
            sock.close()
    assert httpx.get(server.url + "/healthz", verify=server.verify).status_code == 200


def test_a_trickling_body_gets_408(server):
    sock = tls_socket(server)
    head = (
        b"POST /api/v1/logs?stream=s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: text/plain\r\nContent-Length: 100\r\n\r\n"
    )
    sock.sendall(head + b"only ten b")
    answer = b""
    while chunk := sock.recv(4096):
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"did not arrive within 2 s" in answer
