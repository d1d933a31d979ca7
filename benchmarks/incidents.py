r"""Labeled incident replay: does `logradar backtest` catch each kind, with few false alarms?

For each stream (one per loghub-2k system) we simulate days of normal traffic by sampling the
system's real lines at ~1 line/s with a daily shape (Poisson per second, rate
×(1 ± 0.5) over the day), learn from the first days (TRAIN) and replay the rest (TEST) with
injected, labeled incidents of each kind:

- new_error   a never-seen error statement, 30 lines over 2 minutes
- spike       one frequent statement at 20× its rate for 10 minutes
- drop        the stream thinned to 10 % for 60 minutes
- silence     the stream stops for 60 minutes
- error_burst the stream's own error lines at 30× their rate for 10 minutes
- odd_value   5 lines of a numeric statement with one number ×1000

plus one stream of HDFS block sessions (``hdfs-sessions``, rendered into HDFS lines by
``logradar.demo.hdfs_render`` at the same line rate, session key ``blk_-?\d+``): train and
test draw normal sessions from the same pool (``normal_train.txt``, as the other streams draw
lines from their 2k sample), and the test gets 12 injected abnormal sessions from
``abnormal_dev.txt`` (kind ``abnormal_session``, caught only by an anomaly naming that
session). How the session model generalizes to unseen normal shapes is measured by
``benchmarks/hdfs_sessions.py``.

Each stream is backtested separately (`logradar.backtest.run_backtest`, the same engine as
`logradar backtest`). An incident is caught when an anomaly at or above the alert threshold
overlaps it (one window of grace before, three after). Every other such anomaly is a false
alarm; we report false alarms per simulated stream-day of TEST, and recall and precision per
incident kind (precision: share of anomalies overlapping an incident of that kind among those
overlapping any incident or none... see `score`).

Alerting: the anomalies of each stream also go, in event time, through incident alerting
with the default ``[alerts]`` settings (one receiver, ticks every 10 s): we report incidents,
notifications (incl. resolves) per incident, and, as the anchor, how many alerts the old
per-anomaly alerting (one per anomaly key per 300 s cooldown) would have sent.

    python benchmarks/incidents.py [--train-days 3] [--test-days 4] [--rate 1.0] [--seed 1]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from logradar.alerts.grouping import Grouper
from logradar.alerts.routing import Router
from logradar.backtest import run_backtest
from logradar.config import AlertsConfig
from logradar.demo.hdfs_render import HDFS_FORMAT, SESSION_KEY, read_sessions, render_sessions
from logradar.schema import Anomaly, Severity

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
DATASETS = SHARED / "loghub-2k"
SESSIONS = SHARED / "hdfs-sessions"
SYSTEMS = ["Apache", "Hadoop", "HDFS", "OpenSSH", "Spark", "Zookeeper", "HealthApp", "BGL"]
SESSION_STREAM = "hdfs-sessions"
SESSION_INCIDENTS = 12
DAY = 86_400
LOG_FORMAT = "<Date> <Time> <Level> <Content>"
ERROR_WORDS = re.compile(r"\b(error|fatal|exception|fail(ed|ure)?|refused|denied)\b", re.I)
NUMBER = re.compile(r"(?<![\w.])(\d{2,6})(?![\w.])")
KINDS = ["new_error", "spike", "drop", "silence", "error_burst", "odd_value"]
T0 = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp())
NEW_ERROR_PARTS = [
    "Flusher flush of",
    "Compactor merge of",
    "Replicator copy of",
    "Indexer scan of",
]


@dataclass(frozen=True)
class Incident:
    kind: str
    start: float
    end: float
    session: str | None = None


def load_pool(system: str) -> tuple[list[str], list[str], list[str]]:
    """Contents, levels and template ids of the system's 2k sample."""
    path = DATASETS / system / f"{system}_2k.log_structured.csv"
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    contents = [r["Content"] for r in rows]
    levels = [(r.get("Level") or "INFO").upper() for r in rows]
    levels = ["INFO" if not lv.isalpha() else lv for lv in levels]
    return contents, levels, [r["EventId"] for r in rows]


