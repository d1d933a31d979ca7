"""``logradar backtest --archive URL --since T --until T``: the detection core over archived
records (event-time order, as :mod:`logradar.engine.train` reads them), anomalies as JSON
lines. Like a backtest over one file, anomalies are reported after the warm-up (the
configured learning period from the first record)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from logradar.config import Settings
from logradar.engine.core import CoreOutput, DetectionCore
from logradar.engine.train import archive_batches
from logradar.schema import Anomaly


def replay_archive(
    settings: Settings,
    output: Path,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    stream: str | None = None,
) -> dict[str, Any]:
    """Replay the archive at ``settings.archive_url``; write anomalies to ``output``."""
    started = time.perf_counter()
    total, hours, batches = archive_batches(settings, start_ns, end_ns, stream)
    core = DetectionCore(settings.engine, settings.parser, settings.detectors)
    found: list[Anomaly] = []
    warmup_end: list[int] = []

    def keep(out: CoreOutput) -> None:
        if not warmup_end and core.streams:
            warmup_end.append(min(st.first_ts for st in core.streams.values()) + core.learning_ns)
        found.extend(a for a in out.anomalies if warmup_end and a.start >= warmup_end[0])

    for batch in batches:
        keep(core.process(batch, None))
    keep(core.finish())
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "w", encoding="utf-8") as out:
        for anomaly in found:
            text = json.dumps(core.with_current_text(anomaly).to_dict(), sort_keys=True)
            out.write(text + "\n")
    seconds = time.perf_counter() - started
    return {
        "lines": total,
        "hours": hours,
        "anomalies": len(found),
        "seconds": round(seconds, 3),
        "output": str(output),
    }
