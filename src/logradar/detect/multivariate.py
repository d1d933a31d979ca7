"""Multivariate: a window whose *mix* of lines is unusual, even if no single count is extreme.

Each stream gets a fixed feature map once ``min_windows`` windows are seen: its ``top_k``
templates by count (among those averaging ``min_mean`` lines per window), plus all other lines
and the error lines. A window becomes the log share of each, ``log1p(count) - log1p(total)``:
the total enters as the normaliser, not as a feature of its own, because the raw level drifts
with the daily cycle beyond any recent training range (and the frequency detector judges it
with seasonality). A scikit-learn :class:`~sklearn.ensemble.IsolationForest` is fitted on the
recent windows (at most ``max_train``) and refitted each time the training set could double,
then every ``refit_every`` windows (a young model is the main source of false alarms). The
threshold comes from the training data, without a contamination guess: the ``quantile`` of
the training anomaly scores plus ``margin``. A forest cannot score past its training range
(its splits are drawn inside it: a window where a big template vanished scores like the most
extreme training window), so a window with a feature ``max_deviation`` robust spreads (scaled
MAD) from its training median fires too, with the threshold as its score. Windows that fire
are not trained on. The
explanation names the features furthest from their training median; ``expected`` is the
threshold and ``observed`` the window's score. The state holds the training matrix, not a
pickled model: loading refits the forest with the same ``random_state``, i.e. the same model.

>>> import numpy as np
>>> from logradar.config import MultivariateConfig
>>> from logradar.detect.base import DetectContext, Window
>>> ctx = DetectContext(template_text=lambda t: f"t{t}", is_error_template=lambda t: False)
>>> det = MultivariateDetector(MultivariateConfig(min_windows=60, n_estimators=50))
>>> rng, step = np.random.default_rng(0), 10 * 10**9
>>> def window(i, a, b):
...     return Window("api", i * step, (i + 1) * step, {1: a, 2: b}, total=a + b)
>>> for i in range(100):
...     _ = det.observe(window(i, int(rng.poisson(50)), int(rng.poisson(50))), ctx)
>>> [a.kind for a in det.observe(window(100, 100, 0), ctx)]  # same total, other mix
['multivariate']
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest

from logradar.config import MultivariateConfig
from logradar.detect.base import DetectContext, Window
from logradar.schema import Anomaly

EULER_GAMMA = 0.5772156649015329


def average_path_length(n: int) -> float:
    """Mean path length of an unsuccessful search in a binary tree of ``n`` points, ``c(n)``."""
    if n <= 1:
        return 0.0
    if n == 2:
        return 1.0
    return 2.0 * (math.log(n - 1.0) + EULER_GAMMA) - 2.0 * (n - 1.0) / n


class CompiledForest:
    """Scores one row on a fitted :class:`IsolationForest` without scikit-learn's per-call cost.

    ``IsolationForest.score_samples`` costs milliseconds per call however small the input, and
    a stream scores one window at a time. This walks the fitted trees' arrays directly and
    computes the same value: ``2 ** (-mean path length / c(max_samples))``, where a path ends at
    a leaf with its depth plus the average path length of the samples left there.
    """

    def __init__(self, forest: IsolationForest) -> None:
        self.trees: list[tuple[list[int], list[int], list[int], list[float], list[float]]] = []
        for tree, features in zip(forest.estimators_, forest.estimators_features_, strict=True):
            t = tree.tree_
            left, right = t.children_left.tolist(), t.children_right.tolist()
            depth = [0] * t.node_count
            for node in range(t.node_count):  # parents come before their children
                if left[node] != -1:
                    depth[left[node]] = depth[right[node]] = depth[node] + 1
            leaf_value = [
                depth[n] + average_path_length(t.n_node_samples[n]) for n in range(t.node_count)
            ]
            feature = [int(features[f]) if f >= 0 else -1 for f in t.feature.tolist()]
            self.trees.append((left, right, feature, t.threshold.tolist(), leaf_value))
        self.norm = len(self.trees) * average_path_length(forest.max_samples_)

    def score(self, row: list[float]) -> float:
        total = 0.0
        for left, right, feature, threshold, leaf_value in self.trees:
            node = 0
            while left[node] != -1:
                node = left[node] if row[feature[node]] <= threshold[node] else right[node]
            total += leaf_value[node]
        return float(2.0 ** (-total / self.norm))


class StreamModel:
    """One stream's feature map, training windows and fitted forest."""

    def __init__(self, config: MultivariateConfig) -> None:
        self.config = config
        self.features: list[int] | None = None
        """Template ids of the feature map, once chosen."""
        self.with_errors = False
        """Whether the error lines are a feature (only when not sparse)."""
        self.warmup: list[tuple[dict[str, int], int, int]] = []
        """Windows before the feature map exists: (counts by template id, total, errors)."""
        self.train: list[list[float]] = []
        """Rows the current forest was fitted on."""
        self.pending: list[list[float]] = []
        """Rows seen since, used at the next refit."""
        self.forest: IsolationForest | None = None
        self.scorer: CompiledForest | None = None
        self.threshold = 1.0
        self.median = self.spread = np.zeros(0)

    def raw(self, counts: dict[int, int], total: int, errors: int) -> list[int]:
        """Counts per feature: the feature templates, the other lines, the error lines."""
        assert self.features is not None
        picked = [counts.get(t, 0) for t in self.features]
        return [*picked, max(0, total - sum(picked)), *([errors] if self.with_errors else [])]

    def names(self, ctx: DetectContext) -> list[str]:
        """Human names of the features, in order."""
        assert self.features is not None
        names = [f"'{ctx.template_text(t)}'" for t in self.features]
        return [*names, "other lines", *(["error lines"] if self.with_errors else [])]

    def row(self, counts: dict[int, int], total: int, errors: int) -> list[float]:
        """Feature vector: the log share ``log1p(count) - log1p(total)`` of each feature."""
        return (np.log1p(self.raw(counts, total, errors)) - np.log1p(total)).tolist()

    def add(self, window: Window) -> None:
        """Learn one (not anomalous) window; fit or refit when due."""
        cfg = self.config
        if self.features is None:
            counts = {str(t): c for t, c in window.counts.items() if c > 0}
            self.warmup.append((counts, window.total, window.errors))
            if len(self.warmup) >= cfg.min_windows:
                self._choose_features()
                self.fit()
            return
        self.pending.append(self.row(window.counts, window.total, window.errors))
        if len(self.pending) >= min(cfg.refit_every, len(self.train)):
            self.train = (self.train + self.pending)[-cfg.max_train :]
            self.pending = []
            self.fit()

    def _choose_features(self) -> None:
        totals: dict[int, int] = {}
        for counts, _, _ in self.warmup:
            for t, c in counts.items():
                totals[int(t)] = totals.get(int(t), 0) + c
        least = self.config.min_mean * len(self.warmup)
        ranked = sorted((t for t in totals if totals[t] >= least), key=lambda t: (-totals[t], t))
        self.features = ranked[: self.config.top_k]
        self.with_errors = sum(errors for _, _, errors in self.warmup) >= least
        self.train = [
            self.row({int(t): c for t, c in counts.items()}, total, errors)
            for counts, total, errors in self.warmup
        ][-self.config.max_train :]
        self.warmup = []

    def fit(self) -> None:
        """Fit the forest on ``train`` and set the threshold and feature medians from it."""
        cfg = self.config
        x = np.asarray(self.train)
        self.forest = IsolationForest(
            n_estimators=cfg.n_estimators, random_state=cfg.random_state
        ).fit(x)
        self.scorer = CompiledForest(self.forest)
        scores = -self.forest.score_samples(x)
        self.threshold = float(np.quantile(scores, cfg.quantile) + cfg.margin)
        self.median = np.median(x, axis=0)
        mad = np.median(np.abs(x - self.median), axis=0)
        self.spread = 1.4826 * mad + 0.1  # +0.1 (log1p units): constant features still rank

    def deviation(self, row: list[float]) -> float:
        """The largest distance of a feature from its training median, in robust spreads."""
        return float((np.abs(np.asarray(row) - self.median) / self.spread).max())

    def score(self, row: list[float]) -> float:
        """Isolation-forest anomaly score in 0..1 (about 0.5 is ordinary)."""
        assert self.scorer is not None
        return self.scorer.score(row)

    def state(self) -> dict[str, Any]:
        return {
            "features": self.features,
            "with_errors": self.with_errors,
            "warmup": [list(w) for w in self.warmup],
            "train": self.train,
            "pending": self.pending,
        }

    @classmethod
    def from_state(cls, config: MultivariateConfig, state: dict[str, Any]) -> StreamModel:
        m = cls(config)
        m.features, m.with_errors = state["features"], state["with_errors"]
        m.warmup = [(c, total, errors) for c, total, errors in state["warmup"]]
        m.train, m.pending = state["train"], state["pending"]
        if m.features is not None:
            m.fit()
        return m


