"""``logradar expected`` / ``mute`` / ``unmute`` against a real uvicorn server."""

from __future__ import annotations

import socket

from click.testing import CliRunner

from logradar.commands.feedback import expected_command, mute_command, unmute_command

S = 10**9
T0 = 1_700_000_000 * S


def _anomaly(h) -> dict:
    h.send("web", ["shard 4 rebalanced"], T0 + S)
    h.run(T0 + 15 * S)
    [a] = h.anomalies()
    return a


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_expected_marks_the_anomaly(harness, serve):
    h = harness()
    url = serve(h)
    a = _anomaly(h)
    r = CliRunner().invoke(expected_command, [str(a["id"]), "--url", url])
    assert r.exit_code == 0, r.output
    assert f"#{a['id']}" in r.output and "web" in r.output
    assert h.anomalies()[0]["status"] == "expected"


def test_expected_unknown_anomaly_fails_with_the_reason(harness, serve):
    url = serve(harness())
    r = CliRunner().invoke(expected_command, ["4242", "--url", url])
    assert r.exit_code == 1
    assert "404" in r.output and "no anomaly with id 4242" in r.output


def test_server_down_is_a_clear_error(harness):
    url = _dead_url()
    r = CliRunner().invoke(expected_command, ["1", "--url", url])
    assert r.exit_code == 1
    assert f"cannot reach logradar at {url}" in r.output


def test_token_is_sent(harness, serve):
    tokens = [{"token": "t0k", "scopes": ["read"]}, {"token": "shipper"}]
    h = harness(auth={"enabled": True, "tokens": tokens})
    url = serve(h)
    a = _anomaly(h)
    denied = CliRunner().invoke(expected_command, [str(a["id"]), "--url", url])
    assert denied.exit_code == 1 and "401" in denied.output
    ingest_only = CliRunner().invoke(
        expected_command, [str(a["id"]), "--url", url, "--token", "shipper"]
    )
    assert ingest_only.exit_code == 1 and "(403)" in ingest_only.output
    assert "lacks the 'read' scope" in ingest_only.output
    ok = CliRunner().invoke(expected_command, [str(a["id"]), "--url", url, "--token", "t0k"])
    assert ok.exit_code == 0, ok.output
    env = CliRunner(env={"LOGRADAR_TOKEN": "t0k", "LOGRADAR_URL": url})
    assert env.invoke(mute_command, ["--stream", "web", "--for", "5m"]).exit_code == 0


def test_mute_then_unmute(harness, serve):
    h = harness()
    url = serve(h)
    r = CliRunner().invoke(
        mute_command,
        ["--stream", "web", "--template", "3", "--for", "2h", "--reason", "noisy", "--url", url],
    )
    assert r.exit_code == 0, r.output
    [mute] = h.store.list_mutes()
    assert (mute.stream, mute.template_id, mute.reason) == ("web", 3, "noisy")
    assert f"mute #{mute.id}" in r.output and "stream web and template #3" in r.output
    assert CliRunner().invoke(unmute_command, [str(mute.id), "--url", url]).exit_code == 0
    assert h.store.list_mutes() == []
    again = CliRunner().invoke(unmute_command, [str(mute.id), "--url", url])
    assert again.exit_code == 1 and "404" in again.output


def test_mute_usage_errors_and_server_side_validation(harness, serve):
    url = serve(harness())
    run = CliRunner().invoke
    assert run(mute_command, ["--for", "1h", "--url", url]).exit_code == 2
    assert run(mute_command, ["--stream", "web", "--url", url]).exit_code == 2
    bad = run(mute_command, ["--stream", "web", "--for", "a while", "--url", url])
    assert bad.exit_code == 1 and "400" in bad.output and "duration" in bad.output
