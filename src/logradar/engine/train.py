"""Training from history: replay the Parquet archive so the detectors learn baselines.

:func:`train` reads the archive of a data dir (optionally one stream and a time range), in
event-time order hour by hour, through a fresh set of detectors in learning mode, and writes
the result to ``<data_dir>/state/trained.json``: the detectors' states, the template miner
and the templates' line statistics. A running engine notices the file (by its modification
time, every step) and adopts it; an engine started later adopts it at its first step.

Template ids must mean the same thing to the trainer and the engine. The trainer therefore
starts from the engine's own snapshot (``state/engine.json``) and records the snapshot
miner's next free id (``base_next_id``). When adopting, the engine applies this rule:

* training learned no template (every archived line matched a known one): the engine keeps
  its miner and takes the detector states, whatever it learned meanwhile;
* else, if the engine learned no template since that snapshot, it takes the trainer's miner
  too (a superset of its own, same ids);
* else both learned templates with clashing ids: nothing is adopted and a warning is logged;
  train again once the engine has snapshotted (``engine.snapshot_seconds``), or with the
  server stopped.

Adopting *replaces* the detectors' baselines with the trained ones: what the running engine
learned since the snapshot the trainer started from is lost (the archive holds those lines
too, so training up to now covers them). Open windows, sessions, clocks and feedback stay.
Trained on one stream (``stream``), only that stream's entries are replaced, in detectors
whose state is keyed by stream; a detector with one model for all streams (sessions) keeps
its current state then.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from logradar.archive.parquet import open_filesystem
from logradar.config import Settings
from logradar.engine.core import DetectionCore
from logradar.parse.templates import TemplateMiner
from logradar.schema import RECORD_SCHEMA, TIMESTAMP

log = logging.getLogger("logradar.train")

TRAINED_FILE = "trained.json"
SNAPSHOT_FILE = "engine.json"
_PARTITIONING = ds.partitioning(
    pa.schema([("stream", pa.string()), ("date", pa.string()), ("hour", pa.string())]),
    flavor="hive",
)


class NothingToTrain(ValueError):
    """The archive holds no records in the requested range."""


class StaleTraining(ValueError):
    """Both the trainer and the engine learned new templates: their ids clash."""


@dataclass(frozen=True, slots=True)
class TrainResult:
    path: Path
    lines: int
    hours: int
    templates_before: int
    templates_after: int


def _filter(start_ns: int | None, end_ns: int | None, stream: str | None) -> ds.Expression:
    expr = ds.scalar(True)
    if stream is not None:
        expr &= ds.field("stream") == stream
    if start_ns is not None:
        expr &= ds.field("ts") >= pa.scalar(start_ns, pa.int64()).cast(TIMESTAMP)
        expr &= ds.field("date") >= _date(start_ns)
    if end_ns is not None:
        expr &= ds.field("ts") < pa.scalar(end_ns, pa.int64()).cast(TIMESTAMP)
        expr &= ds.field("date") <= _date(end_ns)
    return expr


def _date(ns: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ns / 1e9))


def archive_batches(
    settings: Settings,
    start_ns: int | None = None,
    end_ns: int | None = None,
    stream: str | None = None,
) -> tuple[int, int, Iterator[pa.Table]]:
    """``(records, hours, batches)``: the archived records in range, in event-time order
    (hour partitions in order, sorted by time within one), at most ``max_batch_rows`` each."""
    fs, root = open_filesystem(settings.archive_url, settings.archive.s3_endpoint)
    dataset = ds.dataset(root, filesystem=fs, format="parquet", partitioning=_PARTITIONING)
    expr = _filter(start_ns, end_ns, stream)
    hours = sorted(
        {
            (keys["date"], keys["hour"])
            for fragment in dataset.get_fragments(filter=expr)
            if (keys := ds.get_partition_keys(fragment.partition_expression))
        }
    )
    total = dataset.count_rows(filter=expr) if hours else 0
    size = settings.engine.max_batch_rows

    def batches() -> Iterator[pa.Table]:
        for date, hour in hours:
            table = dataset.to_table(
                columns=RECORD_SCHEMA.names,
                filter=expr & (ds.field("date") == date) & (ds.field("hour") == hour),
            )
            table = table.sort_by([("ts", "ascending"), ("offset", "ascending")])
            for start in range(0, table.num_rows, size):
                yield table.slice(start, size)

    return total, len(hours), batches()


def train(
    settings: Settings,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    stream: str | None = None,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> TrainResult:
    """Learn baselines from the archive and write ``state/trained.json``; see module doc.

    ``on_total`` is called once with the number of records, ``progress`` with each batch's.
    """
    total, hours, batches = archive_batches(settings, start_ns, end_ns, stream)
    if total == 0:
        raise NothingToTrain(f"the archive at {settings.archive_url} has no records in range")
    if on_total is not None:
        on_total(total)
    core = DetectionCore(settings.engine, settings.parser, settings.detectors)
    snapshot = settings.state_dir / SNAPSHOT_FILE
    if snapshot.exists():
        base = json.loads(snapshot.read_text(encoding="utf-8"))
        core.miner = TemplateMiner.from_state_dict(base["miner"])
    base_next_id = core.miner.state_dict()["next_id"]
    templates_before = len(core.miner.templates())
    core.learning_override = True
    for batch in batches:
        core.process(batch)
        if progress is not None:
            progress(batch.num_rows)
    core.finish()
    state = core.state_dict()
    trained = {
        "version": 1,
        "id": uuid.uuid4().hex,
        "created_ns": time.time_ns(),
        "range": {"start_ns": start_ns, "end_ns": end_ns, "stream": stream},
        "lines": total,
        "base_next_id": base_next_id,
        "miner": state["miner"],
        "template_stats": state["template_stats"],
        "window_detectors": state["window_detectors"],
        "session_detectors": state["session_detectors"],
    }
    from logradar.engine.host import write_json_atomic  # here: host imports this module

    path = settings.state_dir / TRAINED_FILE
    write_json_atomic(path, trained)
    return TrainResult(path, total, hours, templates_before, len(core.miner.templates()))


def adopt(core: DetectionCore, trained: dict[str, Any]) -> list[int]:
    """Take the trained baselines into ``core`` by the rule in the module docstring; return
    the template ids that are new to ``core``. Raise :class:`StaleTraining` if ids clash."""
    state = core.state_dict()
    base_next = trained["base_next_id"]
    trained_next = trained["miner"]["next_id"]
    if trained_next != base_next:
        if state["miner"]["next_id"] != base_next:
            raise StaleTraining(
                f"the engine learned templates since the snapshot training started from (ids "
                f"{base_next}..{state['miner']['next_id'] - 1}) and so did training: their ids "
                "clash; train again after the next engine snapshot, or with the server stopped"
            )
        state["miner"] = trained["miner"]
    stats = state["template_stats"]
    new = [int(k) for k in trained["template_stats"] if k not in stats]
    for k in new:
        stats[str(k)] = trained["template_stats"][str(k)]
    stream = trained["range"]["stream"]
    for group in ("window_detectors", "session_detectors"):
        for name, learned in trained[group].items():
            current = state[group].get(name)
            if stream is None or current is None:
                state[group][name] = learned
            elif merged := _merge_stream(current, learned, stream):
                state[group][name] = merged
    core.load_state_dict(state)
    core.dirty_templates.update(new)
    return new


def _merge_stream(
    current: dict[str, Any], learned: dict[str, Any], stream: str
) -> dict[str, Any] | None:
    """``current`` with the entries of ``stream`` taken from ``learned``, for a detector
    whose state is dicts keyed by stream (most are); None for any other shape."""
    if not all(isinstance(v, dict) and set(v) <= {stream} for v in learned.values()):
        return None
    if set(learned) != set(current) or not all(isinstance(v, dict) for v in current.values()):
        return None
    return {
        k: {**{s: x for s, x in current[k].items() if s != stream}, **learned[k]} for k in current
    }


class TrainedPickup:
    """Adopts a new ``trained.json`` into a running engine's core (checked every step)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.applied: str | None = None
        """Id of the trained file last adopted (saved in the engine snapshot)."""
        self._seen_mtime: int | None = None

    def poll(self, core: DetectionCore) -> bool:
        """Adopt the file if it changed and is not adopted yet; True if adopted."""
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return False
        if mtime == self._seen_mtime:
            return False
        self._seen_mtime = mtime
        try:
            trained = json.loads(self.path.read_text(encoding="utf-8"))
            if trained["id"] == self.applied:
                return False
            new = adopt(core, trained)
        except StaleTraining as e:
            log.warning("not adopting %s: %s", self.path, e)
            return False
        except (OSError, ValueError, KeyError) as e:
            log.warning("cannot read trained baselines %s: %s", self.path, e)
            return False
        self.applied = trained["id"]
        log.info(
            "adopted trained baselines from %s (%d lines, %d new templates)",
            self.path,
            trained["lines"],
            len(new),
        )
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"applied": self.applied}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.applied = state["applied"]
