"""CLI start-up time: wall time of light ``logradar`` commands, median of N runs.

Runs ``python -m logradar ARGS`` with ``PYTHONPATH`` set to one or more source trees (e.g.
this checkout's ``src`` and an older one from ``git archive``) interleaved, plus
``python -c pass`` as the anchor, and prints JSON (one warm-up round first, which writes
the byte-code cache): seconds per command and tree, and the
ratio to the anchor. Usage::

    python benchmarks/cli_startup.py --runs 15 --src src --src /tmp/before/src
"""

from __future__ import annotations

import argparse
import json
import os
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


def wall(args: list[str], src: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = PYCACHE
    if src:
        env["PYTHONPATH"] = src
    start = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--src", action="append", required=True, help="source tree (repeatable)")
    opts = ap.parse_args()
    trees = [os.path.abspath(s) for s in opts.src]
    samples: dict[str, list[float]] = {}
    for tree in trees:  # warm-up: byte-code cache and OS file cache
        for cmd in COMMANDS:
            wall([sys.executable, "-m", "logradar", *cmd], tree)
    for _ in range(opts.runs):  # interleaved: load changes hit every variant alike
        samples.setdefault("anchor: python -c pass", []).append(
            wall([sys.executable, "-c", "pass"], None)
        )
        for tree in trees:
            for cmd in COMMANDS:
                key = f"{tree}: logradar {' '.join(cmd)}"
                samples.setdefault(key, []).append(
                    wall([sys.executable, "-m", "logradar", *cmd], tree)
                )
    anchor = statistics.median(samples["anchor: python -c pass"])
    print(
        json.dumps(
            {
                "runs": opts.runs,
                "median_seconds": {k: round(statistics.median(v), 3) for k, v in samples.items()},
                "ratio_to_anchor": {
                    k: round(statistics.median(v) / anchor, 1) for k, v in samples.items()
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
