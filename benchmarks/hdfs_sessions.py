"""HDFS session benchmark: per-session FPR and recall of the ``sessions`` detector, end to end.

The hdfs-sessions data (event keys per block) is rendered into raw HDFS log lines
(:mod:`logradar.demo.hdfs_render`) and run through ``logradar backtest`` with
``--session-key 'blk_-?\\d+'``: header parsing, template mining, sessions and the detector.

Splits (all seeded): normal_train.txt is shuffled with ``--seed`` and split 50/50 into the
train file and the normal part of the test file. abnormal_dev.txt is split 50/50 (fixed seed
12345) into *dev*, the half the detector's settings were chosen on, and *holdout*, which the
tuning runs did not score (a first look at the data, before the split, did see the whole
file); both go into the test file, shuffled with the normal test sessions. A session counts
as flagged when any anomaly of detector ``sessions`` names its block id, at any severity (the
test phase is past learning, so none is lowered).

logradar runs with its default configuration. The anchor, in the same run and through the
same engine, is a plain 2-gram model: any transition (session start and end included) never
seen in the train sessions flags the session (``checks = ["transitions"]``, ``order = 2``,
``min_context = 1``). Both models are also scored directly on the event keys (no parser) to
show what parsing costs.

Run: ``.venv/bin/python benchmarks/hdfs_sessions.py`` (prints JSON).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path
from typing import NamedTuple

from logradar.backtest import run_backtest
from logradar.config import SessionsConfig
from logradar.demo.hdfs_render import (
    HDFS_FORMAT,
    SESSION_KEY,
    read_sessions,
    render_sessions,
    write_log,
)
from logradar.detect.base import DetectContext
from logradar.detect.sessions import SessionModel

DATA = Path(__file__).resolve().parents[2] / "shared/datasets/hdfs-sessions"
ABNORMAL_SPLIT_SEED = 12345
ANCHOR_TOML = """
[detectors.sessions]
checks = ["transitions"]
order = 2
min_context = 1
"""


def split(items: list, seed: int) -> tuple[list, list]:
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    half = len(items) // 2
    return [items[i] for i in order[:half]], [items[i] for i in order[half:]]


def flagged_sessions(output: Path) -> set[str]:
    flagged = set()
    with open(output, encoding="utf-8") as f:
        for line in f:
            a = json.loads(line)
            if a["detector"] == "sessions" and a["session"]:
                flagged.add(a["session"])
    return flagged


def rates(flagged: set[str], groups: dict[str, list[str]]) -> dict[str, float | int]:
    normal = groups["normal"]
    fp = sum(b in flagged for b in normal)
    out: dict[str, float | int] = {"false_positives": fp, "fpr": round(fp / len(normal), 5)}
    for name in ("holdout", "dev"):
        blocks = groups[f"abnormal_{name}"]
        out[f"recall_{name}"] = round(sum(b in flagged for b in blocks) / len(blocks), 5)
    abnormal = groups["abnormal_holdout"] + groups["abnormal_dev"]
    out["recall_all"] = round(sum(b in flagged for b in abnormal) / len(abnormal), 5)
    return out


def key_sequence_rates(
    train: list[list[int]], tests: dict[str, list[list[int]]], config: SessionsConfig
) -> dict[str, float | int]:
    """The same model on the event keys themselves (no rendering, no parser)."""
    ctx = DetectContext(template_text=lambda t: f"E{t}", is_error_template=lambda t: False)
    model = SessionModel(config)
    for events in train:
        model.learn(events)
    model.fit()
    flagged = {
        name: [bool(model.findings(s, ctx)) for s in sessions] for name, sessions in tests.items()
    }
    fp = sum(flagged["normal"])
    out: dict[str, float | int] = {
        "false_positives": fp,
        "fpr": round(fp / len(tests["normal"]), 5),
    }
    for name in ("holdout", "dev"):
        hits = flagged[f"abnormal_{name}"]
        out[f"recall_{name}"] = round(sum(hits) / len(hits), 5)
    both = flagged["abnormal_holdout"] + flagged["abnormal_dev"]
    out["recall_all"] = round(sum(both) / len(both), 5)
    return out


class RenderedSplit(NamedTuple):
    """The benchmark's sessions, split and rendered into ``train.log`` and ``test.log``."""

    train: list[list[int]]
    tests: dict[str, list[list[int]]]
    """Test sessions by group: normal, abnormal_dev, abnormal_holdout."""
    groups: dict[str, list[str]]
    """Block ids of the test sessions by group."""
    train_lines: int
    test_lines: int


