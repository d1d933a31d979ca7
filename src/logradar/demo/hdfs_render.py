"""Render HDFS block sessions (E1..E30 event keys) as raw HDFS log lines.

The HDFS session data sets give each block's life as a sequence of event keys, not as log
lines. This turns them back into lines in the loghub HDFS format
``<Date> <Time> <Pid> <Level> <Component>: <Content>``, one fresh block id per session, with
realistic parameters (data nodes, ports, sizes, paths, thread ids) and sessions interleaved
in time, so the whole pipeline (header parsing, template mining, session keys) can be
measured on them. Deterministic for a given seed.

>>> lines, blocks = render_sessions([[22, 5, 11, 9]], seed=1)
>>> len(lines), blocks[0] in lines[0], "allocateBlock" in lines[0]
(4, True, True)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

HDFS_FORMAT = "<Date> <Time> <Pid> <Level> <Component>: <Content>"
SESSION_KEY = r"blk_-?\d+"
START = datetime(2008, 11, 9, 20, 30, 0, tzinfo=UTC)
BLOCK_SIZE = 67108864

DATA_NODE = "dfs.DataNode"
XCEIVER = "dfs.DataNode$DataXceiver"
RESPONDER = "dfs.DataNode$PacketResponder"
RECEIVER = "dfs.DataNode$BlockReceiver"
TRANSFER = "dfs.DataNode$DataTransfer"
DATASET = "dfs.FSDataset"
NAMESYSTEM = "dfs.FSNamesystem"

_EXCEPTIONS = (
    "java.io.IOException: Connection reset by peer",
    "java.io.EOFException: while trying to read 65557 bytes",
    "java.io.IOException: Could not read from stream",
    "java.io.InterruptedIOException: Interruped while waiting for IO on channel "
    "java.nio.channels.SocketChannel[closed]. 0 millis timeout left.",
)


class _Block:
    """Parameters shared by all lines of one block: id, data nodes, file, size."""

    def __init__(self, rng: random.Random, nodes: list[str]) -> None:
        self.rng = rng
        self.id = f"blk_{rng.choice(('', '-'))}{rng.randrange(10**17, 9 * 10**18)}"
        self.nodes = rng.sample(nodes, 4)
        self.size = BLOCK_SIZE if rng.random() < 0.8 else rng.randrange(1000, BLOCK_SIZE)
        task = rng.randrange(0, 2000)
        job = rng.choice(("rand", "randtxt", "sortrand", "sortrand2"))
        self.path = (
            f"/user/root/{job}/_temporary/_task_200811092030_{rng.randrange(1, 20):04d}_"
            f"m_{task:06d}_0/part-{task:05d}."
        )
        self.subdir = rng.randrange(0, 64)
        self.nodes_used = 0

    def node(self) -> str:
        """The next replica's data node (cycles through this block's nodes)."""
        self.nodes_used += 1
        return self.nodes[(self.nodes_used - 1) % 3]

    def any_node(self) -> str:
        """One of this block's three replica nodes (the fourth is a replication target)."""
        return self.rng.choice(self.nodes[:3])

    def port(self) -> int:
        return self.rng.randrange(32768, 61000)

    def exception(self) -> str:
        return self.rng.choice(_EXCEPTIONS)


Line = tuple[str, str, str]
"""(level, component, content)."""

