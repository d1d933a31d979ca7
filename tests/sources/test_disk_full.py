"""A tank append that fails for lack of space answers 503 + Retry-After and recovers by
itself once space is back (issue 17, item 4).

The disk is made full inside SQLite itself: ``PRAGMA max_page_count`` at the current size
makes the tank's next INSERT fail with SQLite's own SQLITE_FULL ("database or disk is full"),
exactly as a full file system does.
"""

from __future__ import annotations

import pytest

from helpers import tank_rows
from logradar.tank import sqlite as sqlite_tank

UNLIMITED_PAGES = 1_073_741_823


@pytest.fixture
def disk(monkeypatch) -> dict[str, bool]:
    """``disk["full"] = True`` makes every following tank transaction run out of pages."""
    state = {"full": False}
    real_execute = sqlite_tank._Connection.execute

    def execute(self, sql, *args):
        if sql == "BEGIN IMMEDIATE":
            pages = 1 if state["full"] else UNLIMITED_PAGES
            real_execute(self, f"PRAGMA max_page_count = {pages}")
        return real_execute(self, sql, *args)

    monkeypatch.setattr(sqlite_tank._Connection, "execute", execute)
    return state


def post(c, lines: list[str]):
    body = "\n".join(lines).encode()
    return c.post("/api/v1/logs?stream=s", content=body, headers={"Content-Type": "text/plain"})


def test_a_full_disk_answers_503_with_retry_after_then_recovers(make_client, disk):
    c, p = make_client(backpressure={"min_free_disk_bytes": 0, "retry_after_seconds": 3})
    assert post(c, ["before"]).status_code == 200
    disk["full"] = True
    refused = post(c, ["x" * 50_000] * 20)
    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"] == "3"
    assert "full" in refused.json()["error"]
    disk["full"] = False
    assert post(c, ["after"]).status_code == 200
    assert [r["message"] for r in tank_rows(p)] == ["before", "after"]
    assert (
        'logradar_requests_rejected_total{reason="503",source="api"} 1.0' in c.get("/metrics").text
    )
