"""One local[2] SparkSession for the whole test session, and the HDFS sample as input."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from logradar.config import Settings, load_config
from logradar.engine.core import DetectionCore
from logradar.schema import RECORD_SCHEMA, TIMESTAMP, Anomaly
from logradar.spark.session import SparkUnavailable, check_java, check_pyspark

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
    from logradar.spark.session import spark_session

    session = spark_session("local[2]", "logradar-tests", {"spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()


def hdfs_settings(all_detectors: bool = False, **engine: object) -> Settings:
    """HDFS format and session key; without the isolation forest unless ``all_detectors``
    (it scores every 10 s window of the sample's two days: slow, and not what the streaming
    tests are about)."""
    return load_config(
        None,
        engine={"session_key": HDFS_SESSION, **engine},
        parser={"log_format": HDFS_FORMAT},
        archive={"enabled": False},
        detectors={} if all_detectors else {"multivariate": {"enabled": False}},
    )


FILES = 4
SECOND = 1_000_000_000
MTIME0 = 1_700_000_000


def write_inputs(folder: Path) -> list[list[str]]:
    """The HDFS sample cut into FILES files, with increasing modification times."""
    lines = HDFS.read_text(encoding="utf-8").splitlines()
    size = -(-len(lines) // FILES)
    parts = [lines[i : i + size] for i in range(0, len(lines), size)]
    folder.mkdir()
    for i, part in enumerate(parts):
        path = folder / f"hdfs-{i:03d}.log"
        path.write_text("\n".join(part) + "\n", encoding="utf-8")
        os.utime(path, (MTIME0 + i, MTIME0 + i))
    return parts


def spark_batches(checkpoint: Path) -> list[list[int]]:
    """The input files (indices) of each micro-batch, from Spark's offset and file logs."""
    batches = []
    done = -1
    for n in sorted(int(p.name) for p in (checkpoint / "offsets").iterdir() if p.name.isdigit()):
        end = json.loads((checkpoint / "offsets" / str(n)).read_text().splitlines()[-1])
        files = []
        for entry in range(done + 1, end["logOffset"] + 1):
            for line in (checkpoint / "sources" / "0" / str(entry)).read_text().splitlines()[1:]:
                files.append(int(json.loads(line)["path"].rsplit("-", 1)[1].split(".")[0]))
        batches.append(sorted(files))
        done = end["logOffset"]
    return batches


def expected_anomalies(parts: list[list[str]], batches: list[list[int]]) -> list[Anomaly]:
    """The core in-process over the same micro-batches (files) as the reducer saw them."""
    s = hdfs_settings()
    core = DetectionCore(s.engine, s.parser, s.detectors)
    found: list[Anomaly] = []
    offset = 0
    for files in batches:
        lines = [line for i in files for line in parts[i]]
        times = [(MTIME0 + i) * SECOND for i in files for _ in parts[i]]
        n = len(lines)
        ts = pa.array(times, pa.int64()).cast(TIMESTAMP)
        batch = pa.table(
            [
                pa.array(range(offset, offset + n), pa.int64()),
                pa.array(["main"] * n),
                ts,
                ts,
                pa.nulls(n, pa.string()),
                pa.nulls(n, pa.string()),
                pa.array(lines),
            ],
            schema=RECORD_SCHEMA,
        )
        found += core.process(batch, None).anomalies
        offset += n
    return found


def row_key(d: dict) -> tuple:
    return tuple(
        str(d[k]) for k in ("detector", "kind", "stream", "template_id", "session", "start")
    )
