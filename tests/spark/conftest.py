"""One local[2] SparkSession for the whole test session, and the HDFS sample as input."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from logradar.config import Settings, load_config
from logradar.engine.spark_session import SparkUnavailable, check_java, check_pyspark

HDFS = Path(__file__).parents[3] / "shared/datasets/loghub-2k/HDFS/HDFS_2k.log"
HDFS_FORMAT = "<Date> <Time> <Pid> <Level> <Component>: <Content>"
HDFS_SESSION = r"blk_-?\d+"


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """local[2], 2 shuffle partitions, no UI. Skips without Java 17 unless ``CI`` is set."""
    try:
        check_pyspark()
        check_java()
    except SparkUnavailable as e:
        if os.environ.get("CI"):
            pytest.fail(str(e))
        pytest.skip(str(e))
    from logradar.engine.spark_session import spark_session

    session = spark_session("local[2]", "logradar-tests", {"spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()


def hdfs_settings(**engine: object) -> Settings:
    return load_config(
        None,
        engine={"session_key": HDFS_SESSION, **engine},
        parser={"log_format": HDFS_FORMAT},
        archive={"enabled": False},
    )
