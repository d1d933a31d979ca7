"""The UI buttons in headless Chromium (driven over the DevTools protocol) against uvicorn."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

S = 10**9
T0 = 1_700_000_000 * S
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


#: Deadlines for conditions, generous for a loaded machine: Chromium took over 20 s to start
#: on 2 busy cores. Waits end as soon as the condition holds.
DEADLINE_SECONDS = 90


def _wait(check: Callable[[], Any], what: str, seconds: float = DEADLINE_SECONDS) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Page:
    """One Chromium page over the DevTools protocol. A thread reads every message: it answers
    HTTP auth prompts as a user would (``credentials`` typed in, or Cancel when None) and
    records each challenge in :attr:`challenges`."""

    def __init__(self, ws_url: str, credentials: tuple[str, str] | None, prompts: bool) -> None:
        self._ws = connect(ws_url, max_size=None, legacy=True)  # closed in close()
        self._ids = count(1)
        self._answers: dict[int, dict[str, Any]] = {}
        self._arrived = threading.Condition()
        self._send_lock = threading.Lock()
        self._credentials = credentials
        self.challenges: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()
        if prompts:  # pause every request so that auth challenges reach us
            self.call("Fetch.enable", handleAuthRequests=True, patterns=[{"urlPattern": "*"}])

    def _send(self, msg_id: int, method: str, params: dict[str, Any]) -> None:
        with self._send_lock:
            self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))

    def _read(self) -> None:
        try:
            for raw in self._ws:
                msg = json.loads(raw)
                method, params = msg.get("method"), msg.get("params", {})
                if method == "Fetch.requestPaused":
                    self._send(0, "Fetch.continueRequest", {"requestId": params["requestId"]})
                elif method == "Fetch.authRequired":
                    self.challenges.append(params["authChallenge"])
                    if self._credentials is None:
                        answer = {"response": "CancelAuth"}
                    else:
                        user, password = self._credentials
                        answer = {
                            "response": "ProvideCredentials",
                            "username": user,
                            "password": password,
                        }
                    self._send(
                        0,
                        "Fetch.continueWithAuth",
                        {"requestId": params["requestId"], "authChallengeResponse": answer},
                    )
                elif msg.get("id"):
                    with self._arrived:
                        self._answers[msg["id"]] = msg
                        self._arrived.notify_all()
        except ConnectionClosed:
            pass

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self._ids)
        self._send(msg_id, method, params)
        with self._arrived:
            if not self._arrived.wait_for(lambda: msg_id in self._answers, DEADLINE_SECONDS):
                raise AssertionError(f"no answer to {method}")
            return self._answers.pop(msg_id)["result"]

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def close(self) -> None:
        self._ws.close()


@pytest.fixture
def browser(tmp_path) -> Iterator[Callable[..., Page]]:
    """Open a URL in headless Chromium; return its :class:`Page`.

    ``credentials`` (user, password) answer HTTP auth prompts; ``prompts=True`` without them
    cancels the prompts.
    """
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed")
        pytest.skip("chromium is not installed")
    procs: list[subprocess.Popen] = []
    pages: list[Page] = []

    def open_page(
        url: str, credentials: tuple[str, str] | None = None, prompts: bool = False
    ) -> Page:
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
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        port_file = profile / "DevToolsActivePort"
        port = _wait(lambda: port_file.exists() and port_file.read_text().split()[:1], "devtools")[
            0
        ]
        targets = _wait(
            lambda: [
                t
                for t in httpx.get(f"http://127.0.0.1:{port}/json/list").json()
                if t["type"] == "page"
            ],
            "the page target",
        )
        page = Page(
            targets[0]["webSocketDebuggerUrl"], credentials, prompts or credentials is not None
        )
        pages.append(page)
        page.call("Page.navigate", url=url)
        return page

    yield open_page
    for page in pages:
        page.close()
    for proc in procs:
        proc.kill()
        proc.wait()


@pytest.mark.integration
def test_buttons_mark_expected_and_mute(harness, serve, browser):
    h = harness()
    h.send("web", ["shard 4 rebalanced"], T0 + S)
    h.run(T0 + 15 * S)
    [a] = h.anomalies()
    evaluate = browser(serve(h) + "/anomalies?since=1000w").evaluate
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


READER = "r3ader-t0ken"
SHIPPER = "sh1pper-t0ken"
AUTH = {
    "enabled": True,
    "tokens": [
        {"token": READER, "tenant": "people", "scopes": ["read"]},
        {"token": SHIPPER, "tenant": "shippers"},  # default scopes: ingest only
    ],
}


def _is_basic_logradar(challenge: dict[str, Any]) -> bool:
    return challenge["scheme"].lower() == "basic" and challenge["realm"] == "logradar"


@pytest.mark.integration
@pytest.mark.parametrize("how", ["prompt", "url"])
def test_signed_in_browser_refreshes_and_gives_feedback_with_auth_on(harness, serve, browser, how):
    """The page challenges the browser (Basic); a read token typed into the prompt, or put in
    the URL, signs in, and the page's own requests (refresh, feedback POSTs) carry it."""
    h = harness(auth=AUTH)
    h.send("web", ["shard 4 rebalanced"], T0 + S)
    h.run(T0 + 15 * S)
    [a] = h.anomalies()
    url = serve(h) + "/anomalies?since=1000w"
    if how == "prompt":
        page = browser(url, credentials=("viewer", READER))
    else:
        page = browser(url.replace("http://", f"http://viewer:{READER}@"))
    evaluate = page.evaluate
    expected_button = f'button[data-feedback="expected"][data-id="{a["id"]}"]'
    _wait(lambda: evaluate(f"!!document.querySelector('{expected_button}')"), "the row")
    if how == "prompt":
        assert page.challenges and all(_is_basic_logradar(c) for c in page.challenges)

    h.send("web", ["disk 7 remounted read-only"], T0 + 21 * S)  # a second anomaly
    h.run(T0 + 35 * S)
    assert len(h.anomalies()) == 2
    _wait(lambda: evaluate("document.querySelectorAll('tr.anomaly').length") == 2, "refresh")

    evaluate(f"document.querySelector('{expected_button}').click()")
    _wait(lambda: h.store.get_anomaly(a["id"])["status"] == "expected", "the expected mark")
    message = _wait(lambda: evaluate("document.getElementById('feedback-msg').textContent"), "msg")
    assert f"#{a['id']} marked expected" in message

    evaluate("document.querySelector('button[data-feedback=\"mute\"]').click()")
    assert _wait(h.store.list_mutes, "a mute")


@pytest.mark.integration
@pytest.mark.parametrize(
    ("credentials", "title"),
    [(None, "Sign-in required"), (("bot", SHIPPER), "Not allowed")],
)
def test_browser_without_a_read_token_sees_no_data(harness, serve, browser, credentials, title):
    """Cancelling the prompt shows the sign-in page; an ingest-only token gets 403."""
    h = harness(auth=AUTH)
    h.send("web", ["shard 4 rebalanced"], T0 + S)
    h.run(T0 + 15 * S)
    assert h.anomalies()
    page = browser(serve(h) + "/anomalies?since=1000w", credentials=credentials, prompts=True)
    body = "document.body && document.body.innerText"

    def final_page() -> str | None:  # not an intermediate document shown while loading
        text = page.evaluate(body)
        return text if text and title in text else None

    text = _wait(final_page, f"the {title!r} page")
    assert "rebalanced" not in text
    rows = "document.querySelectorAll('tr.anomaly, button[data-feedback]').length"
    assert page.evaluate(rows) == 0
    assert page.challenges and _is_basic_logradar(page.challenges[0])
