"""``logradar backtest``: the engine over files, to measure what would have been caught.

The same detection core as ``logradar up`` runs in-process: it learns from TRAIN (normal by
assumption: every window and session of it counts as learning), then replays TEST as a stream
in event-time order and writes every anomaly as one JSON object per line. Without TEST it
reports the anomalies of TRAIN itself after the warm-up (the configured learning period).

Event time comes from the header fields (``--log-format``); a line without a parsable time
takes the previous line's time, and lines before the first parsable time are spaced 10 ms
apart in file order. At the end every open window and session is closed and scored. The
result is deterministic for the same input and configuration.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from logradar.config import Settings, load_config
from logradar.engine.core import CoreOutput, DetectionCore
from logradar.schema import RECORD_SCHEMA, TIMESTAMP, Anomaly

CHUNK_LINES = 100_000
FILE_ORDER_STEP_NS = 10_000_000
DEFAULT_STREAM = "main"


class BacktestEngine(Protocol):
    """What ``--engine`` chooses: runs train/test files and yields anomalies in order."""

    def run(
        self, train: Path, test: Path | None, emit: Callable[[Anomaly], None]
    ) -> dict[str, Any]: ...


def read_chunks(path: Path, stream: str, first_offset: int = 0) -> Iterator[pa.Table]:
    """Record batches of a log file in file order; invalid UTF-8 becomes U+FFFD."""
    offset = first_offset
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        while True:
            lines: list[str] = []
            for line in f:
                lines.append(line.rstrip("\r\n"))
                if len(lines) >= CHUNK_LINES:
                    break
            if not lines:
                return
            n = len(lines)
            yield pa.table(
                [
                    pa.array(range(offset, offset + n), pa.int64()),
                    pa.array([stream] * n, pa.string()),
                    pa.array(
                        range(
                            offset * FILE_ORDER_STEP_NS,
                            (offset + n) * FILE_ORDER_STEP_NS,
                            FILE_ORDER_STEP_NS,
                        ),
                        pa.int64(),
                    ).cast(TIMESTAMP),
                    pa.nulls(n, TIMESTAMP),
                    pa.nulls(n, pa.string()),
                    pa.nulls(n, pa.string()),
                    pa.array(lines, pa.string()),
                ],
                schema=RECORD_SCHEMA,
            )
            offset += n


#: ``progress(lines so far, event time reached in ns, anomalies so far)``
Progress = Callable[[int, int, int], None]


class LocalBacktest:
    """The in-process engine (``--engine local``)."""

    def __init__(
        self, settings: Settings, stream: str = DEFAULT_STREAM, progress: Progress | None = None
    ) -> None:
        self.settings = settings
        self.stream = stream
        self.progress = progress
        self._lines = 0
        self._anomalies = 0

    def run(
        self, train: Path, test: Path | None, emit: Callable[[Anomaly], None]
    ) -> dict[str, Any]:
        s = self.settings
        core = DetectionCore(s.engine, s.parser, s.detectors)
        core.fill_time_forward = True
        found: list[Anomaly] = []
        summary = self._run(core, train, test, found.append)
        for anomaly in found:  # final template texts: independent of batch boundaries
            emit(core.with_current_text(anomaly))
        return summary

    def _run(
        self,
        core: DetectionCore,
        train: Path,
        test: Path | None,
        emit: Callable[[Anomaly], None],
    ) -> dict[str, Any]:
        lines = 0
        if test is None:
            warmup_end: list[int] = []

            def emit_after_warmup(out: CoreOutput) -> None:
                if not warmup_end and core.streams:
                    first = min(st.first_ts for st in core.streams.values())
                    warmup_end.append(first + core.learning_ns)
                for a in out.anomalies:
                    if warmup_end and a.start >= warmup_end[0]:
                        emit(a)

            lines += self._replay(core, train, 0, emit_after_warmup)
            emit_after_warmup(core.finish())
            return {"lines": lines}
        core.learning_override = True
        lines += self._replay(core, train, 0, lambda out: None)
        core.finish()
        core.reset_time()
        core.learning_override = False

        def emit_all(out: CoreOutput) -> None:
            for a in out.anomalies:
                emit(a)

        lines += self._replay(core, test, lines, emit_all)
        emit_all(core.finish())
        return {"lines": lines}

    def _replay(
        self,
        core: DetectionCore,
        path: Path,
        first_offset: int,
        sink: Callable[[CoreOutput], None],
    ) -> int:
        n = 0
        for batch in read_chunks(path, self.stream, first_offset):
            out = core.process(batch, None)
            sink(out)
            n += batch.num_rows
            self._lines += batch.num_rows
            self._anomalies += len(out.anomalies)
            if self.progress is not None:
                self.progress(self._lines, core.clock_ns, self._anomalies)
        return n


def terminal_progress() -> tuple[Progress, Any]:
    """A rich progress display on stderr (lines, event time reached, anomalies so far) and
    the context manager that shows it while the backtest runs."""
    from datetime import UTC, datetime

    from rich.console import Console
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("[bold]backtest"),
        BarColumn(),
        TextColumn("{task.fields[lines]:,} lines  event time {task.fields[at]}"),
        TextColumn("{task.fields[anomalies]:,} anomalies"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("backtest", total=None, lines=0, at="-", anomalies=0)

    def update(lines: int, clock_ns: int, anomalies: int) -> None:
        at = datetime.fromtimestamp(clock_ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S")
        bar.update(task, lines=lines, at=at, anomalies=anomalies)

    return update, bar


#: ``--engine`` name -> ``module:class`` of its :class:`BacktestEngine`, imported only when
#: chosen: engines (e.g. :mod:`logradar.spark.backtest`) depend on this module, not back.
ENGINES = {
    "local": "logradar.backtest:LocalBacktest",
    "spark": "logradar.spark.backtest:SparkBacktest",
}


def build_engine(name: str, settings: Settings, **options: Any) -> BacktestEngine:
    """The engine ``name`` (``options``: e.g. ``master`` for Spark)."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}: use {' or '.join(map(repr, ENGINES))}")
    module, cls = ENGINES[name].split(":")
    return getattr(importlib.import_module(module), cls)(settings, **options)


