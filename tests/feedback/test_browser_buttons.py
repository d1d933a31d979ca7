"""The UI buttons in headless Chromium (driven over the DevTools protocol) against uvicorn."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

S = 10**9
T0 = 1_700_000_000 * S
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _wait(check: Callable[[], Any], what: str, seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def browser(tmp_path) -> Iterator[Callable[[str], Callable[[str], Any]]]:
    """Open a URL in headless Chromium; return a function evaluating JavaScript in it."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed")
        pytest.skip("chromium is not installed")
    procs: list[subprocess.Popen] = []

    def open_page(url: str) -> Callable[[str], Any]:
        profile = Path(tmp_path / f"profile{len(procs)}")
        proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        port_file = profile / "DevToolsActivePort"
        port = _wait(lambda: port_file.exists() and port_file.read_text().split()[0], "devtools")
        pages = _wait(
            lambda: [
                t
                for t in httpx.get(f"http://127.0.0.1:{port}/json/list").json()
                if t["type"] == "page"
            ],
            "the page target",
        )
        ws = connect(pages[0]["webSocketDebuggerUrl"], max_size=None)
        ids = count(1)

        def evaluate(expression: str) -> Any:
            msg_id = next(ids)
            ws.send(
                json.dumps(
                    {
                        "id": msg_id,
                        "method": "Runtime.evaluate",
                        "params": {"expression": expression, "returnByValue": True},
                    }
                )
            )
            while True:
                answer = json.loads(ws.recv(timeout=20))
                if answer.get("id") == msg_id:
                    return answer["result"]["result"].get("value")

        return evaluate

    yield open_page
    for proc in procs:
        proc.kill()
        proc.wait()


@pytest.mark.integration
def test_buttons_mark_expected_and_mute(harness, serve, browser):
    h = harness()
    h.send("web", ["shard 4 rebalanced"], T0 + S)
    h.run(T0 + 15 * S)
    [a] = h.anomalies()
    evaluate = browser(serve(h) + "/?since=1000w")
    expected_button = f'button[data-feedback="expected"][data-id="{a["id"]}"]'
    _wait(lambda: evaluate(f"!!document.querySelector('{expected_button}')"), "the row")

    evaluate(f"document.querySelector('{expected_button}').click()")
    _wait(lambda: h.anomalies()[0]["status"] == "expected", "the anomaly to be expected")
    message = _wait(lambda: evaluate("document.getElementById('feedback-msg').textContent"), "msg")
    assert f"#{a['id']} marked expected" in message

    evaluate("document.querySelector('button[data-feedback=\"mute\"]').click()")
    [mute] = _wait(h.store.list_mutes, "a mute")
    assert (mute.stream, mute.template_id) == ("web", a["template_id"])
    assert 3500 * S < mute.until_ns - mute.created_ns <= 3600 * S
