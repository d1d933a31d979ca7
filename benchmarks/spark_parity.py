"""Parity of the Spark and local engines on a larger input (>= 200k lines).

Input: the hdfs-sessions data rendered as raw HDFS log lines (logradar.demo.hdfs_render):
train = a seeded half of normal_train.txt, test = the other half plus abnormal_dev.txt,
shuffled. Both engines run ``backtest`` with the same settings (HDFS header format, session
key ``blk_-?\\d+``, default detectors); the script reports the anomalies each found, the
symmetric difference of their identities (detector, kind, stream, template, session, window)
and the time each took. Parity means ``only_local == only_spark == 0``.

Run: ``.venv/bin/python benchmarks/spark_parity.py [--master local[2]]`` (prints JSON).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

from logradar.backtest import LocalBacktest
from logradar.config import load_config
from logradar.demo.hdfs_render import (
    HDFS_FORMAT,
    SESSION_KEY,
    read_sessions,
    render_sessions,
    write_log,
)
from logradar.schema import Anomaly
from logradar.spark.backtest import SparkBacktest

DATA = Path(__file__).resolve().parents[2] / "shared/datasets/hdfs-sessions"


def identity(a: Anomaly) -> tuple:
    return (a.detector, a.kind, a.stream, a.template_id, a.template, a.session, a.start, a.end)


def make_input(folder: Path, seed: int) -> tuple[Path, Path, int]:
    normal = read_sessions(DATA / "normal_train.txt")
    abnormal = read_sessions(DATA / "abnormal_dev.txt")
    random.Random(seed).shuffle(normal)
    half = len(normal) // 2
    test_sessions = normal[half:] + abnormal
    random.Random(seed + 1).shuffle(test_sessions)
    train_lines, _ = render_sessions(normal[:half], seed=seed)
    test_lines, _ = render_sessions(test_sessions, seed=seed + 2)
    train, test = folder / "train.log", folder / "test.log"
    write_log(train, train_lines)
    write_log(test, test_lines)
    return train, test, len(train_lines) + len(test_lines)


def timed(engine: LocalBacktest, train: Path, test: Path) -> tuple[list[Anomaly], float]:
    found: list[Anomaly] = []
    started = time.perf_counter()
    engine.run(train, test, found.append)
    return found, time.perf_counter() - started


def fields_differing(local: list[Anomaly], spark: list[Anomaly]) -> dict[str, int]:
    """Per field, how many anomalies (matched by identity, in order) differ in it."""
    by_id: dict[tuple, list[Anomaly]] = {}
    for a in spark:
        by_id.setdefault(identity(a), []).append(a)
    differing: Counter[str] = Counter()
    for a in local:
        twins = by_id.get(identity(a))
        if not twins:
            continue
        b = twins.pop(0).to_dict()
        differing.update(k for k, v in a.to_dict().items() if b.get(k) != v)
    return dict(differing)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    settings = load_config(
        None,
        engine={"session_key": SESSION_KEY},
        parser={"log_format": HDFS_FORMAT},
        archive={"enabled": False},
    )
    with tempfile.TemporaryDirectory() as tmp:
        train, test, lines = make_input(Path(tmp), args.seed)
        local, local_s = timed(LocalBacktest(settings), train, test)
        spark_engine = SparkBacktest(settings, master=args.master)
        spark, spark_s = timed(spark_engine, train, test)
    a, b = Counter(map(identity, local)), Counter(map(identity, spark))
    print(
        json.dumps(
            {
                "benchmark": "spark_parity",
                "lines": lines,
                "master": args.master,
                "anomalies_local": len(local),
                "anomalies_spark": len(spark),
                "only_local": sum((a - b).values()),
                "only_spark": sum((b - a).values()),
                "identical_output": [x.to_dict() for x in local] == [x.to_dict() for x in spark],
                "same_order": list(map(identity, local)) == list(map(identity, spark)),
                "fields_differing": fields_differing(local, spark),
                "by_detector": dict(Counter(x.detector for x in local)),
                "seconds_local": round(local_s, 2),
                "seconds_spark": round(spark_s, 2),
                "spark_micro_batches": len(spark_engine.timings),
                "spark_over_local_time": round(spark_s / local_s, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