def is_error(level: str, content: str) -> bool:
    return level in ("ERROR", "FATAL", "SEVERE", "CRITICAL") or bool(ERROR_WORDS.search(content))


class StreamSimulator:
    """Normal traffic of one stream plus injected incidents."""

    def __init__(self, system: str, rate: float, rng: np.random.Generator) -> None:
        self.system = system
        self.rate = rate
        self.rng = rng
        self.contents, self.levels, self.events = load_pool(system)
        n = len(self.contents)
        self.errors = [i for i in range(n) if is_error(self.levels[i], self.contents[i])]
        counts: dict[str, int] = defaultdict(int)
        for e in self.events:
            counts[e] += 1
        frequent = [e for e, c in counts.items() if c >= 20]
        self.spike_event = frequent[int(rng.integers(len(frequent)))] if frequent else None
        numeric = [i for i in range(n) if NUMBER.search(self.contents[i])]
        self.numeric = numeric
        self.new_errors = 0

    def rate_at(self, t: np.ndarray) -> np.ndarray:
        return self.rate * (1 + 0.5 * np.sin(2 * np.pi * (t % DAY) / DAY))

    def normal(self, start: int, seconds: int) -> tuple[np.ndarray, np.ndarray]:
        """Event times and pool indices of normal traffic in [start, start+seconds)."""
        secs = np.arange(start, start + seconds)
        counts = self.rng.poisson(self.rate_at(secs))
        times = np.repeat(secs, counts) + self.rng.random(counts.sum())
        picks = self.rng.integers(len(self.contents), size=counts.sum())
        return times, picks

    def lines(self, times: np.ndarray, picks: np.ndarray) -> list[tuple[float, str]]:
        return [
            (t, self.format(t, self.levels[i], self.contents[i]))
            for t, i in zip(times, picks, strict=True)
        ]

    @staticmethod
    def format(t: float, level: str, content: str) -> str:
        stamp = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        return f"{stamp} {level} {content}"

    def inject(self, kind: str, start: float, out: list[tuple[float, str]]) -> Incident | None:
        """Add (or, for drop/silence, mark for removal) the incident's lines."""
        rng = self.rng
        if kind == "new_error":
            end = start + 120
            self.new_errors += 1
            part = NEW_ERROR_PARTS[self.new_errors % len(NEW_ERROR_PARTS)]
            for k in range(30):
                t = start + 120 * k / 30
                msg = (
                    f"{self.system}{part}: segment {k} to /data/{self.system.lower()}"
                    f"/seg-{k}.log failed: Input/output error (errno 5)"
                )
                out.append((t, self.format(t, "ERROR", msg)))
            return Incident(kind, start, end)
        if kind == "spike" and self.spike_event is not None:
            pool = [i for i, e in enumerate(self.events) if e == self.spike_event]
            share = len(pool) / len(self.contents)
            n = int(20 * share * self.rate * 600) + 20
            for t in np.sort(start + 600 * rng.random(n)):
                out.append(
                    (
                        t,
                        self.format(
                            t,
                            self.levels[pool[0]],
                            self.contents[pool[int(rng.integers(len(pool)))]],
                        ),
                    )
                )
            return Incident(kind, start, start + 600)
        if kind == "error_burst" and self.errors:
            share = len(self.errors) / len(self.contents)
            n = int(30 * share * self.rate * 600) + 20
            for t in np.sort(start + 600 * rng.random(n)):
                i = self.errors[int(rng.integers(len(self.errors)))]
                out.append((t, self.format(t, self.levels[i], self.contents[i])))
            return Incident(kind, start, start + 600)
        if kind == "odd_value" and self.numeric:
            i = self.numeric[int(rng.integers(len(self.numeric)))]
            content = NUMBER.sub(lambda m: str(int(m.group(1)) * 1000), self.contents[i], 1)
            for k in range(5):
                t = start + 12 * k
                out.append((t, self.format(t, self.levels[i], content)))
            return Incident(kind, start, start + 60)
        if kind in ("drop", "silence"):
            return Incident(kind, start, start + 3600)
        return None


