"""The detection core: a *map* step per line and a *reduce* step with small state.

``map`` is stateless given a read-only snapshot of the parser: header split, event time,
level, error flag, known template id (null when unknown) and session key, all vectorized over
an Arrow batch. ``reduce`` learns templates for the unmatched lines, adds the batch to
per-stream event-time windows and open sessions, closes what the clock has passed, runs the
detectors on what closed and returns the anomalies. The local engine runs both steps in one
process; the Spark engine runs ``map`` on executors and ``reduce`` on the driver.

Time: windows are ``[k*W, (k+1)*W)`` in event time. The clock is the wall clock when running
live (so a stream that stops still closes its windows: that is how silence is seen) and the
largest event time seen when replaying files (``now_ns=None``), which makes a backtest
deterministic. A window closes once the clock passes its end plus the allowed lateness;
records older than a stream's oldest open window are counted in that window ("late").

Early evaluation (``engine.early_evaluation``, live clock only): after each micro-batch the
detectors that can decide before a window closes (:class:`EarlyWindowDetector`: new_pattern,
a never-seen template; error_burst, an error count that is already a burst; frequency, a
template or stream count that is already a one-window spike) look at the open
windows of the streams that changed, and what they are certain of is returned at once. Each
such anomaly is remembered with its window until that window closes: the close-time verdict
with the same fingerprint is then dropped, and so is a close-time verdict of the same
detector, kind and template for another window that was already reported early (a line of a
never-seen template arriving late for an earlier window). Replays keep evaluating at close
only: there is no latency to save, and their output stays independent of batch boundaries.
"""

from __future__ import annotations

import heapq
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from logradar.config import DetectorsConfig, EngineConfig, ParserConfig
from logradar.detect.base import (
    DetectContext,
    EarlyWindowDetector,
    GapWindowDetector,
    ParamStats,
    Session,
    Window,
)
from logradar.detect.registry import build_window_detectors
from logradar.detect.sessions import build_session_detectors
from logradar.engine.aggregate import (
    PARAM_GROUP_COLUMNS,
    SESSION_GROUP_COLUMNS,
    WINDOW_GROUP_COLUMNS,
    param_groups,
    session_groups,
    window_groups,
    window_starts,
)
from logradar.parse.formats import LogFormat, detect_level
from logradar.parse.masking import mask_forms
from logradar.parse.templates import TemplateMiner
from logradar.schema import Anomaly, Severity

ERROR_LEVELS = pa.array(["error", "fatal", "critical", "crit", "alert", "emerg", "severe"])
MAX_EXAMPLES = 3
#: Anomalies found while a stream is learning are recorded at most this severe.
LEARNING_MAX_SEVERITY = Severity.LOW
#: Empty windows in a row closed one by one; the rest of a longer run (a silent stream, a gap
#: of days between two lines) is learned in closed form, so no input makes the engine work in
#: proportion to the time its timestamps span.
GAP_EXACT_WINDOWS = 6
#: Early evaluation looks at a stream's this many oldest open windows (the next to close; a
#: backlog of open windows is peeked as it comes up).
PEEK_WINDOWS = 8
#: Live closing: windows a stream closes before the next stream takes its turn.
CLOSE_PER_TURN = 64


@dataclass(slots=True)
class _WindowAcc:
    counts: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    total: int = 0
    examples: dict[int, list[str]] = field(default_factory=dict)
    error_examples: list[str] = field(default_factory=list)
    params: dict[tuple[int, int], ParamStats] = field(default_factory=dict)


@dataclass(slots=True)
class _StreamState:
    first_ts: int
    next_window: int
    open: dict[int, _WindowAcc] = field(default_factory=dict)
    empty_windows: int = 0
    reported: dict[str, list[Any]] = field(default_factory=dict)
    """Early reports of open windows: fingerprint -> [detector, kind, template id, start]."""
    changed: bool = True
    """Open windows changed since the early detectors last looked (not saved)."""


@dataclass(slots=True)
class _OpenSession:
    stream: str
    start: int
    last: int
    events: list[int] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CoreOutput:
    """What one reduce step produced."""

    anomalies: list[Anomaly] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    sessions_closed: int = 0


