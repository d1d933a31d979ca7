"""HDFS DeepLog anchor: a DeepLog LSTM against the ``sessions`` detector on the same sessions.

DeepLog (Du et al., CCS 2017) as published for HDFS: a window of the last h = 10 event keys
(one-hot; sessions start padded), a 2-layer LSTM with 64 hidden units, a softmax over the
keys seen in training; trained on normal sessions only. A session is abnormal when any of its
events is not among the g = 9 most likely next keys (a key never seen in training never is).
The paper does not model a session's end, so it cannot see a session that stops half way;
``deeplog_end`` is the same with the end as a last pseudo event to predict (as the n-gram of
the ``sessions`` detector has it). Training (the paper gives no schedule): Adam (lr 3e-3),
cross-entropy over every window of the train sessions, batch 256 distinct windows weighted
by their count, ``--epochs`` passes; everything seeded, deterministic on CPU.

Like for like with ``benchmarks/hdfs_sessions.py``: the same split and rendered logs
(:func:`hdfs_sessions.render_split`) go once through the engine (parser, session key and the
default ``sessions`` detector; the window detectors, which never see sessions, are left out),
which records every closed session. The ``sessions`` detector's anomalies come from that run;
the LSTM learns from the recorded train sessions and scores the recorded test sessions, i.e.
the engine's own template sequences. Also reported: the 2-gram anchor of ``hdfs_sessions.py``
on the same sequences; "logradar OR DeepLog" and "logradar AND DeepLog" per session (g = 9);
both DeepLog variants over g = 1..keys (mean false positives and recall over the seeds). The
LSTM is trained once per ``--lstm-seeds`` seed on the one split of ``--seed``.

Needs PyTorch (CPU), which logradar does not depend on: ``.venv/bin/pip install
torch==2.13.0`` (the CPU wheel; without it the script prints ``{"skipped": ...}`` and stops).

Run: ``.venv/bin/python benchmarks/hdfs_deeplog.py`` (prints JSON; ~10 min on 2 busy cores).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from hdfs_sessions import rates, render_split
from logradar.backtest import LocalBacktest
from logradar.config import SessionsConfig, load_config
from logradar.demo.hdfs_render import HDFS_FORMAT, SESSION_KEY
from logradar.detect.base import DetectContext, Session
from logradar.detect.sessions import END, SessionModel
from logradar.engine.core import DetectionCore
from logradar.schema import Anomaly

try:
    import torch
except ImportError:  # main() says how to install it
    torch = None

WINDOW = 10
LAYERS = 2
HIDDEN = 64
TOP_G = 9
BATCH = 256
LEARNING_RATE = 3e-3
PAD, UNKNOWN = 0, 1
"""Input indices before the known keys: start padding and a key unseen in training."""
INSTALL = ".venv/bin/pip install torch==2.13.0 (the CPU wheel)"
NEVER = 10**6
"""Rank of an event whose key was never seen in training (never in any top g)."""


class SessionRecorder:
    """A session detector that only keeps the engine's closed sessions."""

    name = "recorder"

    def __init__(self) -> None:
        self.sessions: list[Session] = []

    def observe_session(self, session: Session, ctx: DetectContext) -> list[Anomaly]:
        self.sessions.append(session)
        return []

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


def engine_sessions(work: Path) -> tuple[list[Session], set[str], float]:
    """The engine over work/train.log and work/test.log as ``logradar backtest`` runs it.

    Returns the closed sessions (train ones marked learning), the sessions the ``sessions``
    detector flagged, and the seconds taken.
    """
    settings = load_config(
        None,
        engine={"session_key": SESSION_KEY},
        parser={"log_format": HDFS_FORMAT},
        archive={"enabled": False},
    )
    core = DetectionCore(settings.engine, settings.parser, settings.detectors)
    core.fill_time_forward = True
    core.window_detectors = []  # they never see sessions; only time would differ
    recorder = SessionRecorder()
    core.session_detectors.append(recorder)
    found: list[Anomaly] = []
    started = time.perf_counter()
    LocalBacktest(settings)._run(core, work / "train.log", work / "test.log", found.append)
    seconds = time.perf_counter() - started
    flagged = {a.session for a in found if a.detector == "sessions" and a.session}
    return recorder.sessions, flagged, seconds


