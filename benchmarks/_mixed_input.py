"""A realistic mixed message stream generated from the loghub-2k lines of all 8 systems.

Each generated line picks a random ground-truth line (so event frequencies follow the real
data) and re-samples its parameters: every ``<*>`` of the event template gets a value seen
at that position in *any* line of the event (so non-numeric values such as user names and
host names recombine), and its digits are renamed by a random digit permutation. Real logs repeat
their shapes while parameters vary; this keeps both properties, and new masked forms keep
appearing (names recombine) instead of the input being a few thousand lines repeated.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

from _loghub import SYSTEMS, load

DIGITS = "0123456789"


class MixedInput:
    """Deterministic generator of message batches (``seed`` fixes the stream)."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        perms = [self.rng.sample(DIGITS, 10) for _ in range(997)]
        self.tables = [str.maketrans(DIGITS, "".join(p)) for p in perms]
        self.lines: list[tuple[list[str], list[list[str]] | None, str]] = []
        for system in SYSTEMS:
            data = load(system)
            pools: dict[str, list[list[str]]] = {}
            parts_of: dict[str, list[str]] = {}
            matched: list[tuple[str, str, list[str] | None]] = []
            for content, event, template in zip(
                data.contents, data.event_ids, data.templates, strict=True
            ):
                key = f"{system}:{event}"
                parts = template.split("<*>")
                rx = "(.*?)".join(re.escape(p) for p in parts)
                m = re.fullmatch(rx, content, re.DOTALL)
                values = list(m.groups()) if m else None
                if values is not None:
                    parts_of[key] = parts
                    pool = pools.setdefault(key, [[] for _ in values])
                    for slot, v in zip(pool, values, strict=True):
                        slot.append(v)
                matched.append((key, content, values))
            for key, content, values in matched:
                if values is None or key not in parts_of:
                    self.lines.append(([content], None, key))
                else:
                    self.lines.append((parts_of[key], pools[key], key))

    def _digits(self, text: str) -> str:
        return text.translate(self.tables[self.rng.randrange(997)])

    def line(self) -> str:
        parts, pools, _ = self.rng.choice(self.lines)
        if pools is None:
            return self._digits(parts[0])
        out = [parts[0]]
        for pool, tail in zip(pools, parts[1:], strict=True):
            out.append(self._digits(self.rng.choice(pool)))
            out.append(tail)
        return "".join(out)

    def batches(self, total: int, batch: int = 100_000) -> Iterator[list[str]]:
        """Yield ``total`` lines in lists of at most ``batch``."""
        done = 0
        while done < total:
            n = min(batch, total - done)
            yield [self.line() for _ in range(n)]
            done += n