def render_split(seed: int, work: Path) -> RenderedSplit:
    """Split the data as the module docstring says and write the rendered logs into ``work``."""
    normal = read_sessions(DATA / "normal_train.txt")
    abnormal = read_sessions(DATA / "abnormal_dev.txt")
    train, normal_test = split(normal, seed)
    abnormal_dev, abnormal_holdout = split(abnormal, ABNORMAL_SPLIT_SEED)
    tests = {
        "normal": normal_test,
        "abnormal_dev": abnormal_dev,
        "abnormal_holdout": abnormal_holdout,
    }
    labelled = [(name, s) for name, sessions in tests.items() for s in sessions]
    random.Random(seed + 1).shuffle(labelled)
    train_lines, _ = render_sessions(train, seed=seed + 2)
    test_lines, blocks = render_sessions([s for _, s in labelled], seed=seed + 3)
    groups: dict[str, list[str]] = {name: [] for name in tests}
    for (name, _), block in zip(labelled, blocks, strict=True):
        groups[name].append(block)
    work.mkdir(parents=True, exist_ok=True)
    write_log(work / "train.log", train_lines)
    write_log(work / "test.log", test_lines)
    return RenderedSplit(train, tests, groups, len(train_lines), len(test_lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the normal train/test split")
    parser.add_argument("--keep", type=Path, help="keep the rendered logs and outputs here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        data = render_split(args.seed, work)
        train, tests, groups = data.train, data.tests, data.groups
        (work / "anchor.toml").write_text(ANCHOR_TOML, encoding="utf-8")

        results = {}
        for name, config in (("logradar", None), ("anchor_2gram", work / "anchor.toml")):
            output = work / f"{name}.jsonl"
            summary = run_backtest(
                work / "train.log",
                work / "test.log",
                output,
                log_format=HDFS_FORMAT,
                session_key=SESSION_KEY,
                config=config,
            )
            results[name] = {
                **rates(flagged_sessions(output), groups),
                "seconds": summary["seconds"],
                "lines_per_second": summary["lines_per_second"],
            }

    anchor_cfg = SessionsConfig(checks=["transitions"], order=2, min_context=1)
    report = {
        "split": {
            "train_normal_sessions": len(train),
            "test_normal_sessions": len(tests["normal"]),
            "test_abnormal_dev_sessions": len(tests["abnormal_dev"]),
            "test_abnormal_holdout_sessions": len(tests["abnormal_holdout"]),
            "train_lines": data.train_lines,
            "test_lines": data.test_lines,
            "seed": args.seed,
        },
        "flagged_when": "any anomaly of detector 'sessions' names the block, any severity",
        "engine": results,
        "key_sequences": {
            "logradar": key_sequence_rates(train, tests, SessionsConfig()),
            "anchor_2gram": key_sequence_rates(train, tests, anchor_cfg),
        },
    }
    lr, an = results["logradar"], results["anchor_2gram"]
    report["ratios"] = {
        "fpr_logradar_over_anchor": round(lr["fpr"] / an["fpr"], 3) if an["fpr"] else None,
        "holdout_recall_logradar_over_anchor": round(lr["recall_holdout"] / an["recall_holdout"], 3)
        if an["recall_holdout"]
        else None,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