class DetectionCore:
    """Deterministic for a given input order, configuration and clock."""

    def __init__(
        self,
        engine: EngineConfig,
        parser: ParserConfig,
        detectors: DetectorsConfig,
        log_format: str | None = None,
    ) -> None:
        self.params_max_rows = (
            detectors.params.max_rows_per_batch if detectors.params.enabled else 0
        )
        self.window_ns = int(engine.window_seconds * 1e9)
        self.lateness_ns = int(engine.allowed_lateness_seconds * 1e9)
        self.max_future_ns = int(engine.max_future_seconds * 1e9)
        self.live_budget_s = engine.batch_budget_seconds
        self.max_past_ns = int(engine.max_past_seconds * 1e9)
        #: Lines clamped to ``max_past_seconds``/``max_future_seconds``, since start.
        self.clamped = {"past": 0, "future": 0}
        self.learning_ns = int(engine.learning_seconds * 1e9)
        self.session_idle_ns = int(engine.session_idle_seconds * 1e9)
        self.session_pattern = session_pattern(engine.session_key)
        self.log_format = LogFormat.compile(log_format or parser.log_format)
        self.miner = TemplateMiner(max_templates=parser.max_templates, max_cache=parser.max_cache)
        self.window_detectors = build_window_detectors(detectors)
        self.early_detectors = (
            [d for d in self.window_detectors if isinstance(d, EarlyWindowDetector)]
            if engine.early_evaluation
            else []
        )
        self.session_detectors = build_session_detectors(detectors)
        self.streams: dict[str, _StreamState] = {}
        self.sessions: dict[str, _OpenSession] = {}
        #: template id -> [lines, error lines, first ts, last ts]
        self.template_stats: dict[int, list[int]] = {}
        self.dirty_templates: set[int] = set()
        self.clock_ns = 0
        self.offset = -1
        #: Empty windows learned in closed form (not one by one), since start.
        self.windows_skipped = 0
        #: None: a stream learns for ``learning_seconds``; True/False: always/never (backtest)
        self.learning_override: bool | None = None
        #: Replays: a line without a parsable time takes the previous line's time.
        self.fill_time_forward = False
        self._last_ts: int | None = None
        #: parser id -> root id (the id its cluster started with); see :meth:`root_id`
        self._roots: dict[int, int] = {}
        self.ctx = DetectContext(
            template_text=self.template_text, is_error_template=self.is_error_template
        )

    # Template identity --------------------------------------------------------------------
    def root_id(self, parser_id: int) -> int:
        """The engine's id for a template: the id its cluster started with.

        The parser gives a template a new id when it generalizes (a token becomes ``<*>``)
        and records the old one as its parent. Counting by the root keeps baselines, stored
        counts and anomalies continuous across such changes; the text shown is the current one.
        """
        root = self._roots.get(parser_id)
        if root is None:
            self._learn_roots([parser_id])
            root = self._roots[parser_id]
        return root

    def _learn_roots(self, parser_ids: list[int]) -> None:
        missing = [i for i in parser_ids if i not in self._roots]
        if not missing:
            return
        parents = {t.id: t.parent_id for t in self.miner.templates()}
        for parser_id in missing:
            root, hops = parser_id, 0
            while (parent := parents.get(root)) is not None and hops < len(parents):
                root, hops = parent, hops + 1
            self._roots[parser_id] = root

    def template_text(self, template_id: int) -> str:
        """Current text of the template whose engine id is ``template_id``."""
        active = self.miner.resolve(template_id)
        return self.miner.template(active if active is not None else template_id)

    def with_current_text(self, anomaly: Anomaly) -> Anomaly:
        """``anomaly`` with its template text (and explanation) updated to the current text.

        How general a template is when its window closes depends on how much input the miner
        has seen, so a replay finalizes texts at the end to be independent of batch sizes.
        """
        if anomaly.template_id is None or anomaly.template is None:
            return anomaly
        text = self.template_text(anomaly.template_id)
        if text == anomaly.template:
            return anomaly
        explanation = anomaly.explanation.replace(anomaly.template, text)
        return replace(anomaly, template=text, explanation=explanation)

    # Facts for detectors ------------------------------------------------------------------
    def is_error_template(self, template_id: int) -> bool:
        stats = self.template_stats.get(template_id)
        return bool(stats) and stats[1] * 2 >= stats[0]

    # Map ----------------------------------------------------------------------------------
    def map(self, batch: pa.Table) -> pa.Table:
        """Per-line, read-only step: returns the batch enriched for :meth:`reduce`."""
        raw = batch.column("message")
        split = self.log_format.split(raw, detect_levels=False)
        message = split.column("message")
        ts = split.column("ts").cast(pa.int64())
        if self.fill_time_forward:
            ts = self.fill_time_forward_from_last(ts)
        ts = pc.coalesce(ts, batch["ts"].cast(pa.int64()))
        # one mask for both: level words read from the distinct masked forms, and templates
        masked = mask_forms(message)
        level = pc.coalesce(split.column("level"), detect_level(message, masked))
        is_error = pc.fill_null(pc.is_in(level, value_set=ERROR_LEVELS), False)
        columns: dict[str, Any] = {
            "offset": batch["offset"],
            "stream": batch["stream"],
            "ts": ts,
            "raw": raw,
            "message": message,
            "is_error": is_error,
            "template_id": self.miner.match(message, masked),
        }
        if self.session_pattern is not None:
            matches = pc.extract_regex(raw, self.session_pattern)
            columns["session"] = pc.struct_field(matches, ["key"])
        return pa.table(columns)

    def fill_time_forward_from_last(self, ts: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Null event times take the previous line's, carried over from the last batch.

        Called by ``map`` in replays; the Spark engine calls it on the driver, in order.
        """
        flat = ts.combine_chunks() if isinstance(ts, pa.ChunkedArray) else ts
        carried = pa.concat_arrays([pa.array([self._last_ts], pa.int64()), flat])
        filled = pc.fill_null_forward(carried).slice(1)
        if len(filled) and filled[-1].is_valid:
            self._last_ts = filled[-1].as_py()
        return filled

    # Reduce -------------------------------------------------------------------------------
    def reduce(self, mapped: pa.Table, now_ns: int | None = None) -> CoreOutput:
        """Learn, accumulate and close; ``now_ns=None`` means event-time clock (replay)."""
        if mapped.num_rows == 0:
            return self.tick(now_ns)
        self.offset = max(self.offset, pc.max(mapped.column("offset")).as_py())
        if now_ns is not None:
            mapped = self._clamp_times(mapped, now_ns)
        mapped = self._learn(mapped)
        mapped = mapped.take(pc.sort_indices(mapped, [("ts", "ascending")]))  # stable
        self._accumulate(mapped)
        batch_max = pc.max(mapped.column("ts")).as_py()
        self.clock_ns = max(self.clock_ns, batch_max if now_ns is None else now_ns)
        return self._step(live=now_ns is not None)

    def _clamp_times(self, mapped: pa.Table, now_ns: int) -> pa.Table:
        """Event times beyond the live bounds (``max_future_seconds`` ahead of ``now_ns``,
        ``max_past_seconds`` behind it when set) clamped to them and counted."""
        ts = mapped.column("ts")
        bounds = [("future", now_ns + self.max_future_ns, pc.greater, pc.min_element_wise)]
        if self.max_past_ns:
            bounds.append(("past", now_ns - self.max_past_ns, pc.less, pc.max_element_wise))
        for name, bound, beyond, clamp in bounds:
            limit = pa.scalar(bound, pa.int64())
            n = pc.sum(beyond(ts, limit)).as_py() or 0
            if n:
                self.clamped[name] += n
                ts = clamp(ts, limit, skip_nulls=False)
        if ts is mapped.column("ts"):
            return mapped
        return mapped.set_column(mapped.schema.get_field_index("ts"), "ts", ts)

    def process(self, batch: pa.Table, now_ns: int | None = None) -> CoreOutput:
        """``map`` then ``reduce``: the local engine's whole step for one micro-batch."""
        return self.reduce(self.map(batch), now_ns)

    def tick(self, now_ns: int | None) -> CoreOutput:
        """Advance the clock without new records (closes windows of quiet streams)."""
        if now_ns is not None:
            self.clock_ns = max(self.clock_ns, now_ns)
        return self._step(live=now_ns is not None)

    def _step(self, live: bool) -> CoreOutput:
        out = self._close(final=False, live=live)
        if live and self.early_detectors:
            out.anomalies.extend(self._peek())
        return out

    def finish(self) -> CoreOutput:
        """Close every open window and session (end of a replay)."""
        return self._close(final=True)

    def _learn(self, mapped: pa.Table) -> pa.Table:
        ids = mapped.column("template_id")
        unknown = pc.is_null(ids)
        if pc.any(unknown).as_py():
            learned = self.miner.parse(mapped.column("message").filter(unknown))
            filled = pc.replace_with_mask(ids.combine_chunks(), unknown.combine_chunks(), learned)
            mapped = mapped.set_column(
                mapped.schema.get_field_index("template_id"), "template_id", filled
            )
        return mapped

    def _accumulate(self, mapped: pa.Table) -> None:
        window = window_starts(mapped.column("ts"), self.window_ns)
        self.absorb_windows(window_groups(mapped, window))
        if self.params_max_rows:
            self.absorb_params(param_groups(mapped, window, self.params_max_rows))
        if "session" in mapped.column_names:
            self.absorb_sessions(session_groups(mapped))

    def absorb_windows(self, groups: pa.Table) -> None:
        """Add per (stream, window, template) aggregates (:func:`window_groups`) to the open
        windows; rows in input order (their order decides which example lines are kept)."""
        self._learn_roots(pc.unique(groups.column("template_id")).to_pylist())
        for stream, win, parser_id, n, errs, tmin, tmax, first_line, last_line in zip(
            *(groups.column(c).to_pylist() for c in WINDOW_GROUP_COLUMNS), strict=True
        ):
            tid = self.root_id(parser_id)
            state = self.streams.get(stream)
            if state is None:
                state = self.streams[stream] = _StreamState(first_ts=tmin, next_window=win)
            state.empty_windows = 0
            state.changed = True
            acc = state.open.setdefault(max(win, state.next_window), _WindowAcc())
            acc.counts[tid] = acc.counts.get(tid, 0) + n
            acc.total += n
            acc.errors += errs
            examples = acc.examples.setdefault(tid, [])
            for line in (first_line, last_line) if last_line is not None else (first_line,):
                if len(examples) < MAX_EXAMPLES:
                    examples.append(line)
            if errs and len(acc.error_examples) < MAX_EXAMPLES:
                acc.error_examples.append(first_line)
            stats = self.template_stats.setdefault(tid, [0, 0, tmin, tmax])
            stats[0] += n
            stats[1] += errs
            stats[2] = min(stats[2], tmin)
            stats[3] = max(stats[3], tmax)
            self.dirty_templates.add(tid)

    def absorb_params(self, groups: pa.Table) -> None:
        """Add per (stream, window, template, position) numeric statistics
        (:func:`param_groups`) to the open windows."""
        for stream, win, parser_id, pos, count, total, total2, vmax, vmin, hi, lo in zip(
            *(groups.column(c).to_pylist() for c in PARAM_GROUP_COLUMNS), strict=True
        ):
            state = self.streams[stream]
            acc = state.open.get(max(win, state.next_window))
            if acc is None:
                continue
            key = (self.root_id(parser_id), pos)
            stats = acc.params.get(key)
            if stats is None:
                acc.params[key] = ParamStats(count, total, total2, vmax, vmin, hi, lo)
            else:
                stats.merge(count, total, total2, vmax, vmin, hi, lo)

    def absorb_sessions(self, groups: pa.Table) -> None:
        """Add per-session event sequences (:func:`session_groups`) to the open sessions."""
        for key, events, tmin, tmax, stream, example in zip(
            *(groups.column(c).to_pylist() for c in SESSION_GROUP_COLUMNS), strict=True
        ):
            s = self.sessions.get(key)
            if s is None:
                s = self.sessions[key] = _OpenSession(stream=stream, start=tmin, last=tmax)
            s.events.extend(self.root_id(e) for e in events)
            s.last = max(s.last, tmax)
            if len(s.examples) < MAX_EXAMPLES:
                s.examples.append(example)

    # Closing ------------------------------------------------------------------------------
    def _close(self, final: bool, live: bool = False) -> CoreOutput:
        """Close what the clock has passed. Live, streams take turns of at most
        :data:`CLOSE_PER_TURN` windows and closing stops after ``batch_budget_seconds`` (the
        rest closes at the next tick), so one stream's backlog never holds up the others."""
        out = CoreOutput()
        horizon = self.clock_ns - self.lateness_ns
        live = live and self.live_budget_s > 0
        turn = CLOSE_PER_TURN if live else None
        deadline = time.monotonic() + self.live_budget_s
        busy = sorted(self.streams)
        while busy:
            busy = [s for s in busy if self._close_stream(s, horizon, final, turn, out)]
            if live and time.monotonic() > deadline:
                break
        idle_before = self.clock_ns - self.session_idle_ns
        for key in sorted(self.sessions):
            s = self.sessions[key]
            if final or s.last < idle_before:
                del self.sessions[key]
                out.sessions_closed += 1
                session = Session(
                    stream=s.stream,
                    key=key,
                    start=s.start,
                    end=s.last,
                    events=s.events,
                    examples=s.examples,
                    learning=self._learning(self.streams.get(s.stream), s.start),
                )
                for detector in self.session_detectors:
                    found = detector.observe_session(session, self.ctx)
                    out.anomalies.extend(_while_learning(found) if session.learning else found)
        return out

    def _close_stream(
        self, stream: str, horizon: int, final: bool, limit: int | None, out: CoreOutput
    ) -> bool:
        """Close up to ``limit`` (None: all) due windows of ``stream``; True if more are due."""
        state = self.streams[stream]
        closed = 0
        while True:
            start = state.next_window
            end = start + self.window_ns
            if final and not state.open:
                return False
            if not final and end > horizon:
                return False
            if limit is not None and closed >= limit:
                return True
            closed += 1
            if state.empty_windows >= GAP_EXACT_WINDOWS and start not in state.open:
                self._skip_gap(stream, state, horizon, out)
                continue
            acc = state.open.pop(start, None)
            state.empty_windows = 0 if acc else state.empty_windows + 1
            state.next_window = end
            window = self._window(stream, state, start, end, acc)
            out.windows.append(window)
            for detector in self.window_detectors:
                found = detector.observe(window, self.ctx)
                if state.reported:
                    found = _not_reported_early(found, state.reported, start)
                out.anomalies.extend(_while_learning(found) if window.learning else found)
            if state.reported:
                state.reported = {k: v for k, v in state.reported.items() if v[3] > start}
            state.changed = True

    def _skip_gap(self, stream: str, state: _StreamState, horizon: int, out: CoreOutput) -> None:
        """Close the rest of a long run of empty windows in O(1): up to the stream's next open
        window, or the last window the clock has passed; detectors learn it in closed form
        (:class:`GapWindowDetector`), and no empty window is written for it."""
        start = state.next_window
        # the next window with lines, or the end of the last window the clock has passed
        stop = min(state.open) if state.open else horizon - (horizon - start) % self.window_ns
        windows = (stop - start) // self.window_ns
        learning = self._learning(state, start)
        for detector in self.window_detectors:
            if isinstance(detector, GapWindowDetector):
                found = detector.skip(
                    stream, start, windows, self.window_ns, self.ctx, learning=learning
                )
                out.anomalies.extend(_while_learning(found) if learning else found)
        state.empty_windows += windows
        state.next_window = start + windows * self.window_ns
        self.windows_skipped += windows

    def _peek(self) -> list[Anomaly]:
        """What the early detectors are already certain of in the open windows that changed."""
        out: list[Anomaly] = []
        for stream in sorted(self.streams):
            state = self.streams[stream]
            if not state.changed:
                continue
            state.changed = False
            windows = [
                self._window(stream, state, start, start + self.window_ns, state.open[start])
                for start in heapq.nsmallest(PEEK_WINDOWS, state.open)
            ]
            keys = {_early_key(*v[:3]) for v in state.reported.values()}
            for i, window in enumerate(windows):
                start = window.start
                next_to_close = start == state.next_window
                for detector in self.early_detectors:
                    found = detector.peek(
                        window, self.ctx, next_to_close=next_to_close, earlier=windows[:i]
                    )
                    for a in _while_learning(found) if window.learning else found:
                        key = _early_key(a.detector, a.kind, a.template_id)
                        if key in keys:  # reported already, for this or another open window
                            continue
                        keys.add(key)
                        state.reported[a.fingerprint] = [a.detector, a.kind, a.template_id, start]
                        out.append(a)
        return out

    def _learning(self, state: _StreamState | None, at: int) -> bool:
        if self.learning_override is not None:
            return self.learning_override
        if state is None:
            return True
        first_window = state.first_ts - state.first_ts % self.window_ns
        return at < first_window + self.learning_ns

    def reset_time(self) -> None:
        """Forget clocks and windows, keep what was learned (between a train and a test file).

        Call after :meth:`finish`; the next input may then start at any event time.
        """
        self.streams = {}
        self.sessions = {}
        self.clock_ns = 0
        self._last_ts = None

    def _window(
        self, stream: str, state: _StreamState, start: int, end: int, acc: _WindowAcc | None
    ) -> Window:
        acc = acc or _WindowAcc()
        return Window(
            stream=stream,
            start=start,
            end=end,
            counts=acc.counts,
            errors=acc.errors,
            total=acc.total,
            examples=acc.examples,
            error_examples=acc.error_examples,
            params=acc.params,
            learning=self._learning(state, start),
        )

    # State --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "offset": self.offset,
            "clock_ns": self.clock_ns,
            "miner": self.miner.state_dict(),
            "template_stats": {str(k): v for k, v in self.template_stats.items()},
            "streams": {
                name: {
                    "first_ts": s.first_ts,
                    "next_window": s.next_window,
                    "empty_windows": s.empty_windows,
                    "open": {str(k): _acc_state(a) for k, a in s.open.items()},
                    "reported": s.reported,
                }
                for name, s in self.streams.items()
            },
            "sessions": {
                k: [s.stream, s.start, s.last, s.events, s.examples]
                for k, s in self.sessions.items()
            },
            "window_detectors": {d.name: d.state_dict() for d in self.window_detectors},
            "session_detectors": {d.name: d.state_dict() for d in self.session_detectors},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.offset = state["offset"]
        self.clock_ns = state["clock_ns"]
        self.miner = TemplateMiner.from_state_dict(state["miner"])
        self._roots = {}
        self.template_stats = {int(k): v for k, v in state["template_stats"].items()}
        self.streams = {
            name: _StreamState(
                first_ts=s["first_ts"],
                next_window=s["next_window"],
                empty_windows=s["empty_windows"],
                open={int(k): _acc_from_state(a) for k, a in s["open"].items()},
                reported={k: list(v) for k, v in s.get("reported", {}).items()},
            )
            for name, s in state["streams"].items()
        }
        self.sessions = {
            k: _OpenSession(stream=v[0], start=v[1], last=v[2], events=v[3], examples=v[4])
            for k, v in state["sessions"].items()
        }
        for group, detectors in (
            ("window_detectors", self.window_detectors),
            ("session_detectors", self.session_detectors),
        ):
            for d in detectors:
                if d.name in state[group]:
                    d.load_state_dict(state[group][d.name])


def _while_learning(found: list[Anomaly]) -> list[Anomaly]:
    """Anomalies of a stream still learning are kept, at most ``low`` (below default alerts)."""
    return [
        a if a.severity <= LEARNING_MAX_SEVERITY else replace(a, severity=LEARNING_MAX_SEVERITY)
        for a in found
    ]


def _early_key(detector: str, kind: str, template_id: int | None) -> str:
    return f"{detector}|{kind}|{template_id}"


def _not_reported_early(
    found: list[Anomaly], reported: dict[str, list[Any]], start: int
) -> list[Anomaly]:
    """``found`` at the close of window ``start`` minus what was reported early: the same
    anomaly, or the same detector, kind and template for another open window."""
    elsewhere = {_early_key(*v[:3]) for v in reported.values() if v[3] != start}
    return [
        a
        for a in found
        if a.fingerprint not in reported
        and _early_key(a.detector, a.kind, a.template_id) not in elsewhere
    ]


def session_pattern(regex: str | None) -> str | None:
    """The RE2 pattern whose group ``key`` is a line's session id (None: no sessions).

    A regex without groups uses its whole match; one with groups must name the part to use
    ``(?P<key>...)``.
    """
    if not regex:
        return None
    try:
        compiled = re.compile(regex)
    except re.error as e:
        raise ValueError(f"invalid session key regex {regex!r}: {e}") from None
    if compiled.groups == 0:
        return f"(?P<key>{regex})"
    if "key" not in compiled.groupindex:
        raise ValueError(
            f"session key regex {regex!r} has groups: name the session id part (?P<key>...)"
        )
    return regex


def _acc_state(a: _WindowAcc) -> dict[str, Any]:
    return {
        "counts": {str(k): v for k, v in a.counts.items()},
        "errors": a.errors,
        "total": a.total,
        "examples": {str(k): v for k, v in a.examples.items()},
        "error_examples": a.error_examples,
        "params": [[tid, pos, *stats.as_list()] for (tid, pos), stats in a.params.items()],
    }


def _acc_from_state(d: dict[str, Any]) -> _WindowAcc:
    return _WindowAcc(
        counts={int(k): v for k, v in d["counts"].items()},
        errors=d["errors"],
        total=d["total"],
        examples={int(k): v for k, v in d["examples"].items()},
        error_examples=d["error_examples"],
        params={(p[0], p[1]): ParamStats(*p[2:]) for p in d["params"]},
    )
