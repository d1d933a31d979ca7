"""The page in headless Chromium, served by a real uvicorn server on a free port."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from helpers import serve_app
from logradar.schema import now_ns
from logradar.store import ALL_TEMPLATES
from logradar.web import create_app

S = 10**9
W = 10 * S
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAYLOAD = "<img src=x onerror=\"document.title='pwned'\">"


@pytest.fixture
def base_url(pipeline) -> Iterator[str]:
    with serve_app(create_app(pipeline)) as address:
        yield f"http://{address}"


def dump_dom(url: str, profile: str, virtual_ms: int) -> str:
    """The DOM of ``url`` after ``virtual_ms`` of virtual time (timers run, no waiting)."""
    if CHROMIUM is None:
        reason = "chromium is not installed (scripts/install-test-deps.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--virtual-time-budget={virtual_ms}",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


@pytest.mark.integration
def test_page_renders_rows_and_chart_and_refreshes(
    base_url, pipeline, store, make_anomaly, tmp_path, monkeypatch
):
    t = now_ns() // W * W - 20 * W
    store.add_window_counts(
        [
            (s, t + i * W, t + (i + 1) * W, ALL_TEMPLATES, n + i)
            for i in range(20)
            for s, n in (("web", 5), ("db", 1))
        ]
    )
    store.add_anomalies(
        [make_anomaly("web", t + 5 * W), make_anomaly("db", t + 9 * W, examples=[PAYLOAD])]
    )
    renders = 0
    health = pipeline.health

    def health_then_new_anomaly() -> dict[str, Any]:
        """Called once per page render: after the first, the 'engine' stores one more."""
        nonlocal renders
        renders += 1
        if renders == 1:
            store.add_anomalies([make_anomaly("web", t + 15 * W, kind="late_arrival")])
        return health()

    monkeypatch.setattr(pipeline, "health", health_then_new_anomaly)
    dom = dump_dom(base_url + "/anomalies", str(tmp_path / "profile"), virtual_ms=12_000)

    assert renders >= 2, "the page did not refresh itself"
    newest_first = [a["id"] for a in store.list_anomalies()]
    assert len(newest_first) == 3
    assert [int(i) for i in re.findall(r'id="anomaly-(\d+)"', dom)] == newest_first
    assert "late_arrival" in dom
    assert 'id="volume-chart"' in dom
    assert dom.count("<polyline") == 2
    assert "<title>logradar</title>" in dom  # the payload did not run
    assert "&lt;img src=x onerror=" in dom
