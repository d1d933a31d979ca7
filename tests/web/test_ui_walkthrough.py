"""An SRE's path through the UI in headless Chromium, by keyboard: incidents -> detail ->
context lines -> mark expected; screenshots of every page.

Screenshots go to the test's tmp dir; with ``LOGRADAR_SCREENSHOTS=docs/screenshots`` they
are written there too (the ones in the README come from that run).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from feedback.test_browser_buttons import Page, _wait, browser  # noqa: F401 (fixture)
from helpers import serve_app
from logradar.schema import Severity
from logradar.web import create_app

pytestmark = pytest.mark.integration
S = 10**9
LAPTOP = {"width": 1366, "height": 900, "deviceScaleFactor": 1, "mobile": False}


def _key(page: Page, key: str, code: str, vk: int, text: str | None = None) -> None:
    """Press and release a key, as a person at the keyboard would."""
    down = {"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": vk}
    page.call("Input.dispatchKeyEvent", **down, **({"text": text} if text else {}))
    page.call("Input.dispatchKeyEvent", type="keyUp", key=key, code=code, windowsVirtualKeyCode=vk)


def _tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until ``selector`` has the focus."""
    for _ in range(limit):
        if page.evaluate(f"document.activeElement === document.querySelector('{selector}')"):
            return
        _key(page, "Tab", "Tab", 9)
    raise AssertionError(f"Tab never reached {selector}")


def _enter(page: Page) -> None:
    _key(page, "Enter", "Enter", 13, "\r")


class Shots:
    def __init__(self, tmp: Path) -> None:
        self.dirs = [tmp]
        if target := os.environ.get("LOGRADAR_SCREENSHOTS"):
            self.dirs.append(Path(target))
        self.taken: list[Path] = []

    def take(self, page: Page, name: str) -> None:
        data = base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"])
        assert data.startswith(b"\x89PNG")
        for d in self.dirs:
            d.mkdir(parents=True, exist_ok=True)
            (d / f"{name}.png").write_bytes(data)
        self.taken.append(self.dirs[0] / f"{name}.png")


def _loaded(page: Page, selector: str) -> Callable[[], Any]:
    return lambda: page.evaluate(
        f"document.readyState === 'complete' && !!document.querySelector('{selector}')"
    )


def test_incidents_to_detail_to_context_to_expected_by_keyboard(
    stepped,
    history,
    make_anomaly,
    browser,  # noqa: F811 (the imported fixture)
    tmp_path,
) -> None:
    a = history["anomaly"]
    # another stream with incidents, so the list is not trivially short
    w = 10 * S
    anchor = int(datetime.fromisoformat(a["start"]).timestamp()) * S
    stepped.store.add_anomalies(
        [
            make_anomaly(
                "pay",
                anchor - 40 * w,
                severity=Severity.HIGH,
                template="charge <*> declined",
                explanation="template 7 seen 40 times in 10 s, expected 3 (p < 0.001)",
            ),
            make_anomaly(
                "pay",
                anchor - 20 * w,
                severity=Severity.CRITICAL,
                detector="volume",
                kind="drop",
                template=None,
                explanation="stream pay: 2 lines, expected 180",
            ),
        ]
    )
    shots = Shots(tmp_path / "shots")
    with serve_app(create_app(stepped.pipeline)) as address:
        base_url = f"http://{address}"
        page = browser(base_url + "/")
        page.call("Emulation.setDeviceMetricsOverride", **LAPTOP)
        page.call("Page.navigate", url=base_url + "/")
        _wait(_loaded(page, f'a.open[href="/anomalies/{a["id"]}"]'), "the incidents view")
        assert "Nothing was stored in the last 24h" in page.evaluate("document.body.innerText")
        shots.take(page, "incidents")

        # keyboard: Tab to the incident's link, Enter opens the detail page
        _tab_to(page, f'a.open[href="/anomalies/{a["id"]}"]')
        _enter(page)
        _wait(_loaded(page, "#template-chart"), "the detail page")
        assert page.evaluate("location.pathname") == f"/anomalies/{a['id']}"
        shots.take(page, "anomaly-detail")

        # the context lines: the example highlighted among its neighbours
        hit = page.evaluate("document.querySelector('li.hit').textContent")
        assert history["error"] in hit
        around = page.evaluate("document.querySelector('ol.ctx').innerText")
        for line in (*history["before"], *history["after"]):
            assert line in around
        page.evaluate("document.getElementById('examples-h').scrollIntoView()")
        shots.take(page, "anomaly-context")

        # keyboard: Tab to "Mark expected", Enter; the page updates in place
        page.evaluate("window.scrollTo(0, 0)")
        _tab_to(page, f'button[data-feedback="expected"][data-id="{a["id"]}"]')
        _enter(page)
        _wait(lambda: stepped.store.get_anomaly(a["id"])["status"] == "expected", "expected")
        _wait(
            lambda: page.evaluate("document.getElementById('status').textContent") == "expected",
            "the page to show the new status",
        )
        message = _wait(
            lambda: page.evaluate("document.getElementById('feedback-msg').textContent"), "message"
        )
        assert f"#{a['id']} marked expected" in message
        shots.take(page, "anomaly-expected")

        page.call("Page.navigate", url=base_url + "/templates?stream=web")
        _wait(_loaded(page, "#templates"), "the templates view")
        text = page.evaluate("document.getElementById('templates').innerText")
        assert "disk" in text and "expected" in text
        shots.take(page, "templates")

        page.call("Page.navigate", url=base_url + "/anomalies?since=1000w")
        _wait(_loaded(page, "#anomalies"), "the anomalies list")
        shots.take(page, "anomalies")
    assert len(shots.taken) == 6
