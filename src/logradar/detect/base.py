"""The one small protocol every detector follows.

The engine turns records into closed *windows* (per stream, per event-time window) and closed
*sessions*; a detector consumes them one at a time, first scoring against what it has learned,
then learning from them (``observe`` = river's ``score_one`` followed by ``learn_one``), and
returns the anomalies it found. Detectors are deterministic for a given input order and can
save and restore their state as JSON-ready dicts.

Some verdicts need not wait for the window to close: a template never seen before is new from
its first line on, and a count can only grow while its window is open, so an upper-tail
verdict reached early stays true. A detector that can tell offers ``peek`` (an
:class:`EarlyWindowDetector`); the live engine asks it after every micro-batch and reports
what it returns at once (and not again when the window closes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from logradar.schema import Anomaly


@dataclass(slots=True)
class ParamStats:
    """Numeric values at one token position of one template within a window.

    ``log_sum``/``log_sq_sum`` are sums of ``sign(v) * log1p(|v|)`` and of its square, so
    windows merge exactly; the examples are the raw lines holding the extreme values.
    """

    count: int
    log_sum: float
    log_sq_sum: float
    max: float
    min: float
    max_example: str
    min_example: str

    def merge(
        self,
        count: int,
        log_sum: float,
        log_sq_sum: float,
        vmax: float,
        vmin: float,
        max_example: str,
        min_example: str,
    ) -> None:
        self.count += count
        self.log_sum += log_sum
        self.log_sq_sum += log_sq_sum
        if vmax > self.max:
            self.max, self.max_example = vmax, max_example
        if vmin < self.min:
            self.min, self.min_example = vmin, min_example

    def as_list(self) -> list[float | int | str]:
        return [
            self.count,
            self.log_sum,
            self.log_sq_sum,
            self.max,
            self.min,
            self.max_example,
            self.min_example,
        ]


@dataclass(slots=True)
class Window:
    """Everything observed on one stream in one closed event-time window ``[start, end)``."""

    stream: str
    start: int
    end: int
    counts: dict[int, int] = field(default_factory=dict)
    """Lines per template id."""
    errors: int = 0
    """Lines whose level is error, fatal or critical, or that mention an exception."""
    total: int = 0
    examples: dict[int, list[str]] = field(default_factory=dict)
    """A few raw lines per template id (the first ones seen)."""
    error_examples: list[str] = field(default_factory=list)
    learning: bool = False
    """True while the stream is in its learning period: anomalies get lower severity."""
    params: dict[tuple[int, int], ParamStats] = field(default_factory=dict)
    """Numeric token statistics per (template id, token position)."""


@dataclass(slots=True)
class Session:
    """A closed session: the template ids of its lines in event-time order."""

    stream: str
    key: str
    start: int
    end: int
    events: list[int]
    examples: list[str] = field(default_factory=list)
    learning: bool = False


@dataclass(slots=True)
class DetectContext:
    """Read-only facts about templates that detectors may need for explanations."""

    template_text: Callable[[int], str]
    is_error_template: Callable[[int], bool]


@runtime_checkable
class WindowDetector(Protocol):
    """Consumes closed windows."""

    name: str

    def observe(self, window: Window, ctx: DetectContext) -> list[Anomaly]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@runtime_checkable
class EarlyWindowDetector(WindowDetector, Protocol):
    """A window detector that can report some anomalies of a window that is still open."""

    def peek(
        self, window: Window, ctx: DetectContext, *, next_to_close: bool, earlier: Sequence[Window]
    ) -> list[Anomaly]:
        """Anomalies ``observe`` is certain to return for ``window`` when it closes.

        ``window`` holds what the open window has seen so far; ``next_to_close`` is True when
        no other window of the stream closes before it (so the detector's state is what
        ``observe`` will see); ``earlier`` are the stream's other open windows before it that
        have lines, oldest first. Identity (detector, kind, stream, window, template) must be
        exactly the close-time one; counts, score and examples may be those seen so far.
        Must not change what ``observe`` will return.
        """
        ...


@runtime_checkable
class GapWindowDetector(WindowDetector, Protocol):
    """A window detector that learns a run of empty windows in O(1) (closed form).

    The engine closes the first empty windows of a long gap one by one (so what a silence's
    first hour shows is judged as usual) and hands the rest of the run to ``skip``; a window
    detector without ``skip`` must be one for which empty windows change nothing.
    """

    def skip(
        self,
        stream: str,
        start_ns: int,
        windows: int,
        step_ns: int,
        ctx: DetectContext,
        *,
        learning: bool = False,
    ) -> list[Anomaly]:
        """Learn ``windows`` empty windows of ``stream`` from ``start_ns``; return what they
        show (a silence that starts or is confirmed in the run)."""
        ...


@runtime_checkable
class SessionDetector(Protocol):
    """Consumes closed sessions."""

    name: str

    def observe_session(self, session: Session, ctx: DetectContext) -> list[Anomaly]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...