def ngram_flags(train: list[list[int]], test: dict[str, list[int]]) -> set[str]:
    """Sessions the 2-gram anchor of hdfs_sessions.py flags (any unseen transition)."""
    ctx = DetectContext(template_text=str, is_error_template=lambda t: False)
    model = SessionModel(SessionsConfig(checks=["transitions"], order=2, min_context=1))
    for events in train:
        model.learn(events)
    model.fit()
    return {key for key, events in test.items() if model.findings(events, ctx)}


class Vocabulary:
    """Input index (PAD, UNKNOWN, then known keys) and output class (known keys) of a key.

    With ``end`` every session ends in the pseudo event END, which is then predicted too.
    """

    def __init__(self, train: list[list[int]], end: bool) -> None:
        self.end = end
        self.keys = sorted({e for events in train for e in events} | ({END} if end else set()))
        self.index = {k: i + 2 for i, k in enumerate(self.keys)}

    @property
    def inputs(self) -> int:
        return len(self.keys) + 2

    def windows(self, events: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(h previous inputs, class of the event or -1 if unseen) for every event."""
        idx = [self.index.get(e, UNKNOWN) for e in ([*events, END] if self.end else events)]
        padded = np.array([PAD] * WINDOW + idx, dtype=np.int64)
        x = np.lib.stride_tricks.sliding_window_view(padded, WINDOW)[: len(idx)]
        y = np.array([i - 2 if i != UNKNOWN else -1 for i in idx], dtype=np.int64)
        return x, y


def build_model(vocab: Vocabulary) -> torch.nn.ModuleDict:
    return torch.nn.ModuleDict(
        {
            "lstm": torch.nn.LSTM(vocab.inputs, HIDDEN, LAYERS, batch_first=True),
            "head": torch.nn.Linear(HIDDEN, len(vocab.keys)),
        }
    )


def logits(model: torch.nn.ModuleDict, x: torch.Tensor, inputs: int) -> torch.Tensor:
    one_hot = torch.nn.functional.one_hot(x, inputs).float()
    out, _ = model["lstm"](one_hot)
    return model["head"](out[:, -1])


def train_deeplog(
    vocab: Vocabulary, train: list[list[int]], seed: int, epochs: int
) -> tuple[torch.nn.ModuleDict, float]:
    """A model trained on every window of the train sessions; returns it and its final loss.

    The loss is the mean cross-entropy over all windows; identical (window, next key) rows are
    merged and weighted by their count, which gives the same loss with ~12× fewer rows.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    pairs = [vocab.windows(events) for events in train]
    rows = np.concatenate([np.column_stack(p) for p in pairs])
    unique, counts = np.unique(rows, axis=0, return_counts=True)
    x = torch.from_numpy(np.ascontiguousarray(unique[:, :-1]))
    y = torch.from_numpy(np.ascontiguousarray(unique[:, -1]))
    weight = torch.from_numpy(counts).float()
    model = build_model(vocab)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = torch.nn.CrossEntropyLoss(reduction="none")
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=generator).split(BATCH):
            optimizer.zero_grad()
            losses = loss_fn(logits(model, x[batch], vocab.inputs), y[batch])
            loss = (losses * weight[batch]).sum() / weight[batch].sum()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        losses = loss_fn(logits(model, x, vocab.inputs), y)
    return model, float((losses * weight).sum() / weight.sum())


def max_ranks(
    model: torch.nn.ModuleDict, vocab: Vocabulary, sessions: dict[str, list[int]]
) -> dict[str, int]:
    """Per session, the worst rank (0 = most likely) of any of its events; NEVER if unseen.

    A session is abnormal at g when its worst rank is ``>= g``. Each distinct (window, next
    key) row is scored once.
    """
    keys = list(sessions)
    pairs = [vocab.windows(sessions[k]) for k in keys]
    rows = np.concatenate([np.column_stack(p) for p in pairs])
    unique, inverse = np.unique(rows, axis=0, return_inverse=True)
    x = torch.from_numpy(np.ascontiguousarray(unique[:, :-1]))
    y = torch.from_numpy(np.ascontiguousarray(unique[:, -1]))
    with torch.no_grad():
        scores = logits(model, x, vocab.inputs)
        own = scores.gather(1, y.clamp(min=0).unsqueeze(1))
        ranks = torch.where(y < 0, NEVER, (scores > own).sum(dim=1)).numpy()
    owner = np.repeat(np.arange(len(keys)), [len(p[1]) for p in pairs])
    worst = np.zeros(len(keys), dtype=np.int64)
    np.maximum.at(worst, owner, ranks[inverse.reshape(-1)])
    return {k: int(r) for k, r in zip(keys, worst, strict=True)}


