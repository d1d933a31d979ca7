"""The UI's feedback buttons: rendered per anomaly, driven by the nonce'd inline script."""

from __future__ import annotations

import re

S = 10**9
T0 = 1_700_000_000 * S
HTML = {"Accept": "text/html"}  # without it, GET / is the Elasticsearch handshake


def test_rows_have_feedback_buttons_and_status(harness, client_for):
    h = harness()
    client = client_for(h)
    h.send("web", ["shard 4 rebalanced"], T0 + S)
    h.run(T0 + 15 * S)
    [a] = h.anomalies()
    page = client.get("/anomalies?since=1000w", headers=HTML)
    assert page.status_code == 200
    html = page.text
    assert f'data-feedback="expected" data-id="{a["id"]}"' in html
    assert re.search(
        rf'data-feedback="mute" data-stream="web"\s+data-template="{a["template_id"]}"', html
    )
    nonce = re.search(r"script-src 'nonce-([^']+)'", page.headers["content-security-policy"])[1]
    assert f'<script nonce="{nonce}">' in html and "/api/v1/mutes" in html

    client.post(f"/api/v1/anomalies/{a['id']}/expected", json={})
    html = client.get("/anomalies?since=1000w", headers=HTML).text
    assert '<span class="status">expected</span>' in html
    assert f'data-feedback="expected" data-id="{a["id"]}"' not in html
