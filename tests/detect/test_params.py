"""Odd parameter values, through the engine core (vectorized extraction) and on its own."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from helpers import records
from logradar.config import ParamsConfig, load_config
from logradar.detect.params import ParamsDetector
from logradar.engine.core import DetectionCore
from logradar.schema import RECORD_SCHEMA, TIMESTAMP

SECOND = 1_000_000_000
T0 = 1_764_075_600 * SECOND


def core() -> DetectionCore:
    s = load_config(
        engine={"window_seconds": 10, "learning_seconds": 60, "allowed_lateness_seconds": 0}
    )
    c = DetectionCore(s.engine, s.parser, s.detectors)
    c.window_detectors = [d for d in c.window_detectors if d.name == "params"] or [
        ParamsDetector(s.detectors.params)
    ]
    return c


def traffic(rng, seconds: int, odd_at: int | None = None) -> pa.Table:
    """~5 lines/s of a request log with log-normal latency, a counter and a status code."""
    messages, ts = [], []
    seq = 0
    for sec in range(seconds):
        for k in range(5):
            latency = int(rng.lognormal(np.log(25), 0.3))
            if odd_at is not None and sec == odd_at and k == 0:
                latency = 4800
            seq += 1
            messages.append(f"GET /api/orders 200 took {latency} ms seq {seq}")
            ts.append(T0 + sec * SECOND + k * 100_000_000)
    return records(messages, ts, stream="api")


def run(c: DetectionCore, table: pa.Table, batch: int = 500):
    found = []
    for i in range(0, table.num_rows, batch):
        found += c.process(table.slice(i, batch), None).anomalies
    return found + c.finish().anomalies


def test_fires_on_one_odd_latency_and_names_it():
    found = run(core(), traffic(np.random.default_rng(1), 1800, odd_at=1500))
    odd = [a for a in found if a.kind == "odd_value"]
    assert len(odd) == 1, [a.explanation for a in found]
    a = odd[0]
    assert a.observed == 4800
    assert 15 < a.expected < 40
    assert "took 4800 ms" in a.examples[0]
    assert "4800" in a.explanation and "above" in a.explanation
    assert (a.start - T0) // SECOND == 1500


def test_quiet_on_two_hours_of_normal_traffic_and_skips_counters():
    found = run(core(), traffic(np.random.default_rng(2), 7200))
    assert [a.explanation for a in found if a.kind == "odd_value"] == []


def test_state_restore_gives_the_same_result():
    table = traffic(np.random.default_rng(3), 1800, odd_at=1700)
    expected = [a.to_dict() for a in run(core(), table)]
    first = core()
    head = []
    for i in range(0, 4000, 500):
        head += first.process(table.slice(i, 500), None).anomalies
    second = core()
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    rest = run(second, table.slice(4000))
    assert [a.to_dict() for a in head + rest] == expected


def test_learning_lowers_severity():
    cfg = ParamsConfig()
    assert ParamsDetector(cfg).cfg.severity.lower() < cfg.severity


def test_digits_inside_ids_are_not_values():
    c = core()
    msgs = [
        f"GET /a request_id=2d8e5f9f{i:08d} txn=tx_6e3c3e{i:04d} status=200 latency_ms=21"
        for i in range(3)
    ]
    n = len(msgs)
    table = pa.table(
        [
            pa.array(range(n), pa.int64()),
            pa.array(["api"] * n),
            pa.array([T0] * n, pa.int64()).cast(TIMESTAMP),
            pa.array([T0] * n, pa.int64()).cast(TIMESTAMP),
            pa.nulls(n, pa.string()),
            pa.nulls(n, pa.string()),
            pa.array(msgs),
        ],
        schema=RECORD_SCHEMA,
    )
    c.process(table, None)
    (acc,) = c.streams["api"].open.values()
    values = sorted({(s.min, s.max) for s in acc.params.values()})
    assert values == [(21.0, 21.0), (200.0, 200.0)]  # status and latency only


def test_a_value_far_beyond_the_largest_ever_seen_fires_even_with_a_wide_spread():
    # "totalAltitude=240", now and then 0: the log-scale spread is wide, so z stays small
    # even for 240000; being 1000x the largest value seen makes it odd anyway, 10x does not
    from logradar.detect.base import DetectContext, ParamStats, Window

    def window(i: int, values: list[float]) -> Window:
        logs = [float(np.log1p(v)) for v in values]
        s = ParamStats(
            len(values), sum(logs), sum(x * x for x in logs), max(values), min(values),
            f"totalAltitude={int(max(values))}", f"totalAltitude={int(min(values))}",
        )  # fmt: skip
        return Window("app", i, i + 1, counts={1: len(values)}, total=len(values),
                      params={(1, 0): s})  # fmt: skip

    ctx = DetectContext(lambda t: "calculateAltitudeWithCache totalAltitude=<*>", lambda t: False)
    det = ParamsDetector(ParamsConfig())
    assert [a for i in range(40) for a in det.observe(window(i, [240] * 9 + [0]), ctx)] == []
    assert det.observe(window(40, [240, 2400]), ctx) == []
    [odd] = det.observe(window(41, [240, 240000]), ctx)
    assert (odd.kind, odd.observed) == ("odd_value", 240000)
    assert "(max so far 2400, 100× that, 402 values seen)" in odd.explanation
    assert odd.examples == ["totalAltitude=240000"]