_EVENTS: dict[int, Callable[[_Block], Line]] = {
    1: lambda b: (
        "WARN",
        DATA_NODE,
        f"{b.any_node()}:50010:Adding an already existing block {b.id}",
    ),
    2: lambda b: ("INFO", "dfs.DataBlockScanner", f"Verification succeeded for {b.id}"),
    3: lambda b: ("INFO", XCEIVER, f"{b.any_node()}:50010 Served block {b.id} to /{b.any_node()}"),
    4: lambda b: (
        "WARN",
        XCEIVER,
        f"{b.any_node()}:50010:Got exception while serving {b.id} to /{b.any_node()}:",
    ),
    5: lambda b: (
        "INFO",
        XCEIVER,
        f"Receiving block {b.id} src: /{b.any_node()}:{b.port()} dest: /{b.node()}:50010",
    ),
    6: lambda b: (
        "INFO",
        XCEIVER,
        f"Received block {b.id} src: /{b.any_node()}:{b.port()} dest: /{b.any_node()}:50010 "
        f"of size {b.size}",
    ),
    7: lambda b: ("INFO", XCEIVER, f"writeBlock {b.id} received exception {b.exception()}"),
    8: lambda b: (
        "INFO",
        RESPONDER,
        f"PacketResponder {b.rng.randrange(3)} for block {b.id} Interrupted.",
    ),
    9: lambda b: (
        "INFO",
        RESPONDER,
        f"Received block {b.id} of size {b.size} from /{b.any_node()}",
    ),
    10: lambda b: (
        "INFO",
        RESPONDER,
        f"PacketResponder {b.id} {b.rng.randrange(3)} Exception {b.exception()}",
    ),
    11: lambda b: (
        "INFO",
        RESPONDER,
        f"PacketResponder {b.rng.randrange(3)} for block {b.id} terminating",
    ),
    12: lambda b: (
        "INFO",
        XCEIVER,
        f"{b.any_node()}:50010:Exception writing block {b.id} to mirror {b.any_node()}:50010",
    ),
    13: lambda b: ("INFO", RECEIVER, f"Receiving empty packet for block {b.id}"),
    14: lambda b: (
        "INFO",
        RECEIVER,
        f"Exception in receiveBlock for block {b.id} {b.exception()}",
    ),
    15: lambda b: (
        "INFO",
        RECEIVER,
        f"Changing block file offset of block {b.id} from {b.rng.randrange(0, 10**7)} to "
        f"{b.rng.randrange(0, 10**7)} meta file offset to {b.rng.randrange(7, 80000)}",
    ),
    16: lambda b: (
        "INFO",
        TRANSFER,
        f"{b.any_node()}:50010:Transmitted block {b.id} to /{b.nodes[3]}:50010",
    ),
    17: lambda b: (
        "WARN",
        DATA_NODE,
        f"{b.any_node()}:50010:Failed to transfer {b.id} to {b.nodes[3]}:50010 got {b.exception()}",
    ),
    18: lambda b: (
        "INFO",
        DATA_NODE,
        f"{b.any_node()}:50010 Starting thread to transfer block {b.id} to {b.nodes[3]}:50010",
    ),
    19: lambda b: ("INFO", DATASET, f"Reopen Block {b.id}"),
    20: lambda b: (
        "WARN",
        DATASET,
        f"Unexpected error trying to delete block {b.id}. BlockInfo not found in volumeMap.",
    ),
    21: lambda b: (
        "INFO",
        DATASET,
        f"Deleting block {b.id} file /mnt/hadoop/dfs/data/current/subdir{b.subdir}/{b.id}",
    ),
    22: lambda b: ("INFO", NAMESYSTEM, f"BLOCK* NameSystem.allocateBlock: {b.path} {b.id}"),
    23: lambda b: (
        "INFO",
        NAMESYSTEM,
        f"BLOCK* NameSystem.delete: {b.id} is added to invalidSet of {b.any_node()}:50010",
    ),
    24: lambda b: (
        "INFO",
        NAMESYSTEM,
        f"BLOCK* Removing block {b.id} from neededReplications as it does not belong to any file.",
    ),
    25: lambda b: (
        "INFO",
        NAMESYSTEM,
        f"BLOCK* ask {b.any_node()}:50010 to replicate {b.id} to datanode(s) {b.nodes[3]}:50010",
    ),
    26: lambda b: (
        "INFO",
        NAMESYSTEM,
        f"BLOCK* NameSystem.addStoredBlock: blockMap updated: {b.any_node()}:50010 is added to "
        f"{b.id} size {b.size}",
    ),
    27: lambda b: (
        "WARN",
        NAMESYSTEM,
        f"BLOCK* NameSystem.addStoredBlock: Redundant addStoredBlock request received for "
        f"{b.id} on {b.any_node()}:50010 size {b.size}",
    ),
    28: lambda b: (
        "WARN",
        NAMESYSTEM,
        f"BLOCK* NameSystem.addStoredBlock: addStoredBlock request received for {b.id} on "
        f"{b.any_node()}:50010 size {b.size} But it does not belong to any file.",
    ),
    29: lambda b: (
        "WARN",
        "dfs.PendingReplicationMonitor",
        f"PendingReplicationMonitor timed out block {b.id}",
    ),
    30: lambda b: ("INFO", NAMESYSTEM, f"BLOCK* ask {b.any_node()}:50010 to delete  {b.id}"),
}


def _pid(rng: random.Random, component: str) -> int:
    if component == NAMESYSTEM:
        return rng.randrange(19, 36)
    return rng.randrange(13, 30000)


def render_sessions(
    sessions: Sequence[Sequence[int]],
    *,
    seed: int = 0,
    start: datetime = START,
    mean_gap_seconds: float = 0.5,
    max_step_seconds: int = 5,
) -> tuple[list[str], list[str]]:
    """Log lines (in time order) for ``sessions`` and the block id of each session.

    Session ``i`` starts about ``i * mean_gap_seconds`` after ``start``; its events follow
    0..``max_step_seconds`` apart, so many sessions are open at once and their lines
    interleave. Times have whole seconds, as in HDFS logs; lines of one second keep the
    order of their sessions' events.
    """
    rng = random.Random(seed)
    nodes = sorted(
        {
            f"10.25{rng.randrange(2)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            for _ in range(200)
        }
    )
    timed: list[tuple[int, int, int, str]] = []
    blocks: list[str] = []
    t0 = 0.0
    for i, events in enumerate(sessions):
        block = _Block(rng, nodes)
        blocks.append(block.id)
        t0 += rng.expovariate(1 / mean_gap_seconds)
        t = int(t0)
        for j, event in enumerate(events):
            level, component, content = _EVENTS[int(event)](block)
            timed.append((t, i, j, f"{_pid(rng, component)} {level} {component}: {content}"))
            t += rng.randrange(0, max_step_seconds + 1)
    timed.sort()
    lines = [
        f"{(start + timedelta(seconds=t)).strftime('%y%m%d %H%M%S')} {rest}"
        for t, _, _, rest in timed
    ]
    return lines, blocks


def read_sessions(path: str | Path) -> list[list[int]]:
    """Sessions of an hdfs-sessions file: one session per line, event keys as numbers."""
    text = Path(path).read_text(encoding="utf-8")
    return [[int(e) for e in line.split()] for line in text.splitlines() if line.strip()]


def write_log(path: str | Path, lines: Sequence[str]) -> None:
    Path(path).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