def run_backtest(
    train: Path,
    test: Path | None,
    output: Path,
    *,
    log_format: str | None = None,
    session_key: str | None = None,
    config: Path | None = None,
    engine: str = "local",
    progress: Progress | None = None,
    spark_master: str | None = None,
) -> dict[str, Any]:
    """Run a backtest and write anomalies as JSON lines to ``output``; return a summary.

    ``progress`` (local engine) is called after each chunk of lines (see :data:`Progress`);
    ``spark_master``: the Spark master for ``engine="spark"`` (default ``local[*]``).
    """
    if spark_master and engine != "spark":
        raise ValueError("--spark-master needs --engine spark")
    for path in (train, test):
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(f"no such file: {path}")
    settings = load_config(
        config,
        engine={"session_key": session_key},
        parser={"log_format": log_format},
        archive={"enabled": False},
    )
    started = time.perf_counter()
    count = 0
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", encoding="utf-8") as out:

        def emit(anomaly: Anomaly) -> None:
            nonlocal count
            out.write(json.dumps(anomaly.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
            count += 1

        options: dict[str, Any] = {"master": spark_master} if spark_master else {}
        if progress is not None and engine == "local":
            options["progress"] = progress
        chosen = build_engine(engine, settings, **options)
        summary = chosen.run(Path(train), test and Path(test), emit)
    seconds = time.perf_counter() - started
    return {
        **summary,
        "anomalies": count,
        "seconds": round(seconds, 3),
        "lines_per_second": round(summary["lines"] / seconds) if seconds else None,
        "output": str(output),
    }
