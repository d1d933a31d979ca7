"""Synthetic but realistic window traffic: seasonal Poisson counts per template."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from logradar.detect.base import DetectContext, Window

NS = 1_000_000_000
MONDAY = int(datetime(2026, 11, 23, tzinfo=UTC).timestamp()) * NS
"""Midnight UTC at the start of a Monday."""

ERROR_TEMPLATES = {7, 8}


class Traffic:
    """Windows of one stream whose template rates follow a daily cycle and a quieter weekend.

    Template ``t`` (1..n) has a mean of ``base[t]`` lines per window at the daily average,
    scaled by ``1 + 0.6 sin(2π (hour - 8) / 24)`` and by 0.5 on weekends. Templates in
    :data:`ERROR_TEMPLATES` are error lines; ``errors`` also has a little background noise.
    """

    def __init__(
        self,
        seed: int,
        *,
        stream: str = "payments",
        window_seconds: int = 10,
        base: dict[int, float] | None = None,
        start_ns: int = MONDAY,
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.stream = stream
        self.step = window_seconds * NS
        self.start_ns = start_ns
        self.base = base or {1: 60.0, 2: 25.0, 3: 8.0, 4: 3.0, 5: 1.0, 6: 0.3, 7: 0.5, 8: 0.1}

    def start(self, i: int) -> int:
        return self.start_ns + i * self.step

    def rates(self, i: int) -> dict[int, float]:
        t = self.start(i) // NS
        hour = (t % 86400) / 3600
        weekend = ((t // 86400) + 3) % 7 >= 5
        factor = (1 + 0.6 * math.sin(2 * math.pi * (hour - 8) / 24)) * (0.5 if weekend else 1)
        return {tid: r * factor for tid, r in self.base.items()}

    def window(
        self,
        i: int,
        *,
        extra: dict[int, int] | None = None,
        drop: set[int] | frozenset[int] = frozenset(),
        learning: bool = False,
    ) -> Window:
        """Window ``i``; ``extra`` adds lines per template, ``drop`` silences templates."""
        counts = {}
        rates = self.rates(i)
        for tid in sorted(rates.keys() | (extra or {}).keys()):
            c = 0 if tid in drop or tid not in rates else int(self.rng.poisson(rates[tid]))
            c += (extra or {}).get(tid, 0)
            if c:
                counts[tid] = c
        errors = sum(c for t, c in counts.items() if t in ERROR_TEMPLATES)
        errors += int(self.rng.poisson(0.2))
        return Window(
            stream=self.stream,
            start=self.start(i),
            end=self.start(i) + self.step,
            counts=counts,
            errors=errors,
            total=sum(counts.values()),
            examples={
                t: [f"line of template {t} #{k}" for k in range(min(c, 3))]
                for t, c in counts.items()
            },
            error_examples=[f"ERROR line #{k}" for k in range(min(errors, 3))],
            learning=learning,
        )


@pytest.fixture
def ctx() -> DetectContext:
    return DetectContext(
        template_text=lambda tid: f"Connection to <*> failed code {tid}",
        is_error_template=lambda tid: tid in ERROR_TEMPLATES,
    )


@pytest.fixture
def traffic() -> type[Traffic]:
    """The :class:`Traffic` class, to build streams with a seed."""
    return Traffic
