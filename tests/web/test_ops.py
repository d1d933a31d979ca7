"""``/healthz`` and ``/metrics``, against the tiny pipeline and the real one."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from logradar.config import Settings
from logradar.web import create_app


@pytest.mark.parametrize(("status", "code"), [("ok", 200), ("degraded", 503)])
def test_healthz_status_code_follows_status(client, pipeline, status, code):
    pipeline.status = status
    r = client.get("/healthz")
    assert r.status_code == code
    assert r.json() == {"status": status, "components": {"engine": "running"}}


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_is_prometheus_text_with_fresh_gauges(client, pipeline):
    client.post("/api/v1/logs", content="a\nb\nc\n", headers={"content-type": "text/plain"})
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _samples(r.text)
    assert pipeline.gauge_refreshes == 1
    assert samples[("logradar_consumer_lag_lines", (("consumer", "engine"),))] == 7
    assert samples[("logradar_lines_accepted_total", (("source", "api"),))] == 3


def test_real_pipeline_behind_the_app(tmp_path):
    """The app against the lead's Pipeline, built but not started (no threads)."""
    from logradar.pipeline import Pipeline  # imported here: it pulls in the whole engine

    pipeline = Pipeline(Settings(data_dir=tmp_path))
    try:
        with TestClient(create_app(pipeline)) as client:
            posted = client.post(
                "/api/v1/logs?stream=app",
                content="x\ny\n",
                headers={"content-type": "text/plain"},
            )
            assert posted.json() == {"accepted": 2}
            health = client.get("/healthz")
            assert health.status_code == 503  # threads not started
            assert health.json()["status"] == "degraded"
            samples = _samples(client.get("/metrics").text)
            assert samples[("logradar_consumer_lag_lines", (("consumer", "engine"),))] == 2
            assert client.get("/api/v1/anomalies").json() == []
            assert client.get("/").status_code == 200
    finally:
        pipeline.stop(timeout=1)
