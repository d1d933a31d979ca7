"""Docs that run: every shell block (sh, bash, shell, console) of README.md and docs/**/*.md.

A block runs with bash (``set -euo pipefail``) in a fresh folder that holds sample files
(``access.log``, ``normal.log`` and ``incident.log``: HDFS lines), with the ``logradar``
being tested first on ``PATH``. An HTML comment on the line right before the fence says how:

* ``<!-- no-run: why -->``: the block is not run (it installs, needs Docker or a cloud, runs
  until Ctrl-C, ...); the reason is required;
* ``<!-- run: server -->``: a ``logradar up`` is started for the block on a free port, and
  ``localhost:8080`` / ``127.0.0.1:8080`` in the block point at it.

A failing block fails its own test case, named ``FILE:LINE``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
HDFS = ROOT.parent / "shared/datasets/loghub-2k/HDFS/HDFS_2k.log"
SHELLS = {"sh", "bash", "shell", "console"}
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w-]*)")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>no-run|run)\s*:\s*(?P<arg>.*?)\s*-->\s*$")
BLOCK_TIMEOUT = 300
"""Seconds; generous: on a loaded 2-core machine a backtest block alone took minutes."""


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    code: str
    marker: str | None
    """``no-run``, ``run`` or None."""
    arg: str

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def shell_blocks(path: Path) -> Iterator[Block]:
    """The shell blocks of one Markdown file, each with the marker right above it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m["indent"], m["fence"], m["lang"].lower()
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        if lang in SHELLS:
            above = MARKER.match(lines[i - 1]) if i > 0 else None
            body = [x.removeprefix(indent) for x in lines[i + 1 : end]]
            yield Block(
                path,
                i + 1,
                "\n".join(body) + "\n",
                above["kind"] if above else None,
                above["arg"] if above else "",
            )
        i = end + 1


BLOCKS = [b for f in doc_files() for b in shell_blocks(f)]


def test_the_docs_have_shell_blocks_and_every_skip_says_why() -> None:
    assert any(b.path.name == "README.md" for b in BLOCKS)
    unexplained = [b.name for b in BLOCKS if b.marker == "no-run" and not b.arg]
    assert unexplained == [], "give the reason: <!-- no-run: why -->"
    unknown = [b.name for b in BLOCKS if b.marker == "run" and b.arg != "server"]
    assert unknown == [], "the only run mode is <!-- run: server -->"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder with the sample files the examples name."""
    work = tmp_path / "work"
    work.mkdir()
    lines = HDFS.read_text(encoding="utf-8").splitlines(keepends=True)
    (work / "normal.log").write_text("".join(lines[:1500]), encoding="utf-8")
    (work / "incident.log").write_text("".join(lines[1500:]), encoding="utf-8")
    (work / "access.log").write_text(
        "".join(f'10.0.0.{i} - - "GET /item/{i} HTTP/1.1" 200 {100 + i}\n' for i in range(50)),
        encoding="utf-8",
    )
    return work


def environment(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGRADAR_")}
    bin_dir = str(Path(sys.executable).parent)
    src = str(Path(__import__("logradar").__file__).resolve().parents[1])
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    env["HOME"] = str(work)
    env["XDG_STATE_HOME"] = str(work / ".state")
    return env


def start_server(work: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        ["logradar", "up", "--data-dir", str(work / "server-data"), "--port", str(port)],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, port
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"logradar up did not start: {proc.communicate()[1].decode()[-2000:]}")


@pytest.mark.integration
@pytest.mark.parametrize("block", [b for b in BLOCKS if b.marker != "no-run"], ids=lambda b: b.name)
def test_shell_block_runs(block: Block, workdir: Path) -> None:
    env = environment(workdir)
    code = block.code
    server = None
    if block.marker == "run":
        server, port = start_server(workdir, env)
        code = re.sub(r"(localhost|127\.0\.0\.1):8080", f"127.0.0.1:{port}", code)
    try:
        done = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + code],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT,
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
    assert done.returncode == 0, (
        f"{block.name} failed (exit {done.returncode}); fix the example, or mark it "
        f"<!-- no-run: why --> if it cannot run here:\n{code}\n--- stdout\n"
        f"{done.stdout[-2000:]}\n--- stderr\n{done.stderr[-2000:]}"
    )