def simulate(system: str, train_days: int, test_days: int, rate: float, seed: int, workdir: Path):
    rng = np.random.default_rng([seed, SYSTEMS.index(system)])
    sim = StreamSimulator(system, rate, rng)
    train = workdir / f"{system}.train.log"
    test = workdir / f"{system}.test.log"
    times, picks = sim.normal(T0, train_days * DAY)
    with open(train, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for _, line in sim.lines(times, picks))
    start = T0 + train_days * DAY
    times, picks = sim.normal(start, test_days * DAY)
    lines = sim.lines(times, picks)
    incidents: list[Incident] = []
    slots = np.linspace(start + 3 * 3600, start + test_days * DAY - 3 * 3600, len(KINDS) * 2)
    kinds = KINDS * 2
    order = rng.permutation(len(kinds))
    extra: list[tuple[float, str]] = []
    for slot, k in zip(slots, order, strict=True):
        incident = sim.inject(kinds[k], float(slot), extra)
        if incident:
            incidents.append(incident)
    for inc in incidents:
        if inc.kind == "silence":
            lines = [x for x in lines if not inc.start <= x[0] < inc.end]
        elif inc.kind == "drop":
            keep = rng.random(len(lines)) < 0.1
            lines = [
                x for x, k in zip(lines, keep, strict=True) if k or not inc.start <= x[0] < inc.end
            ]
    lines = sorted(lines + extra, key=lambda x: x[0])
    with open(test, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for _, line in lines)
    return train, test, incidents, len(lines)


def simulate_sessions(train_days: int, test_days: int, rate: float, seed: int, workdir: Path):
    """The HDFS-sessions stream: normal sessions, then normal plus abnormal ones."""
    rng = np.random.default_rng([seed, len(SYSTEMS)])
    normal = read_sessions(SESSIONS / "normal_train.txt")
    abnormal = read_sessions(SESSIONS / "abnormal_dev.txt")
    mean_len = sum(map(len, normal)) / len(normal)
    gap = mean_len / rate

    def sample(pool: list[list[int]], n: int) -> list[list[int]]:
        return [pool[i] for i in rng.integers(len(pool), size=n)]

    start = datetime.fromtimestamp(T0, UTC)
    train_lines, _ = render_sessions(
        sample(normal, int(train_days * DAY / gap)), seed=seed, start=start, mean_gap_seconds=gap
    )
    sessions = sample(normal, int(test_days * DAY / gap))
    slots = np.linspace(3 * 3600 / gap, len(sessions) - 3 * 3600 / gap, SESSION_INCIDENTS)
    bad = set(slots.astype(int).tolist())
    for i in bad:
        sessions[i] = abnormal[int(rng.integers(len(abnormal)))]
    test_start = datetime.fromtimestamp(T0 + train_days * DAY, UTC)
    test_lines, blocks = render_sessions(
        sessions, seed=seed + 1, start=test_start, mean_gap_seconds=gap
    )
    times: dict[str, list[float]] = defaultdict(list)
    wanted = {blocks[i] for i in bad}
    for line in test_lines:
        block = re.search(SESSION_KEY, line)
        if block and block.group(0) in wanted:
            stamp = datetime.strptime(line[:13], "%y%m%d %H%M%S").replace(tzinfo=UTC)
            times[block.group(0)].append(stamp.timestamp())
    incidents = [
        Incident("abnormal_session", min(times[b]), max(times[b]) + 1, b) for b in sorted(wanted)
    ]
    train = workdir / f"{SESSION_STREAM}.train.log"
    test = workdir / f"{SESSION_STREAM}.test.log"
    train.write_text("".join(f"{x}\n" for x in train_lines), encoding="utf-8")
    test.write_text("".join(f"{x}\n" for x in test_lines), encoding="utf-8")
    return train, test, incidents, len(test_lines)


