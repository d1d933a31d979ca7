"""Recorded inputs for the window detectors, and their outputs from the scalar code.

:func:`recorded_windows` builds a deterministic sequence of windows (stdlib ``random``, stable
across Python and numpy versions): three streams over three days at 5-min windows, each with
40 templates at Zipf rates and a daily cycle, with injected spikes, drops, silences, error
bursts, templates that appear late or vanish for hours, and a stream that pauses for half a
day. ``data/scalar_anomalies.json`` holds what the scalar (one template at a time)
detectors of commit 8356e83 returned on it, window by window, ``peek`` included: the columnar
detectors must return the same anomalies. Regenerate only when a detector's behaviour is
meant to change: ``PYTHONPATH=src python tests/detect/recorded.py``.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from logradar.detect.base import DetectContext, Window
from logradar.schema import Anomaly

NS = 1_000_000_000
STEP = 300 * NS
START = 1_795_392_000 * NS  # a Monday, 00:00 UTC
WINDOWS = 3 * 288
RECORDED = Path(__file__).with_name("data") / "scalar_anomalies.json"
CTX = DetectContext(template_text=lambda t: f"template {t} <*>", is_error_template=lambda t: t < 3)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def recorded_windows() -> Iterator[Window]:
    """Windows of three streams, interleaved in close order (by start, then stream)."""
    rng = random.Random(12)
    streams = {
        "api": {"scale": 40.0, "pause": None},
        "db": {"scale": 6.0, "pause": (400, 520)},
        "edge": {"scale": 0.8, "pause": None},
    }
    for i in range(WINDOWS):
        start = START + i * STEP
        hour = (i * 300 % 86400) / 3600
        daily = 1 + 0.2 * math.sin(2 * math.pi * (hour - 8) / 24)
        for name, spec in streams.items():
            pause = spec["pause"]
            counts: dict[int, int] = {}
            if pause is None or not pause[0] <= i < pause[1]:
                for t in range(40):
                    if t >= 30 and i < 100 * (t - 29):  # templates that appear late
                        continue
                    if t == 5 and 300 <= i < 420:  # vanishes for 10 h
                        continue
                    rate = spec["scale"] * daily / (t + 1)
                    if (i in (500, 501) and t == 3) or (i in (650, 780) and t == 12):
                        rate *= 25  # spikes
                    if 560 <= i < 590 and t == 8:
                        rate *= 3  # a sustained shift
                    if 600 <= i < 612 or (800 <= i < 804 and t < 4):
                        rate *= 0.02  # drops
                    c = _poisson(rng, rate)
                    if c:
                        counts[t] = c
            errors = sum(c for t, c in counts.items() if t < 3) + _poisson(rng, 0.1)
            if 700 <= i < 703:
                errors += 60 + _poisson(rng, 20)  # error burst
            total = sum(counts.values())
            yield Window(
                stream=name,
                start=start,
                end=start + STEP,
                counts=counts,
                errors=errors,
                total=total,
                examples={t: [f"{name} line {t}"] for t in counts},
                error_examples=["ERROR x"] if errors else [],
                learning=i < 20,
            )


def anomaly_record(a: Anomaly) -> dict[str, Any]:
    """What must match: identity, verdict and figures (6 significant digits)."""
    return {
        "detector": a.detector,
        "kind": a.kind,
        "stream": a.stream,
        "start": a.start,
        "end": a.end,
        "template_id": a.template_id,
        "severity": str(a.severity),
        "observed": float(f"{a.observed:.6g}") if a.observed is not None else None,
        "expected": float(f"{a.expected:.6g}") if a.expected is not None else None,
        "examples": a.examples,
    }


def run_detector(detector: Any) -> list[dict[str, Any]]:
    """Each window peeked (when the detector can) then observed; records in order."""
    out = []
    for w in recorded_windows():
        if hasattr(detector, "peek"):
            for a in detector.peek(w, CTX, next_to_close=True, earlier=[]):
                out.append({"phase": "peek", **anomaly_record(a)})
        for a in detector.observe(w, CTX):
            out.append({"phase": "observe", **anomaly_record(a)})
    return out


def detectors() -> dict[str, Any]:
    from logradar.config import ErrorBurstConfig, FrequencyConfig, SilenceConfig
    from logradar.detect.error_burst import ErrorBurstDetector
    from logradar.detect.frequency import FrequencyDetector
    from logradar.detect.silence import SilenceDetector

    return {
        "frequency": FrequencyDetector(FrequencyConfig()),
        "frequency_no_sums": FrequencyDetector(FrequencyConfig(sustained_windows=[])),
        "error_burst": ErrorBurstDetector(ErrorBurstConfig()),
        "silence": SilenceDetector(SilenceConfig()),
    }


if __name__ == "__main__":
    recorded = {name: run_detector(d) for name, d in detectors().items()}
    RECORDED.write_text(json.dumps(recorded, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print({k: len(v) for k, v in recorded.items()})
