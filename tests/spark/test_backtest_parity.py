"""``backtest --engine spark`` finds exactly what ``--engine local`` finds."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from logradar import backtest
from logradar.backtest import LocalBacktest
from logradar.schema import Anomaly
from logradar.spark.backtest import SparkBacktest

from .conftest import HDFS, hdfs_settings

pytestmark = pytest.mark.spark

INCIDENT = (
    "081109 {time} 9999 ERROR dfs.DataNode$DataXceiver: 10.250.19.102:50010:"
    "DataXceiver: java.io.IOException: Connection reset by peer on blk_-{n}"
)


def identity(a: Anomaly) -> tuple:
    return (a.detector, a.kind, a.stream, a.template_id, a.template, a.session, a.start, a.end)


def run_both(
    train: Path, test: Path | None, all_detectors: bool = False
) -> tuple[list[Anomaly], list[Anomaly]]:
    settings = hdfs_settings(all_detectors)
    local: list[Anomaly] = []
    spark: list[Anomaly] = []
    LocalBacktest(settings).run(train, test, local.append)
    SparkBacktest(settings).run(train, test, spark.append)
    return local, spark


def with_incident(path: Path) -> Path:
    """HDFS lines 1000-2000 with 300 connection resets in the middle (a burst of errors)."""
    lines = HDFS.read_text(encoding="utf-8").splitlines()[1000:]
    time = lines[500].split()[1]
    burst = [INCIDENT.format(time=time, n=7000 + i) for i in range(300)]
    path.write_text("\n".join([*lines[:500], *burst, *lines[500:]]) + "\n", encoding="utf-8")
    return path


def test_warmup_mode_same_anomalies_over_several_micro_batches(spark, monkeypatch):
    monkeypatch.setattr(backtest, "CHUNK_LINES", 400)  # 5 batches: snapshots must follow
    local, spark_found = run_both(HDFS, None, all_detectors=True)
    assert local, "the HDFS sample yields anomalies after the warm-up"
    assert Counter(map(identity, spark_found)) == Counter(map(identity, local))
    assert [a.to_dict() for a in spark_found] == [a.to_dict() for a in local]


def test_train_test_with_incident_same_anomalies(spark, tmp_path, monkeypatch):
    monkeypatch.setattr(backtest, "CHUNK_LINES", 700)
    train = tmp_path / "train.log"
    train.write_text(
        "\n".join(HDFS.read_text(encoding="utf-8").splitlines()[:1000]) + "\n", encoding="utf-8"
    )
    local, spark_found = run_both(train, with_incident(tmp_path / "test.log"))
    assert any(a.kind and "Connection reset" in (a.template or "") for a in local), [
        json.dumps(a.to_dict())[:200] for a in local
    ]
    assert Counter(map(identity, spark_found)) == Counter(map(identity, local))
