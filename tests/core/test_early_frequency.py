"""Early evaluation of frequency spikes: a template's (and the stream's) count that is already
a spike is reported from its still-open window once the window is next to close, once, with
the identity the close would give it."""

from __future__ import annotations

import pyarrow as pa

from helpers import records
from logradar.config import load_config
from logradar.engine.core import DetectionCore
from logradar.schema import Anomaly

SECOND = 1_000_000_000
T0 = 1_764_075_600 * SECOND  # a window boundary


def make_core(early: bool) -> DetectionCore:
    s = load_config(
        engine={"learning_seconds": 0, "allowed_lateness_seconds": 2, "early_evaluation": early}
    )
    return DetectionCore(s.engine, s.parser, s.detectors)


class Feed:
    """Records for a core, one stream, offsets counting up across calls."""

    def __init__(self) -> None:
        self.offset = 0

    def __call__(self, messages: list[str], ts: list[int]) -> pa.Table:
        first, self.offset = self.offset, self.offset + len(messages)
        return records(messages, ts, "s", first)


def second_of_traffic(k: int) -> tuple[list[str], list[int]]:
    """Second ``k``: 5 requests, and a cache miss every other second (~5 per window)."""
    lines = [f"INFO GET /api/items/{k * 10 + j} 200 in {j + 3} ms" for j in range(5)]
    if k % 2 == 0:
        lines.append(f"WARN cache miss for key user:{k} region=eu")
    return lines, [T0 + k * SECOND + j for j in range(len(lines))]


def cache_misses(n: int, at: int) -> tuple[list[str], list[int]]:
    return [f"WARN cache miss for key user:{900 + i} region=eu" for i in range(n)], [at] * n


def run(early: bool) -> list[list[Anomaly]]:
    """150 s of traffic, then 200 cache misses at 151 s, then traffic until 175 s; the
    frequency anomalies of each micro-batch from the burst on."""
    core, feed = make_core(early), Feed()
    for k in range(150):
        core.process(feed(*second_of_traffic(k)), T0 + k * SECOND + SECOND // 2)
    burst_at = T0 + 151 * SECOND
    steps = [core.process(feed(*cache_misses(200, burst_at)), burst_at).anomalies]
    for k in range(152, 175):  # window [150 s, 160 s) closes when the clock passes 162 s
        now = T0 + k * SECOND + SECOND // 2
        steps.append(core.process(feed(*second_of_traffic(k)), now).anomalies)
    steps.append(core.tick(T0 + 200 * SECOND).anomalies)
    return [[a for a in found if a.detector == "frequency"] for found in steps]


def test_spikes_are_reported_from_the_open_window_and_not_again_at_close():
    early, close = run(early=True), run(early=False)
    burst_window = (T0 + 150 * SECOND, T0 + 160 * SECOND)
    assert early[0] == [], "window [140 s, 150 s) was still open: the baselines not final"
    reported = early[1]  # the micro-batch whose clock (152.5 s) closed [140 s, 150 s)
    assert sorted((a.kind, a.template_id is None) for a in reported) == [
        ("spike", False),
        ("spike", True),  # the stream total, a second anomaly with its own key
    ]
    assert all((a.start, a.end) == burst_window for a in reported)
    [template] = [a for a in reported if a.template_id is not None]
    assert "cache miss" in (template.template or "")
    assert template.observed >= 200
    everything_early = [a.fingerprint for found in early for a in found]
    assert sorted(everything_early) == sorted({*everything_early}), "each reported once"

    # the close-only engine reports the same anomalies (with the final counts), at close
    closed = [found for found in close if found]
    at_close = {a.fingerprint: a for a in closed[0]}
    assert close[1] == [] and close.index(closed[0]) > 1
    assert {a.fingerprint for a in reported} == set(at_close)
    for a in reported:
        final = at_close[a.fingerprint]
        assert (a.severity, a.expected, a.template) == (
            final.severity,
            final.expected,
            final.template,
        )
        assert a.observed <= final.observed
    assert sorted(everything_early) == sorted(a.fingerprint for found in close for a in found)
