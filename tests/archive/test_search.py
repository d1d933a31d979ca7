"""``logradar search`` and ``GET /api/v1/search`` over a real archive: exact results."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from logradar.archive.parquet import ParquetArchiver
from logradar.cli import main
from logradar.config import Settings
from logradar.metrics import Metrics
from logradar.schema import ingest_table
from logradar.sources.auth import Authenticator
from logradar.store import Store
from logradar.tank import SqliteTank
from logradar.web import create_app

HOUR_NS = 3_600_000_000_000
T0 = 1_764_075_600_000_000_000  # 2025-11-25T13:00:00Z
READER, SHIPPER = "r3ad-only-t0ken", "sh1pper-t0ken"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("search") / "data"
    tank = SqliteTank(data / "tank.db")
    tank.append(ingest_table("web", ["GET /a 200", "GET /b 500 Error"], [T0, T0 + 1]))
    tank.append(ingest_table("web", ["POST /c 500 error"], T0 + HOUR_NS))
    tank.append(ingest_table("db", ["query failed: ERROR 42"], T0 + 5))
    archiver = ParquetArchiver(tank, str(data / "archive"))
    archiver.flush()
    tank.append(ingest_table("web", ["GET /d 204"], T0 + 2 * HOUR_NS))
    archiver.flush()  # a second file in another hour
    tank.close()
    return data


def run(*args: str) -> list[dict]:
    result = CliRunner().invoke(main, ["search", *args, "--json"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def messages(found: list[dict]) -> list[str]:
    return [row["message"] for row in found]


def test_cli_substring_regex_case_and_filters(data_dir):
    d = ["--data-dir", str(data_dir)]
    assert messages(run(*d, "error")) == ["POST /c 500 error"]
    assert messages(run(*d, "-i", "error")) == [
        "POST /c 500 error",
        "query failed: ERROR 42",
        "GET /b 500 Error",
    ]
    assert messages(run(*d, "--regex", r"^GET /[a-c] \d+$")) == ["GET /a 200"]
    assert messages(run(*d, "-E", "-i", r"^(get|post) .* 500")) == [
        "POST /c 500 error",
        "GET /b 500 Error",
    ]
    assert messages(run(*d, "--stream", "web", "--limit", "2")) == [
        "GET /d 204",
        "POST /c 500 error",
    ]
    since, until = "2025-11-25T14:00:00Z", "2025-11-25T15:00:00Z"
    assert messages(run(*d, "--since", since, "--until", until)) == ["POST /c 500 error"]
    early = run(*d, "--stream", "web", "--until", "2025-11-25T13:00:00.000001Z")
    assert messages(early) == ["GET /b 500 Error", "GET /a 200"]
    first = run(*d, "--stream", "db")[0]
    assert first == {
        "ts": "2025-11-25T13:00:00.000000005Z",
        "offset": 3,
        "stream": "db",
        "host": None,
        "labels": None,
        "message": "query failed: ERROR 42",
    }
    text = CliRunner().invoke(main, ["search", *d, "--stream", "db"])
    assert text.output == "2025-11-25T13:00:00.000000005Z db query failed: ERROR 42\n"


def test_cli_archive_url_and_errors(data_dir):
    assert len(run("--archive", str(data_dir / "archive"))) == 5
    bad = CliRunner().invoke(main, ["search", "--archive", str(data_dir), "-E", "("])
    assert bad.exit_code == 1 and "missing )" in bad.output
    both = CliRunner().invoke(main, ["search", "--archive", "x", "--data-dir", "y"])
    assert both.exit_code == 2 and "not both" in both.output
    when = CliRunner().invoke(main, ["search", "--archive", "x", "--since", "yesterday"])
    assert when.exit_code == 2 and "--since" in when.output
    scheme = CliRunner().invoke(main, ["search", "--archive", "ftp://x/y"])
    assert scheme.exit_code == 1 and "use a folder, s3://bucket/prefix" in scheme.output


@pytest.fixture
def client(data_dir, tmp_path):
    class Pipeline:  # what the web app uses, without an engine
        settings = Settings(
            data_dir=data_dir,
            server={"host": "0.0.0.0"},
            auth={
                "tokens": [
                    {"token": READER, "scopes": ["read"]},
                    {"token": SHIPPER, "scopes": ["ingest"]},
                ]
            },
        )
        store = Store(f"sqlite:///{tmp_path / 'results.db'}")
        metrics = Metrics()
        auth = Authenticator(settings.auth, settings.auth_enabled)

    with TestClient(create_app(Pipeline())) as c:
        yield c
    Pipeline.store.close()


def test_api_same_filters_and_read_auth(client):
    read = {"Authorization": f"Bearer {READER}"}
    got = client.get("/api/v1/search", params={"q": "ERROR", "ignore_case": "true"}, headers=read)
    assert got.status_code == 200
    assert messages(got.json()["lines"]) == [
        "POST /c 500 error",
        "query failed: ERROR 42",
        "GET /b 500 Error",
    ]
    got = client.get(
        "/api/v1/search",
        params={
            "q": "^GET",
            "regex": "true",
            "stream": "web",
            "since": "2025-11-25T13:00:00Z",
            "until": "2025-11-25T14:00:00Z",
            "limit": "1",
        },
        headers=read,
    )
    assert messages(got.json()["lines"]) == ["GET /b 500 Error"]
    assert got.json()["lines"][0]["ts"] == "2025-11-25T13:00:00.000000001Z"
    bad = client.get("/api/v1/search", params={"q": "(", "regex": "true"}, headers=read)
    assert bad.status_code == 400 and "invalid q" in bad.json()["error"]
    bad = client.get("/api/v1/search", params={"limit": "0"}, headers=read)
    assert bad.status_code == 400 and "limit" in bad.json()["error"]
    assert client.get("/api/v1/search").status_code == 401
    shipper = {"Authorization": f"Bearer {SHIPPER}"}
    assert client.get("/api/v1/search", headers=shipper).status_code == 403