def summary(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for field in ("false_positives", "fpr", "recall_holdout", "recall_all"):
        values = [r[field] for r in per_seed]
        out[field] = {
            "mean": round(statistics.fmean(values), 5),
            "min": min(values),
            "max": max(values),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the normal train/test split")
    parser.add_argument("--lstm-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    if torch is None:
        print(json.dumps({"skipped": "PyTorch is not installed: " + INSTALL}))
        return
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    with tempfile.TemporaryDirectory() as tmp:
        data = render_split(args.seed, Path(tmp))
        recorded, logradar_flags, engine_seconds = engine_sessions(Path(tmp))
    train = [s.events for s in recorded if s.learning]
    test = {s.key: s.events for s in recorded if not s.learning}
    groups = data.groups
    assert sorted(test) == sorted(b for blocks in groups.values() for b in blocks)

    results: dict[str, Any] = {
        "logradar": rates(logradar_flags, groups),
        "anchor_2gram": rates(ngram_flags(train, test), groups),
    }
    timings: dict[str, list[dict[str, Any]]] = {}
    by_g: dict[str, dict[int, list[float]]] = {}
    for variant, end in (("deeplog", False), ("deeplog_end", True)):
        vocab = Vocabulary(train, end)
        runs: dict[str, list[dict[str, Any]]] = {variant: [], f"logradar_or_{variant}": []}
        runs[f"logradar_and_{variant}"] = []
        sweep: dict[int, list[dict[str, Any]]] = {g: [] for g in range(1, len(vocab.keys) + 1)}
        timings[variant] = []
        for seed in args.lstm_seeds:
            started = time.perf_counter()
            model, loss = train_deeplog(vocab, train, seed, args.epochs)
            trained = time.perf_counter()
            worst = max_ranks(model, vocab, test)
            scored = time.perf_counter()
            timings[variant].append(
                {
                    "seed": seed,
                    "train_seconds": round(trained - started, 2),
                    "score_seconds": round(scored - trained, 2),
                    "train_loss": round(loss, 4),
                }
            )
            flagged = {k for k, r in worst.items() if r >= TOP_G}
            for name, found in zip(
                runs, (flagged, flagged | logradar_flags, flagged & logradar_flags), strict=True
            ):
                runs[name].append(rates(found, groups))
            for g, per_seed in sweep.items():
                per_seed.append(rates({k for k, r in worst.items() if r >= g}, groups))
        for name, per_seed in runs.items():
            results[name] = {"over_seeds": summary(per_seed), "per_seed": per_seed}
        by_g[variant] = {
            g: [
                round(statistics.fmean(r["false_positives"] for r in per_seed), 2),
                round(statistics.fmean(r["recall_all"] for r in per_seed), 5),
            ]
            for g, per_seed in sweep.items()
        }

    report = {
        "split": {
            "seed": args.seed,
            "train_normal_sessions": len(train),
            "test_normal_sessions": len(groups["normal"]),
            "test_abnormal_dev_sessions": len(groups["abnormal_dev"]),
            "test_abnormal_holdout_sessions": len(groups["abnormal_holdout"]),
            "train_events": sum(len(e) for e in train),
            "test_events": sum(len(e) for e in test.values()),
            "keys_seen_in_train": len({e for events in train for e in events}),
        },
        "deeplog_settings": {
            "window_h": WINDOW,
            "layers": LAYERS,
            "hidden": HIDDEN,
            "top_g": TOP_G,
            "input": "one-hot",
            "optimizer": f"Adam lr={LEARNING_RATE}",
            "batch": BATCH,
            "epochs": args.epochs,
            "lstm_seeds": args.lstm_seeds,
        },
        "machine": {
            "cores": f"{os.cpu_count()}, shared",
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
        },
        "engine_seconds": round(engine_seconds, 2),
        "flagged_when": "logradar: any 'sessions' anomaly; DeepLog: an event outside the top g",
        "results": results,
        "deeplog_timing": timings,
        "by_g_false_positives_and_recall_all": by_g,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
