"""The archive on an S3-protocol server (moto, started here) behind a fault-injecting proxy:
the store going away mid-flush, hanging, slow, answering 500/503, and wrong credentials.

Huawei OBS speaks the same protocol; OBS itself was not reachable from here, so its settings
(``obs://``, endpoint, region, AK/SK, addressing) are exercised against moto.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator

import pytest

from _s3 import FaultProxy, MotoServer
from logradar.archive.layout import open_dataset
from logradar.archive.parquet import CONSUMER, ParquetArchiver
from logradar.config import ArchiveConfig, load_config
from logradar.pipeline import Pipeline
from logradar.schema import ingest_table
from logradar.sources.common import IngestError
from logradar.tank import SqliteTank

HOUR_NS = 3_600_000_000_000
T0 = 1_764_075_600_000_000_000  # 2025-11-25T13:00:00Z


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture
def proxy(moto) -> Iterator[FaultProxy]:
    p = FaultProxy(moto.port)
    yield p
    p.close()


@pytest.fixture
def bucket(moto, request) -> str:
    return moto.bucket(re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:60].strip("-"))


def s3_config(moto: MotoServer, endpoint: str, **extra) -> ArchiveConfig:
    options = {
        "s3_endpoint": endpoint,
        "s3_region": "us-east-1",
        "access_key": moto.access_key,
        "secret_key": moto.secret_key,
        "s3_timeout_seconds": 2,
        "s3_attempts": 1,
    }
    return ArchiveConfig(**{**options, **extra})


def fill(tank: SqliteTank, n: int = 3) -> None:
    """``n`` appends over three partitions: 50 + 30 + 20 lines each round."""
    for r in range(n):
        tank.append(ingest_table("web", [f"GET /a {r} {i}" for i in range(50)], T0))
        tank.append(ingest_table("db", [f"q {r} {i}" for i in range(30)], T0 + HOUR_NS))
        tank.append(ingest_table("web", [f"GET /b {r} {i}" for i in range(20)], T0 + HOUR_NS))


def offsets(url: str, cfg: ArchiveConfig) -> list[int]:
    table = open_dataset(url, cfg).to_table(columns=["offset"])
    return sorted(table.column("offset").to_pylist())


def only_committed_objects(moto: MotoServer, bucket: str, url: str, cfg: ArchiveConfig) -> None:
    """Every data object in the bucket is one the manifest lists (no orphan)."""
    data = {f"{bucket}/{k}" for k in moto.keys(bucket) if k.endswith(".parquet")}
    assert data == set(open_dataset(url, cfg).files)


def test_round_trip_with_the_obs_alias(moto, proxy, bucket, tmp_path):
    cfg = s3_config(moto, proxy.url)
    tank = SqliteTank(tmp_path / "t.db")
    fill(tank, 1)
    url = f"obs://{bucket}/archive"
    assert ParquetArchiver(tank, url, cfg).flush() == 100
    assert offsets(url, cfg) == list(range(100))
    assert offsets(f"s3://{bucket}/archive", cfg) == list(range(100))
    keys = moto.keys(bucket)
    assert "archive/_manifest/00000000000000000001.json" in keys
    assert (
        "archive/stream=db/date=2025-11-25/hour=14/part-00000000000000000000-00000000000000000099.parquet"
        in keys
    )


@pytest.mark.parametrize("fault", ["down", "500", "503"])
def test_store_fails_mid_flush_then_recovers(moto, proxy, bucket, tmp_path, fault):
    """The first file of a flush is stored, then the store fails; more lines arrive; the
    retry covers the same offsets and the next flush the rest: every line once."""
    cfg = s3_config(moto, proxy.url)
    tank = SqliteTank(tmp_path / "t.db")
    fill(tank, 1)
    url = f"s3://{bucket}/archive"
    archiver = ParquetArchiver(tank, url, cfg)
    assert archiver.state is not None  # recovery (a listing and the manifest) done before the fault
    proxy.fail_after(1, fault)
    with pytest.raises(OSError):
        archiver.flush()
    assert tank.committed(CONSUMER) == -1  # nothing committed: the lines stay in the tank
    fill(tank, 1)
    proxy.set("ok")
    assert archiver.flush() == 200
    assert offsets(url, cfg) == list(range(200))
    only_committed_objects(moto, bucket, url, cfg)


def test_retries_absorb_a_single_503(moto, proxy, bucket, tmp_path):
    cfg = s3_config(moto, proxy.url, s3_attempts=3)
    tank = SqliteTank(tmp_path / "t.db")
    fill(tank, 1)
    archiver = ParquetArchiver(tank, f"s3://{bucket}/archive", cfg)
    assert archiver.state is not None  # recovery done before the fault
    proxy.fail_after(1, "503", times=1)  # one 503: the SDK's retry gets through
    assert archiver.flush() == 100
    assert offsets(f"s3://{bucket}/archive", cfg) == list(range(100))


def test_slow_store(moto, proxy, bucket, tmp_path):
    cfg = s3_config(moto, proxy.url)
    proxy.delay = 0.2
    tank = SqliteTank(tmp_path / "t.db")
    fill(tank, 1)
    assert ParquetArchiver(tank, f"s3://{bucket}/archive", cfg).flush() == 100
    proxy.delay = 0
    assert offsets(f"s3://{bucket}/archive", cfg) == list(range(100))


@pytest.mark.slow
def test_hung_store_fails_the_flush_in_bounded_time_then_restart_is_exact(
    moto, proxy, bucket, tmp_path
):
    cfg = s3_config(moto, proxy.url)
    tank = SqliteTank(tmp_path / "t.db")
    fill(tank, 1)
    url = f"s3://{bucket}/archive"
    archiver = ParquetArchiver(tank, url, cfg)
    assert archiver.state is not None  # recovery done before the fault
    proxy.fail_after(2, "hang")
    started = time.monotonic()
    with pytest.raises(OSError):
        archiver.flush()
    assert time.monotonic() - started < 30
    proxy.set("ok")
    fill(tank, 1)
    ParquetArchiver(tank, url, cfg).flush()  # a restart instead of a retry
    assert offsets(url, cfg) == list(range(200))
    only_committed_objects(moto, bucket, url, cfg)


def test_wrong_credentials(moto, bucket, tmp_path, caplog):
    """A clear error, the lines kept in the tank, and 429 once the archive lags too much."""
    settings = load_config(
        None,
        data_dir=str(tmp_path / "data"),
        archive={
            "url": f"s3://{bucket}/archive",
            "s3_endpoint": moto.url,
            "s3_region": "us-east-1",
            "access_key": "AKIAWRONGWRONGWRONG0",
            "secret_key": "wrong",
            "s3_attempts": 1,
            "flush_seconds": 0.1,
        },
        backpressure={"max_lag_lines": 150},
    )
    pipeline = Pipeline(settings)
    pipeline.start()  # starts although the store refuses us
    try:
        with caplog.at_level(logging.ERROR, "logradar.archive"):
            pipeline.ingest(ingest_table("web", [f"line {i}" for i in range(100)], T0), "t")
            wait_for(lambda: pipeline.archiver.failures >= 2)
        errors = [r.getMessage() for r in caplog.records if r.name == "logradar.archive"]
        assert len(errors) == 1  # logged once while the same error repeats
        assert "INVALID_ACCESS_KEY_ID" in errors[0]
        assert "records stay in the tank" in errors[0]
        assert pipeline.tank.lag(CONSUMER) == 100
        pipeline.ingest(ingest_table("web", [f"more {i}" for i in range(100)], T0), "t")
        wait_for(lambda: pipeline.engine.core.offset == pipeline.tank.end_offset())
        pipeline._pressure_checked = -1e9  # the next ingest checks the lag again
        with pytest.raises(IngestError) as refused:
            pipeline.ingest(ingest_table("web", ["one more"], T0), "t")
        assert refused.value.status == 429 and "(archive)" in str(refused.value)
        assert pipeline.tank.lag(CONSUMER) == 200
        assert moto.keys(bucket) == []
    finally:
        pipeline.stop(timeout=10)


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