class MultivariateDetector:
    """Isolation forest over per-window template-count vectors, per stream; see module doc."""

    name = "multivariate"

    def __init__(self, config: MultivariateConfig | None = None) -> None:
        self.config = config or MultivariateConfig()
        self._streams: dict[str, StreamModel] = {}

    def observe(self, window: Window, ctx: DetectContext) -> list[Anomaly]:
        model = self._streams.get(window.stream)
        if model is None:
            model = self._streams[window.stream] = StreamModel(self.config)
        out: list[Anomaly] = []
        if window.total == 0:
            return out  # no mix to judge: an empty window is the silence detector's business
        if model.forest is not None:
            row = model.row(window.counts, window.total, window.errors)
            score = model.score(row)
            far = model.deviation(row) >= self.config.max_deviation
            if score >= model.threshold or far:
                out.append(self._anomaly(window, ctx, model, row, score, far=far))
        if not out:
            model.add(window)
        return out

    def _anomaly(
        self,
        window: Window,
        ctx: DetectContext,
        model: StreamModel,
        row: list[float],
        score: float,
        *,
        far: bool,
    ) -> Anomaly:
        assert model.features is not None
        deviation = (np.asarray(row) - model.median) / model.spread
        top = sorted(range(len(row)), key=lambda i: (-abs(deviation[i]), i))[:3]
        names = model.names(ctx)
        raw = model.raw(window.counts, window.total, window.errors)
        # the usual count at this window's volume, from the feature's median log share
        usual = np.expm1(model.median + np.log1p(window.total))
        parts = [f"{names[i]} {raw[i]} lines vs usually about {usual[i]:.3g}" for i in top]
        tids = [model.features[i] for i in top if i < len(model.features)]
        examples = [line for t in tids for line in window.examples.get(t, [])][:3]
        severity = self.config.severity
        why = f"isolation score {score:.2f}, threshold {model.threshold:.2f}"
        if far:
            why += f"; a feature is {model.deviation(row):.0f} spreads from its usual value"
        return Anomaly(
            detector=self.name,
            kind="multivariate",
            stream=window.stream,
            start=window.start,
            end=window.end,
            score=min(1.0, max(score, model.threshold)),
            severity=severity.lower() if window.learning else severity,
            explanation=f"The mix of {window.total} lines on stream {window.stream} is unusual "
            f"({why}), most of all " + ", ".join(parts) + ".",
            expected=model.threshold,
            observed=score,
            examples=examples,
        )

    def state_dict(self) -> dict[str, Any]:
        return {"streams": {s: m.state() for s, m in self._streams.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._streams = {
            s: StreamModel.from_state(self.config, m) for s, m in state["streams"].items()
        }
