"""``logradar anomalies`` / ``logradar incidents``: the store's rows with the API's filters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from logradar.cli import main
from logradar.schema import Anomaly, Severity
from logradar.store import Store

S = 10**9
T0 = 1_709_294_400 * S  # 2024-03-01T12:00:00Z


def anomaly(detector: str, stream: str, start: int, severity: Severity) -> Anomaly:
    return Anomaly(
        detector, "spike", stream, start, start + 10 * S, 0.9, severity,
        f"{detector} on [{stream}] at {start}", examples=["GET /a 500"],
    )  # fmt: skip


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    store = Store(f"sqlite:///{tmp_path / 'logradar.db'}")
    try:
        ids = store.add_anomalies(
            [
                anomaly("frequency", "pay", T0, Severity.HIGH),
                anomaly("new_pattern", "pay", T0 + 60 * S, Severity.MEDIUM),
                anomaly("frequency", "web", T0 + 120 * S, Severity.LOW),
            ]
        )
        incident = store.add_incident(
            group_key="{}", stream="pay", detector="frequency", kind="spike", template_id=None,
            status="resolved", first_seen_ns=T0, last_seen_ns=T0 + 60 * S, anomaly_count=2,
            summary="pay: 40 vs 3", severity=Severity.HIGH, now_ns=T0,
        )  # fmt: skip
        store.link_anomalies(incident, [i for i, _ in ids[:2]])
        store.add_incident(
            group_key='{"x": 1}', stream="web", detector="silence", kind="silence",
            template_id=None, status="firing", first_seen_ns=T0 + 300 * S,
            last_seen_ns=T0 + 300 * S, anomaly_count=1, summary="web quiet",
            severity=Severity.MEDIUM, now_ns=T0,
        )  # fmt: skip
    finally:
        store.close()
    return tmp_path


def run(*args: str) -> list[dict]:
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def ids(rows: list[dict], key: str = "explanation") -> list[str]:
    return [r[key].split(" on ")[0] + "@" + r["stream"] for r in rows]


def test_anomalies_newest_first_with_every_filter(data_dir: Path) -> None:
    d = ("--data-dir", str(data_dir))
    assert ids(run("anomalies", *d)) == ["frequency@web", "new_pattern@pay", "frequency@pay"]
    assert ids(run("anomalies", *d, "--stream", "pay")) == ["new_pattern@pay", "frequency@pay"]
    assert ids(run("anomalies", *d, "--severity", "medium")) == [
        "new_pattern@pay",
        "frequency@pay",
    ]
    assert ids(run("anomalies", *d, "--detector", "frequency")) == [
        "frequency@web",
        "frequency@pay",
    ]
    since = ("--since", "2024-03-01T12:01:05Z")
    assert ids(run("anomalies", *d, *since)) == ["frequency@web", "new_pattern@pay"]
    assert ids(run("anomalies", *d, "--until", "2024-03-01T13:01:00+01:00")) == ["frequency@pay"]
    assert ids(run("anomalies", *d, "--limit", "1")) == ["frequency@web"]
    rows = run("anomalies", *d, "--stream", "pay")
    assert {r["incident_id"] for r in rows} == {rows[0]["incident_id"]} != {None}


def test_incidents_with_filters(data_dir: Path) -> None:
    d = ("--data-dir", str(data_dir))
    assert [i["summary"] for i in run("incidents", *d)] == ["web quiet", "pay: 40 vs 3"]
    assert [i["summary"] for i in run("incidents", *d, "--status", "resolved")] == ["pay: 40 vs 3"]
    assert [i["summary"] for i in run("incidents", *d, "--severity", "high")] == ["pay: 40 vs 3"]
    assert [i["summary"] for i in run("incidents", *d, "--detector", "silence")] == ["web quiet"]
    assert [i["summary"] for i in run("incidents", *d, "--until", "1709294500")] == ["pay: 40 vs 3"]


def test_table_shows_text_as_is(data_dir: Path) -> None:
    result = CliRunner().invoke(main, ["anomalies", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "3 anomalies" in result.output
    assert "frequency on [pay]" in result.output  # brackets are not taken as markup


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "not ISO-8601"),
        (["--until", "2024-03-01T12:00:00"], "no time zone"),
        (["--severity", "urgent"], "urgent"),
        (["--stream", "bad name!"], "--stream"),
    ],
)
def test_bad_filters_are_one_line_errors(data_dir: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["anomalies", "--data-dir", str(data_dir), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_data_dir_without_store_is_an_error_and_stays_empty(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["incidents", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "no store at" in result.output
    assert not (tmp_path / "none").exists()