def parse_iso(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def score(anomalies: list[dict], incidents: list[Incident], window: float, min_sev: Severity):
    alerting = [a for a in anomalies if Severity.parse(a["severity"]) >= min_sev]
    caught = {i: False for i in range(len(incidents))}
    false_alarms = []
    by_detector: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # [true, all]
    for a in alerting:
        start, end = parse_iso(a["start"]), parse_iso(a["end"])
        session = a.get("session")
        hits = [
            i
            for i, inc in enumerate(incidents)
            if (
                inc.session == session
                if session is not None
                else start < inc.end + 3 * window and end > inc.start - window
            )
        ]
        key = f"{a['detector']}/{a['kind']}"
        by_detector[key][1] += 1
        if hits:
            by_detector[key][0] += 1
            for i in hits:
                # a session incident is caught only by an anomaly that names the session
                caught[i] |= incidents[i].session in (None, session)
        else:
            false_alarms.append(a)
    return caught, false_alarms, by_detector


TICK_NS = 10 * 10**9
OLD_COOLDOWN_NS = 300 * 10**9


def to_anomaly(a: dict) -> Anomaly:
    return Anomaly(
        detector=a["detector"], kind=a["kind"], stream=a["stream"],
        start=int(parse_iso(a["start"]) * 1e9), end=int(parse_iso(a["end"]) * 1e9),
        score=a["score"], severity=Severity.parse(a["severity"]), explanation=a["explanation"],
        template_id=a.get("template_id"), template=a.get("template"),
        examples=a.get("examples") or [],
    )  # fmt: skip


def alerting_replay(anomalies: list[dict], cfg: AlertsConfig) -> dict[str, object]:
    """Incident alerting over ``anomalies`` in event time (detected at their window end)."""
    grouper = Grouper(cfg, Router([], all_receivers=["receiver"]))
    found = sorted((to_anomaly(a) for a in anomalies), key=lambda a: a.end)
    sent: dict[int, int] = defaultdict(int)  # incident (object id) -> notifications
    firing = 0
    opened: list[int] = []
    last_old: dict[tuple, int] = {}
    old_alerts = 0

    def tick(now: int) -> None:
        nonlocal firing
        for notice in grouper.due(now):
            sent[id(notice.incident)] += 1
            firing += notice.event == "firing"

    now = found[0].end if found else 0
    for a in found:
        while now + TICK_NS <= a.end:
            now += TICK_NS
            tick(now)
        incident = grouper.add(a, a.end)
        if incident is not None and incident.anomaly_count == 1:
            opened.append(id(incident))
        if a.severity >= cfg.min_severity:
            key = (a.detector, a.kind, a.stream, a.template_id)
            if a.end - last_old.get(key, -OLD_COOLDOWN_NS) >= OLD_COOLDOWN_NS:
                last_old[key] = a.end
                old_alerts += 1
    end = now + int((cfg.flap_period_seconds + cfg.resolve_after_seconds) * 1e9) + TICK_NS
    while grouper.open and now < end:
        now += TICK_NS
        tick(now)
    per_incident = [sent[i] for i in opened]
    return {
        "incidents": len(opened),
        "notifications": sum(per_incident),
        "firing_notifications": firing,
        "max_per_incident": max(per_incident, default=0),
        "over_2": sum(n > 2 for n in per_incident),
        "old_per_anomaly_alerts": old_alerts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Labeled incident replay through backtest.")
    parser.add_argument("--train-days", type=int, default=3)
    parser.add_argument("--test-days", type=int, default=4)
    parser.add_argument("--rate", type=float, default=1.0, help="mean lines/s per stream")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--systems", default=",".join([*SYSTEMS, SESSION_STREAM]))
    parser.add_argument("--min-severity", default="medium")
    parser.add_argument("--keep", type=Path, help="keep inputs and outputs in this folder")
    args = parser.parse_args()
    min_sev = Severity.parse(args.min_severity)
    recall: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    detectors: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    false_total, lines_total, seconds_total = 0, 0, 0.0
    per_stream = {}
    alerting_cfg = AlertsConfig(min_severity=args.min_severity)
    alerting_total: dict[str, int] = defaultdict(int)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for system in args.systems.split(","):
            if system == SESSION_STREAM:
                train, test, incidents, n = simulate_sessions(
                    args.train_days, args.test_days, args.rate, args.seed, workdir
                )
                fmt, key = HDFS_FORMAT, SESSION_KEY
            else:
                train, test, incidents, n = simulate(
                    system, args.train_days, args.test_days, args.rate, args.seed, workdir
                )
                fmt, key = LOG_FORMAT, None
            out = workdir / f"{system}.anomalies.jsonl"
            summary = run_backtest(train, test, out, log_format=fmt, session_key=key)
            anomalies = [json.loads(x) for x in out.read_text().splitlines()]
            window = 10.0
            caught, false_alarms, by_det = score(anomalies, incidents, window, min_sev)
            for i, inc in enumerate(incidents):
                recall[inc.kind][1] += 1
                recall[inc.kind][0] += caught[i]
            for k, (t, a) in by_det.items():
                detectors[k][0] += t
                detectors[k][1] += a
            alerting = alerting_replay(anomalies, alerting_cfg)
            for k in (
                "incidents",
                "notifications",
                "firing_notifications",
                "over_2",
                "old_per_anomaly_alerts",
            ):
                alerting_total[k] += alerting[k]
            alerting_total["max_per_incident"] = max(
                alerting_total["max_per_incident"], alerting["max_per_incident"]
            )
            false_total += len(false_alarms)
            lines_total += summary["lines"]
            seconds_total += summary["seconds"]
            per_stream[system] = {
                "test_lines": n,
                "incidents": len(incidents),
                "caught": sum(caught.values()),
                "missed": sorted({incidents[i].kind for i, c in caught.items() if not c}),
                "false_alarms": len(false_alarms),
                "false_alarm_examples": [a["explanation"] for a in false_alarms[:3]],
                "alerting": alerting,
            }
            print(json.dumps({system: per_stream[system]}), file=sys.stderr)
    stream_days = len(per_stream) * args.test_days
    print(
        json.dumps(
            {
                "streams": len(per_stream),
                "train_days": args.train_days,
                "test_days": args.test_days,
                "rate_lines_per_s": args.rate,
                "min_severity": str(min_sev),
                "recall_by_kind": {k: round(c / n, 3) for k, (c, n) in sorted(recall.items())},
                "incidents_by_kind": {k: n for k, (_, n) in sorted(recall.items())},
                "false_alarms_per_stream_day": round(false_total / stream_days, 3),
                "false_alarms_total": false_total,
                "precision_by_detector": {
                    k: round(t / a, 3) for k, (t, a) in sorted(detectors.items())
                },
                "anomalies_by_detector": {k: a for k, (_, a) in sorted(detectors.items())},
                "backtest_lines": lines_total,
                "backtest_lines_per_s": round(lines_total / seconds_total)
                if seconds_total
                else None,
                "alerting": {
                    **alerting_total,
                    "notifications_per_incident": round(
                        alerting_total["notifications"] / max(1, alerting_total["incidents"]), 3
                    ),
                    "old_alerts_per_incident": round(
                        alerting_total["old_per_anomaly_alerts"]
                        / max(1, alerting_total["incidents"]),
                        3,
                    ),
                },
                "machine": f"{os.cpu_count()} cores, shared",
                "per_stream": per_stream,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    started = time.time()
    main()
    print(f"took {time.time() - started:.0f} s", file=sys.stderr)
