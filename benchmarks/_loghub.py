"""Shared helpers of the parser benchmarks: the loghub-2k data and the Drain3 anchor."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

LOGHUB = Path(__file__).resolve().parents[2] / "shared/datasets/loghub-2k"
SYSTEMS = ("Apache", "BGL", "HDFS", "Hadoop", "HealthApp", "OpenSSH", "Spark", "Zookeeper")


@dataclass
class Dataset:
    system: str
    log_format: str
    lines: list[str]
    contents: list[str]
    event_ids: list[str]
    templates: list[str]


def load(system: str, root: Path = LOGHUB) -> Dataset:
    """Raw lines, ground-truth contents, event ids and templates of one loghub-2k system."""
    formats = json.loads((root / "formats.json").read_text())
    raw = (root / system / f"{system}_2k.log").read_bytes().decode("utf-8", errors="replace")
    lines = raw.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    with open(root / system / f"{system}_2k.log_structured.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return Dataset(
        system,
        formats[system],
        [line.removesuffix("\r") for line in lines],
        [r["Content"] for r in rows],
        [r["EventId"] for r in rows],
        [r["EventTemplate"] for r in rows],
    )


def ensure_drain3() -> None:
    """Install drain3 with pip only when it is missing."""
    if importlib.util.find_spec("drain3") is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "drain3"], check=True)


#: Drain3's example masking (drain3.ini in its repository): ids, IPs, hex sequences, numbers
#: (its last, application-specific "executed cmd" rule is left out).
DRAIN3_MASKS = [
    (r"((?<=[^A-Za-z0-9])|^)(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))((?=[^A-Za-z0-9])|$)", "ID"),
    (r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)", "IP"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9a-f]{6,} ?){3,}((?=[^A-Za-z0-9])|$)", "SEQ"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9A-F]{4} ?){4,}((?=[^A-Za-z0-9])|$)", "SEQ"),
    (r"((?<=[^A-Za-z0-9])|^)(0x[a-f0-9A-F]+)((?=[^A-Za-z0-9])|$)", "HEX"),
    (r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)", "NUM"),
]


def drain3_miner():
    """A Drain3 TemplateMiner with its example configuration (drain3.ini: sim_th 0.4,
    depth 4, max_children 100, max_clusters 1024, extra delimiter ``_``, the masks above)."""
    ensure_drain3()
    from drain3 import TemplateMiner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.drain_sim_th = 0.4
    config.drain_depth = 4
    config.drain_max_children = 100
    config.drain_max_clusters = 1024
    config.drain_extra_delimiters = ["_"]
    config.masking_instructions = [MaskingInstruction(p, name) for p, name in DRAIN3_MASKS]
    config.profiling_enabled = False
    config.snapshot_interval_minutes = 10**9
    return TemplateMiner(config=config)
