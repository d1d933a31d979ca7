"""A `logradar up` on PostgreSQL with one incident, shared by the dashboard tests of a module."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from _up import UpServer
from conftest import PG_ADMIN_URL

FAST = {  # short windows so the run takes seconds (as tests/e2e does)
    "LOGRADAR_ENGINE__WINDOW_SECONDS": "2",
    "LOGRADAR_ENGINE__LEARNING_SECONDS": "6",
    "LOGRADAR_ENGINE__ALLOWED_LATENESS_SECONDS": "0.5",
    "LOGRADAR_ARCHIVE__FLUSH_SECONDS": "1",
    "LOGRADAR_SERVER__MAX_LINE_BYTES": "4096",
    "LOGRADAR_SERVER__LONG_LINES": "reject",  # so a request can be rejected (a metric series)
}
LTS = "/v2/{project}/lts/groups/g1/streams/{stream}/tenant/contents".format
NEW_ERROR = "ERROR payment gateway handshake failed: certificate expired for host pay-{i}.example"


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def post_lts(url: str, stream: str, lines: list[str]) -> httpx.Response:
    body = {"log_time_ns": time.time_ns(), "contents": lines, "labels": {"hostName": "web-1"}}
    return httpx.post(url + LTS(project="p" * 32, stream=stream), json=body, timeout=10)


@dataclass
class Filled:
    """The running server, its store URL and what it detected."""

    up: UpServer
    store_url: str
    anomaly: dict[str, Any]
    incident_id: int
    started_ns: int


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    """`logradar up` storing in a fresh PostgreSQL database, fed normal traffic and then a
    burst of a new error (a ``new_pattern`` anomaly), with that anomaly in an incident."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    name = f"logradar_dash_{secrets.token_hex(6)}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as e:
        pytest.skip(f"PostgreSQL is unreachable: {e.orig}")
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    started = time.time_ns()
    up = UpServer(
        tmp_path_factory.mktemp("dash") / "data",
        env={**FAST, "LOGRADAR_STORE__URL": url},
        timeout=60,
    )
    try:
        for k in range(30):
            lines = [f"INFO GET /api/items/{k * 10 + j} 200 {12 + j} ms" for j in range(8)]
            assert post_lts(up.url, "web", lines).status_code == 200
            time.sleep(0.25)
        burst = [NEW_ERROR.format(i=i) for i in range(30)]
        assert post_lts(up.url, "web", burst).status_code == 200

        def anomaly() -> dict[str, Any] | None:
            rows = httpx.get(up.url + "/api/v1/anomalies", timeout=5).json()
            return next((a for a in rows if "certificate" in (a.get("template") or "")), None)

        found = wait_for(anomaly, 40, "the new_pattern anomaly")

        def burst_counted() -> bool:
            r = httpx.get(up.url + "/api/v1/templates", params={"stream": "web"}, timeout=5)
            rows = r.json()["templates"]
            return any("certificate" in t["template"] and t["count"] > 0 for t in rows)

        wait_for(burst_counted, 40, "the burst's window counts")
        # The incident: w14's alerting groups anomalies into incidents; its store API is used
        # here directly so the dashboards' incident panels have a row to return.
        from logradar.schema import now_ns
        from logradar.store import Store

        store = Store(url)
        try:
            incident_id = store.add_incident(
                severity=found["severity"],
                now_ns=now_ns(),
                group_key='{"stream": "web"}',
                stream="web",
                detector=found["detector"],
                kind=found["kind"],
                template_id=found["template_id"],
                template=found["template"],
                status="firing",
                first_seen_ns=now_ns(),
                last_seen_ns=now_ns(),
                anomaly_count=1,
                summary="new error on web",
            )
            store.link_anomalies(incident_id, [found["id"]])
        finally:
            store.close()
        yield Filled(up, url, found, incident_id, started)
    finally:
        up.stop()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
