"""``logradar alerts test`` and ``logradar alerts list``."""

from __future__ import annotations

import json

from click.testing import CliRunner

from alert_helpers import T0, S, add_incident
from logradar.cli import main
from logradar.store import Store


def config(tmp_path, url: str) -> str:
    path = tmp_path / "logradar.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[alerts]\nui_url = "http://ui.example"\n'
        f'[[alerts.receivers]]\nname = "hook"\ntype = "webhook"\nurl = "{url}"\n'
        'headers = { "X-Token" = "abc" }\n'
    )
    return str(path)


def test_alerts_test_sends_and_prints_the_answer(tmp_path, http_service) -> None:
    service = http_service(lambda r: (200, {}, b"received, thanks"))
    result = CliRunner().invoke(
        main, ["alerts", "test", "--receiver", "hook", "--config", config(tmp_path, service.url)]
    )
    assert result.exit_code == 0, result.output
    assert result.output == "hook (webhook) answered: HTTP 200 received, thanks\n"
    (request,) = service.accepted
    body = request.json()
    assert request.headers["x-token"] == "abc"
    assert body["event"] == "firing" and body["receiver"] == "hook"
    assert body["incident"]["stream"] == "logradar-test"
    assert body["url"] == "http://ui.example/incidents/0"


def test_alerts_test_failures_exit_non_zero(tmp_path, http_service) -> None:
    service = http_service(lambda r: (401, {}, b"bad token"))
    cfg = config(tmp_path, service.url)
    failed = CliRunner().invoke(main, ["alerts", "test", "--receiver", "hook", "--config", cfg])
    assert failed.exit_code == 1
    assert "webhook receiver 'hook' failed: hook: HTTP 401 bad token" in failed.output
    unknown = CliRunner().invoke(main, ["alerts", "test", "--receiver", "pd", "--config", cfg])
    assert unknown.exit_code == 1
    assert "no receiver named 'pd' in [alerts] (receivers: hook)" in unknown.output


def test_alerts_list_shows_open_incidents(tmp_path) -> None:
    data = tmp_path / "data"
    store = Store(f"sqlite:///{data / 'logradar.db'}")
    firing = add_incident(store, "payments")
    resolved = add_incident(store, "web")
    store.update_incident(resolved, now_ns=T0, status="resolved", resolved_ns=T0 + 600 * S)
    store.update_incident(firing, now_ns=T0, anomaly_count=4, suppressed="inhibited")
    store.close()
    run = CliRunner().invoke
    result = run(main, ["alerts", "list", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()
    assert line.startswith(f"#{firing}") and "firing" in line and "payments: s" in line
    assert "4 anomalies" in line and line.endswith("[inhibited]")
    every = run(main, ["alerts", "list", "--all", "--json", "--data-dir", str(data)])
    rows = [json.loads(x) for x in every.output.splitlines()]
    assert {r["id"]: r["status"] for r in rows} == {firing: "firing", resolved: "resolved"}
    empty = run(main, ["alerts", "list", "--data-dir", str(tmp_path / "new")])
    assert empty.output == "no open incidents\n"
