"""Operator feedback: anomalies marked expected stop alerting, mutes silence alerts for a while.

*Expected.* A person marks an anomaly expected (API, UI or ``logradar expected``); the store
sets its status and logs the mark in the ``feedback`` table. Each engine step reads the marks
logged since the last one (by increasing id, one cheap query) and accepts their *key*
``(detector, kind, stream, template_id)``. A later anomaly
with an accepted key is stored with status ``expected`` and severity ``info`` and is not
alerted, as long as it is not much larger: where an anomaly compares an observed with an
expected value above 0, its *deviation* is ``|log((observed + 1) / (expected + 1))|`` and it
counts as expected only up to ``magnitude_factor`` times the largest accepted deviation (a
spike marked expected at 3x does not hide one at 100x). A detector that can learn from the
mark itself (e.g. add the session to its normal ones) may offer ``accept(anomaly)``; it is
called too. The accepted keys and the feedback cursor are saved in the engine snapshot.

*Baselined.* Open anomalies detected longer ago than ``visibility_days`` are marked
``baselined`` (checked every ``baseline_check_seconds``) and accepted like expected ones.

*Muted.* A mute (like an Alertmanager silence) matches a stream and/or a template until a
time; matching anomalies are stored with status ``muted`` and not alerted.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from logradar.config import FeedbackConfig
from logradar.engine.core import DetectionCore
from logradar.schema import Anomaly, Severity
from logradar.store import Store

DAY_NS = 86_400 * 10**9
_DURATION = re.compile(r"^\s*(\d{1,9}(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """``90s``, ``15m``, ``2h``, ``1d``, ``1w`` (or ``1.5h``) as seconds; ValueError if not."""
    m = _DURATION.match(text)
    if m is None or float(m[1]) <= 0:
        raise ValueError(f"{text[:40]!r} is not a positive duration like 30m, 2h or 1d")
    return float(m[1]) * _UNIT_SECONDS[m[2]]


def deviation(anomaly: Anomaly) -> float | None:
    """How far observed is from expected on a log scale; None where that is not defined."""
    if anomaly.expected is None or anomaly.observed is None or anomaly.expected <= 0:
        return None
    return abs(math.log((max(anomaly.observed, 0.0) + 1) / (anomaly.expected + 1)))


def _key(anomaly: Anomaly) -> str:
    return json.dumps((anomaly.detector, anomaly.kind, anomaly.stream, anomaly.template_id))


class Feedback:
    """The engine's view of operator feedback; see the module docstring."""

    def __init__(self, config: FeedbackConfig) -> None:
        self.config = config
        self.cursor = 0
        """Id of the last ``feedback`` row applied."""
        self.accepted: dict[str, list[Any]] = {}
        """Key (JSON) -> [id of the last anomaly accepted, largest deviation or None]."""
        self._next_baseline = 0.0

    # Learning from the store ------------------------------------------------------------
    def apply(self, store: Store, core: DetectionCore) -> int:
        """Baseline old open anomalies when due, then accept new marks; return marks applied."""
        now_ns = time.time_ns()
        if time.monotonic() >= self._next_baseline:
            self._next_baseline = time.monotonic() + self.config.baseline_check_seconds
            store.baseline_open(now_ns - int(self.config.visibility_days * DAY_NS), now_ns)
        applied = 0
        while rows := store.pending_feedback(self.cursor):
            for feedback_id, _action, anomaly_id, anomaly in rows:
                self.accept(anomaly_id, anomaly, core)
                self.cursor = feedback_id
                applied += 1
        return applied

    def accept(self, anomaly_id: int, anomaly: Anomaly, core: DetectionCore) -> None:
        """Treat anomalies like ``anomaly`` as normal from now on."""
        dev = deviation(anomaly)
        entry = self.accepted.get(_key(anomaly))
        if entry is None:
            self.accepted[_key(anomaly)] = [anomaly_id, dev]
        else:
            entry[0] = anomaly_id
            entry[1] = None if entry[1] is None or dev is None else max(entry[1], dev)
        for detector in (*core.window_detectors, *core.session_detectors):
            accept = getattr(detector, "accept", None)
            if detector.name == anomaly.detector and callable(accept):
                accept(anomaly)

    # Using it ---------------------------------------------------------------------------
    def expected_by(self, anomaly: Anomaly) -> int | None:
        """Id of the accepted anomaly that makes ``anomaly`` expected, or None."""
        entry = self.accepted.get(_key(anomaly))
        if entry is None:
            return None
        accepted_id, accepted_dev = entry
        factor = self.config.magnitude_factor
        dev = deviation(anomaly)
        if factor is None or accepted_dev is None or dev is None or dev <= factor * accepted_dev:
            return accepted_id
        return None

    def record(
        self, store: Store, anomalies: Iterable[Anomaly]
    ) -> tuple[list[tuple[int, Anomaly]], list[tuple[int, Anomaly]]]:
        """Store ``anomalies``; return ``(newly stored, those to alert on)``.

        "Newly stored" includes anomalies stored before but never alerted on (see
        :meth:`Store.add_anomalies`), so a crash between the two cannot lose an alert.

        Expected ones are stored as ``info`` with status ``expected`` and a note naming the
        anomaly that was marked, and are not alerted.
        """
        out: list[Anomaly] = []
        expected: set[str] = set()
        for anomaly in anomalies:
            by = self.expected_by(anomaly)
            if by is not None:
                anomaly = replace(
                    anomaly,
                    severity=Severity.INFO,
                    explanation=f"{anomaly.explanation} Expected: like anomaly #{by}, "
                    "which was marked expected.",
                )
                expected.add(anomaly.fingerprint)
            out.append(anomaly)
        new = store.add_anomalies(out, unalerted=True)
        store.set_anomaly_status([i for i, a in new if a.fingerprint in expected], "expected")
        return new, [(i, a) for i, a in new if a.fingerprint not in expected]

    # State ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"cursor": self.cursor, "accepted": self.accepted}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.cursor = state["cursor"]
        self.accepted = {k: list(v) for k, v in state["accepted"].items()}


def suppress_muted(
    store: Store, new: list[tuple[int, Anomaly]], now_ns: int
) -> list[tuple[int, Anomaly]]:
    """Mark anomalies that match an active mute as ``muted``; return the others."""
    mutes = store.list_mutes(active_at_ns=now_ns)
    if not mutes:
        return new
    muted = {i for i, a in new if any(m.matches(a, now_ns) for m in mutes)}
    store.set_anomaly_status(muted, "muted")
    return [(i, a) for i, a in new if i not in muted]
