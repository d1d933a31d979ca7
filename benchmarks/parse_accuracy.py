"""Grouping (GA) and parsing accuracy (PA) on loghub-2k: logradar vs Drain3, one default config.

Usage: .venv/bin/python benchmarks/parse_accuracy.py [--chunk 256] [--only logradar]

logradar parses each system's raw lines with the system's header format (the only per-system
input) in chunks, like the CLI: a learning pass, then the final template of every line.
Drain3 gets the same messages (the header removed) with its example configuration. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import time

import pyarrow as pa

from _loghub import SYSTEMS, drain3_miner, load
from logradar.parse.evaluate import grouping_accuracy, parsing_accuracy
from logradar.parse.formats import LogFormat
from logradar.parse.templates import TemplateMiner


def run_logradar(lines: list[str], log_format: str, chunk: int) -> tuple[list[int], list[str]]:
    fmt = LogFormat.compile(log_format)
    miner = TemplateMiner()
    messages = [
        fmt.split(pa.array(lines[i : i + chunk]))["message"] for i in range(0, len(lines), chunk)
    ]
    for batch in messages:
        miner.parse(batch)
    ids = [i for batch in messages for i in miner.match(batch).to_pylist()]
    return ids, [miner.template(i) for i in ids]


def run_drain3(contents: list[str]) -> tuple[list[int], list[str]]:
    miner = drain3_miner()
    ids = [miner.add_log_message(c)["cluster_id"] for c in contents]
    final = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
    return ids, [re.sub(r"<[A-Z]+>", "<*>", final[i]) for i in ids]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--chunk", type=int, default=256, help="lines per parse batch")
    ap.add_argument("--only", choices=["logradar", "drain3"], default=None)
    args = ap.parse_args()
    report: dict[str, dict[str, dict[str, float]]] = {}
    for tool in ("logradar", "drain3"):
        if args.only and tool != args.only:
            continue
        per = {}
        for system in SYSTEMS:
            data = load(system)
            t0 = time.perf_counter()
            if tool == "logradar":
                ids, texts = run_logradar(data.lines, data.log_format, args.chunk)
            else:
                ids, texts = run_drain3(data.contents)
            per[system] = {
                "GA": round(grouping_accuracy(data.event_ids, ids), 4),
                "PA": round(parsing_accuracy(data.templates, texts), 4),
                "templates": len(set(ids)),
                "truth_templates": len(set(data.event_ids)),
                "seconds": round(time.perf_counter() - t0, 3),
            }
        per["average"] = {
            k: round(sum(per[s][k] for s in SYSTEMS) / len(SYSTEMS), 4) for k in ("GA", "PA")
        }
        report[tool] = per
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
