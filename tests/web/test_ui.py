"""The HTML page: content, order, escaping, filter, errors and the inline SVG chart."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from logradar.schema import Severity, now_ns
from logradar.store import ALL_TEMPLATES

S = 10**9
XSS = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"


class Tags(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.tags if t == tag]


def _row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr class="anomaly" id="anomaly-(\d+)"', html)]


def test_page_lists_anomalies_newest_first_with_their_explanation(client, store, make_anomaly):
    now = now_ns()
    store.add_anomalies(
        [
            make_anomaly("web", now - 600 * S, kind="spike", severity=Severity.HIGH),
            make_anomaly("db", now - 60 * S, detector="silence", kind="stream_silent"),
        ]
    )
    r = client.get("/anomalies")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    api_ids = [a["id"] for a in client.get("/api/v1/anomalies").json()]
    assert _row_ids(html) == api_ids
    for text in ("stream_silent", "silence", "GET &lt;*&gt; 500", "3 → 40", "GET /b 500"):
        assert text in html
    assert 'class="sev sev-high">high<' in html
    assert "template 7 seen 40 times, expected 3" in html


def test_untrusted_text_is_escaped_everywhere(client, store, make_anomaly):
    store.add_anomalies(
        [
            make_anomaly(
                start=now_ns() - 60 * S,
                template=f"user {XSS} <*>",
                explanation=f"bad {IMG}",
                examples=[f"</pre>{XSS}", IMG],
            )
        ]
    )
    html = client.get("/anomalies").text
    assert XSS not in html
    assert IMG not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    tags = Tags(html)
    assert len(tags.all("script")) == 1  # only the page's own refresh script
    assert tags.all("img") == []


def test_content_security_policy_allows_only_the_page_script(client):
    r = client.get("/anomalies")
    csp = r.headers["content-security-policy"]
    nonce = re.search(r"script-src 'nonce-([^']+)'", csp)[1]
    tags = Tags(r.text)
    assert [s["nonce"] for s in tags.all("script")] == [nonce]
    assert [s["nonce"] for s in tags.all("style")] == [nonce]
    assert "default-src 'none'" in csp
    assert client.get("/anomalies").headers["content-security-policy"] != csp  # fresh per response


def test_stream_filter(client, store, make_anomaly):
    now = now_ns()
    store.add_anomalies([make_anomaly("web", now - 60 * S), make_anomaly("db", now - 30 * S)])
    html = client.get("/anomalies?stream=web").text
    rows = _row_ids(html)
    web = [a["id"] for a in client.get("/api/v1/anomalies?stream=web").json()]
    assert rows == web and len(rows) == 1
    options = {o["value"]: "selected" in o for o in Tags(html).all("option") if o["value"]}
    assert options["web"] is True
    assert options["db"] is False


def test_time_range_hides_older_anomalies(client, store, make_anomaly):
    now = now_ns()
    store.add_anomalies([make_anomaly(start=now - 3 * 3600 * S), make_anomaly(start=now - 60)])
    assert len(_row_ids(client.get("/anomalies?since=1h").text)) == 1
    assert len(_row_ids(client.get("/anomalies?since=7d").text)) == 2


def test_bad_query_is_a_400_page(client):
    r = client.get("/anomalies?since=<b>soon</b>")
    assert r.status_code == 400
    assert 'role="alert"' in r.text
    assert "&lt;b&gt;soon&lt;/b&gt;" in r.text
    assert "<b>soon" not in r.text
    assert client.get("/anomalies?stream=../x").status_code == 400


def test_empty_store_says_so(client):
    html = client.get("/anomalies").text
    assert "No anomalies in this time range." in html
    assert "No window counts in this time range yet." in html
    assert Tags(html).all("svg") == []


def test_volume_chart_is_inline_svg_with_one_line_per_stream(client, store, make_anomaly):
    w = 10 * S
    t = now_ns() // w * w - 10 * w
    store.add_window_counts(
        [
            (s, t + i * w, t + (i + 1) * w, ALL_TEMPLATES, n)
            for i in range(5)
            for s, n in (("web", 9), ("db", 3))
        ]
    )
    store.add_anomalies([make_anomaly("web", t + 2 * w)])
    tags = Tags(client.get("/anomalies").text)
    svg = tags.all("svg")
    assert svg[0]["id"] == "volume-chart" and svg[0]["role"] == "img"
    assert sorted(p["data-stream"] for p in tags.all("polyline")) == ["db", "web"]
    assert len([line for line in tags.all("line") if line.get("class") == "mark"]) == 1
    assert "<desc" in client.get("/anomalies?stream=db").text
    db_only = Tags(client.get("/anomalies?stream=db").text)
    assert [p["data-stream"] for p in db_only.all("polyline")] == ["db"]
