"""CLI start-up time: wall and CPU time of light ``logradar`` commands, median of N runs.

Runs ``python -m logradar ARGS`` with ``PYTHONPATH`` set to one or more source trees (e.g.
this checkout's ``src`` and an older one from ``git archive``), interleaved, plus
``python -c pass`` as the anchor, after one warm-up round (which writes the byte-code cache).
Prints JSON: median wall and CPU seconds per command and tree, and the wall ratio to the
anchor. CPU time (user + sys of the child) is what a command costs on an idle machine; on a
loaded one the wall time adds the wait for a core. Usage::

    python benchmarks/cli_startup.py --runs 15 --src src --src /tmp/before/src
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = (
    ("--help",),
    ("--version",),
    ("parse", "--help"),
    ("train", "--help"),
    ("config", "--reference"),
)


#: Byte-code cache outside the trees (an installed package has its .pyc files too).
PYCACHE = tempfile.mkdtemp(prefix="logradar-cli-startup-")


def run(args: list[str], src: str | None) -> tuple[float, float]:
    """Wall and CPU seconds of one run."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = PYCACHE
    if src:
        env["PYTHONPATH"] = src
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--src", action="append", required=True, help="source tree (repeatable)")
    opts = ap.parse_args()
    trees = [os.path.abspath(s) for s in opts.src]
    variants = {"anchor: python -c pass": ([sys.executable, "-c", "pass"], None)}
    for tree in trees:
        for cmd in COMMANDS:
            args = [sys.executable, "-m", "logradar", *cmd]
            variants[f"{tree}: logradar {' '.join(cmd)}"] = (args, tree)
    for args, tree in variants.values():  # warm-up: byte-code cache and OS file cache
        run(args, tree)
    walls: dict[str, list[float]] = {k: [] for k in variants}
    cpus: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(opts.runs):  # interleaved: load changes hit every variant alike
        for key, (args, tree) in variants.items():
            wall, cpu = run(args, tree)
            walls[key].append(wall)
            cpus[key].append(cpu)
    anchor = statistics.median(walls["anchor: python -c pass"])
    result = {
        "runs": opts.runs,
        "load_average_1min": os.getloadavg()[0],
        "median_wall_seconds": {k: round(statistics.median(v), 3) for k, v in walls.items()},
        "median_cpu_seconds": {k: round(statistics.median(v), 3) for k, v in cpus.items()},
        "wall_ratio_to_anchor": {
            k: round(statistics.median(v) / anchor, 1) for k, v in walls.items()
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
