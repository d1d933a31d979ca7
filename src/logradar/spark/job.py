"""The Spark streaming job as a program: what ``spark-submit`` runs on a cluster (e.g. MRS).

    spark-submit ... logradar_spark_job.py --source files --path s3a://bucket/lts/ \\
        --checkpoint s3a://bucket/logradar/checkpoint --store-url postgresql://...

Input: ``files`` (text files landing under ``--path``, e.g. LTS's transfer to OBS), ``kafka``
(``--kafka-bootstrap``, ``--kafka-topics``; DMS for Kafka) or ``tank`` (a local tank file, one
machine only). Output: the store (anomalies, window counts, templates), alerts through the
configured channels, and optionally the Parquet archive (``--archive``), written by Spark.
Restarting the same command resumes from the checkpoint: nothing is lost or repeated.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from logradar.alerts.manager import build_alerting
from logradar.config import load_config
from logradar.engine.feedback import Feedback, suppress_muted
from logradar.schema import Anomaly
from logradar.spark.reducer import StateFile, StreamReducer, store_sink
from logradar.spark.session import spark_session
from logradar.spark.sources import (
    file_source,
    kafka_source,
    start_archive,
    start_detection,
    tank_source,
)
from logradar.store import Store

log = logging.getLogger("logradar.spark")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="logradar-spark-job", description=__doc__.split("\n")[0])
    p.add_argument("--source", choices=["files", "kafka", "tank"], required=True)
    p.add_argument(
        "--path", help="files: folder or glob (s3a://, obs://, hdfs://, local); tank: the tank file"
    )
    p.add_argument("--stream", default="main", help="files: stream name of the lines")
    p.add_argument("--max-files-per-trigger", type=int, help="files: most files per batch")
    p.add_argument("--kafka-bootstrap", help="kafka: bootstrap servers host:port,...")
    p.add_argument("--kafka-topics", help="kafka: comma-separated topics (topic = stream)")
    p.add_argument(
        "--kafka-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="kafka: extra source option, e.g. kafka.security.protocol=SASL_SSL (repeatable)",
    )
    p.add_argument("--checkpoint", required=True, help="Spark checkpoint folder (durable)")
    p.add_argument("--state", help="reducer state file (default: inside --checkpoint)")
    p.add_argument("--config", type=Path, help="logradar TOML configuration")
    p.add_argument("--log-format", help="header format of the lines")
    p.add_argument("--session-key", help="session id regex")
    p.add_argument("--store-url", help="SQLAlchemy URL of the store (default from config)")
    p.add_argument("--archive", help="also archive the input as Parquet under this URL")
    p.add_argument("--clock", choices=["wall", "event"], default="wall")
    p.add_argument("--trigger-seconds", type=float, default=10.0)
    p.add_argument("--available-now", action="store_true", help="process what is there, then exit")
    p.add_argument("--master", help="Spark master when not run by spark-submit")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = load_config(
        args.config,
        engine={"session_key": args.session_key},
        parser={"log_format": args.log_format},
        store={"url": args.store_url},
    )
    spark = spark_session(args.master, "logradar-spark-job")
    if args.source == "files":
        source = file_source(spark, args.path, args.stream, args.max_files_per_trigger)
    elif args.source == "kafka":
        options = dict(kv.split("=", 1) for kv in args.kafka_option)
        source = kafka_source(spark, args.kafka_bootstrap, args.kafka_topics, options)
    else:
        source = tank_source(spark, args.path, settings.engine.max_batch_rows)

    store = Store(settings.store_url)
    alerting = build_alerting(store, settings.alerts)

    feedback = Feedback(settings.feedback)

    def alert(new: list[tuple[int, Anomaly]]) -> None:
        now = time.time_ns()
        alerting.observe(suppress_muted(store, new, now))

    checkpoint = args.checkpoint.rstrip("/")
    reducer = StreamReducer(
        spark,
        settings,
        StateFile(args.state or f"{checkpoint}/logradar-core.json"),
        [store_sink(store, alert, feedback)],
        clock=args.clock,
        feedback=feedback,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    delivery = threading.Thread(target=alerting.run, args=(stop,), daemon=True)
    delivery.start()
    queries = [
        start_detection(
            source,
            reducer,
            f"{checkpoint}/detect",
            trigger_seconds=args.trigger_seconds,
            available_now=args.available_now,
        )
    ]
    if args.archive:
        queries.append(
            start_archive(
                source, args.archive, f"{checkpoint}/archive", available_now=args.available_now
            )
        )
    try:
        while not stop.is_set() and any(q.isActive for q in queries):
            stop.wait(max(1.0, args.trigger_seconds))
            reducer.tick()
        for q in queries:
            if q.exception() is not None:
                raise SystemExit(f"query {q.name} failed: {q.exception()}")
    finally:
        stop.set()
        for q in queries:
            q.stop()
        delivery.join(30)
        log.info("stopped after batch %d (%d lines)", reducer.batch_id, reducer.lines)


if __name__ == "__main__":
    main()
