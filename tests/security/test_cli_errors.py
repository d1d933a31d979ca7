"""One-line errors, not tracebacks (issue 17, item 8): an unreachable PostgreSQL at start,
``postgres://`` URLs (accepted), ``logradar send --url host:port`` without a scheme."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from logradar.store import Store


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "logradar", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        input="a line\n",
    )


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_unreachable_postgresql_at_start_is_one_line(tmp_path):
    env = {"LOGRADAR_STORE__URL": "postgresql+psycopg://logradar:secret@127.0.0.1:1/logradar"}
    result = run_cli("up", "--data-dir", str(tmp_path / "d"), "--port", "0", env=env)
    line = one_line_error(result)
    assert "cannot open the store" in line and "127.0.0.1:1" in line
    assert "secret" not in line  # the password is hidden


def test_postgres_scheme_urls_are_accepted(pg_url):
    for scheme in ("postgres://", "postgresql://"):
        url = scheme + pg_url.split("://", 1)[1]
        store = Store(url)
        assert store.engine.url.drivername == "postgresql+psycopg"
        store.engine.dispose()


def test_unsupported_store_url_is_one_line(tmp_path):
    env = {"LOGRADAR_STORE__URL": "mysql://root@127.0.0.1/logs"}
    line = one_line_error(run_cli("up", "--data-dir", str(tmp_path / "d"), env=env))
    assert "postgresql+psycopg://" in line


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "localhost:8080", "ftp://host/"])
def test_send_without_an_http_scheme_fails_at_once(url):
    line = one_line_error(run_cli("send", "-", "--url", url, "--stream", "s"))
    assert "--url" in line and "http://" in line
