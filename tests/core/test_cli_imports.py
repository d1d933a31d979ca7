"""CLI start-up weight: ``import logradar.cli`` and every ``--help`` stay light.

Heavy libraries belong inside the command function that needs them (see ``logradar/cli.py``).
Each check runs in a fresh interpreter, so modules other tests imported do not hide a leak.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import logradar

#: The issue's list (scipy, scikit-learn, pandas, PySpark, the web stack) plus the other
#: libraries that each cost a good part of the 0.3 s start-up budget.
HEAVY = (
    "scipy",
    "sklearn",
    "pandas",
    "pyspark",
    "starlette",
    "uvicorn",
    "numpy",
    "pyarrow",
    "sqlalchemy",
    "pydantic",
    "httpx",
    "rich",
)

PROBE = """
import json, sys
HEAVY = {heavy!r}

def loaded():
    return sorted(m for m in HEAVY if m in sys.modules)

import logradar.cli as cli
report = {{"import logradar.cli": loaded()}}

def walk(group, path):
    for name in group.list_commands(None):
        cmd = group.get_command(None, name)
        args = [*path, name]
        try:
            cli.main(args + ["--help"], prog_name="logradar", standalone_mode=False)
        except SystemExit:
            pass
        report[" ".join(["logradar", *args, "--help"])] = loaded()
        if hasattr(cmd, "list_commands"):
            walk(cmd, args)

for args in (["--help"], ["--version"]):
    try:
        cli.main(args, prog_name="logradar", standalone_mode=False)
    except SystemExit:
        pass
    report[" ".join(["logradar", *args])] = loaded()
walk(cli.main, [])
print("REPORT " + json.dumps(report))
"""


def probe() -> dict[str, list[str]]:
    src = str(Path(logradar.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("REPORT "))
    return json.loads(line.removeprefix("REPORT "))


def test_cli_import_and_help_do_not_load_heavy_libraries() -> None:
    report = probe()
    assert "logradar parse --help" in report  # the walk reached the subcommands
    assert "logradar spark package --help" in report  # and the groups' subcommands
    leaks = {step: mods for step, mods in report.items() if mods}
    assert leaks == {}, (
        f"import these inside the command function that needs them, not at module top: {leaks}"
    )
