"""Sessions: a closed session's sequence of templates, judged against normal sessions.

A session (all lines sharing a session key, e.g. one HDFS block) is a sequence of template
ids. From normal sessions the detector learns four things and checks each new session
against them, most telling first:

1. *unseen template*: a template no normal session ever contained;
2. *count rules*: sparse linear relations between templates' counts per session that hold
   in normal sessions, mined as in invariant mining (Lou et al., 2010): e.g. every
   ``Receiving block`` is followed by one ``Received block``, three of those per
   ``allocateBlock``. A relation may fail in at most ``tolerance`` of the normal sessions that
   use it. This is what catches sessions that stop half way (missing end events);
3. *exclusive pairs*: two templates never seen in one session although, were they
   unrelated, that would have a chance below ``pair_p_value`` (e.g. a replicated block that
   is then deleted);
4. *transitions* (off by default): an n-gram model with backoff (session start and end are
   events too) and DeepLog's criterion: the next event must be one the model finds likely
   after the last ``order - 1`` events; only contexts seen ``min_context`` times count.
   Where threads interleave their lines, as in HDFS, unseen transitions are mostly normal.

``checks`` chooses among them.

A session gets at most one anomaly, for its most surprising finding. Sessions seen while the
stream is learning are scored (with one step lower severity) and then learned; later ones are
only scored, or with ``learn_online`` also learned when judged normal. Nothing is judged before
``min_sessions`` were learned (with ``learn_online`` every session is learned until then).
The rules are refitted as the number of learned sessions grows by a quarter, and when learning
ends.

>>> from logradar.detect.base import DetectContext, Session
>>> ctx = DetectContext(template_text=lambda t: f"event {t}", is_error_template=lambda t: False)
>>> det = SessionDetector(SessionsConfig(min_sessions=100))
>>> for i in range(100):
...     _ = det.observe_session(Session("hdfs", f"b{i}", 0, 1, [1, 2, 2, 3], learning=True), ctx)
>>> det.observe_session(Session("hdfs", "ok", 0, 1, [1, 2, 2, 3]), ctx)
[]
>>> det.observe_session(Session("hdfs", "b", 0, 1, [1, 2, 9, 3]), ctx)[0].explanation
"Session b ran 'event 9' (1 time), a template never seen in 100 normal sessions."
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from logradar.config import DetectorsConfig, SessionsConfig
from logradar.detect.base import DetectContext, Session
from logradar.schema import Anomaly

START = -1
"""Pseudo event before a session's first line (only in transition contexts)."""
END = -2
"""Pseudo event after a session's last line."""

MAX_VECTORS = 20_000
"""Distinct count vectors kept for the count rules; new ones beyond it are not stored."""
MAX_RULE_TEMPLATES = 30
"""Most frequent templates that take part in count rules and pair checks."""
MAX_COEFFICIENT = 3
SEARCH_ROWS = 1000
"""Heaviest distinct count vectors searched for count rules (all are checked)."""
REFIT_GROWTH = 1.25

SCORE_UNSEEN = 1.0
SCORE_COUNT = 0.9
SCORE_PAIR = 0.8
SCORE_TRANSITION = 0.7


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason a session looks abnormal; ``text`` is the explanation after 'Session X '."""

    score: float
    template_id: int
    expected: float
    observed: float
    text: str


class SessionModel:
    """What normal sessions look like, from template-id sequences alone (no engine types)."""

    def __init__(self, config: SessionsConfig | None = None) -> None:
        self.config = config or SessionsConfig()
        self.sessions = 0
        self.doc_freq: dict[int, int] = {}
        """Template id -> number of learned sessions containing it."""
        self.joint: dict[str, int] = {}
        """'a,b' (ids, a < b) -> number of learned sessions containing both."""
        self.vectors: dict[str, int] = {}
        """Count vector ('id:n,id:n' sorted by id) -> number of learned sessions with it."""
        self.grams: dict[str, dict[int, int]] = {}
        """Context ('a,b': the last events, START padded, and its shorter suffixes) -> next
        event -> count."""
        self.rules: list[list[Any]] = []
        """Count rules: [[[id, coefficient], ...], sessions it held in, sessions using it]."""
        self.exclusive: list[list[int]] = []
        """Pairs never seen together though they would be if unrelated: [id_a, id_b]."""
        self.fitted_at = 0

    # Learning ---------------------------------------------------------------------------
    def learn(self, events: Sequence[int]) -> None:
        self.sessions += 1
        counts = _counts(events)
        for tid in counts:
            self.doc_freq[tid] = self.doc_freq.get(tid, 0) + 1
        for a, b in itertools.combinations(sorted(counts), 2):
            pair = f"{a},{b}"
            self.joint[pair] = self.joint.get(pair, 0) + 1
        key = _vector_key(counts)
        if key in self.vectors or len(self.vectors) < MAX_VECTORS:
            self.vectors[key] = self.vectors.get(key, 0) + 1
        for context, nxt in _transitions(events, self.config.order):
            parts = context.split(",")
            for k in range(len(parts)):
                nexts = self.grams.setdefault(",".join(parts[k:]), {})
                nexts[nxt] = nexts.get(nxt, 0) + 1

    def needs_fit(self, learning_ended: bool) -> bool:
        """True when the rules are stale: grown by a quarter, or learning just ended."""
        if self.sessions == self.fitted_at or self.sessions < self.config.min_sessions:
            return False
        return learning_ended or self.sessions >= REFIT_GROWTH * self.fitted_at

    def fit(self) -> None:
        """Mine the count rules and exclusive pairs from the learned count vectors."""
        cfg = self.config
        self.fitted_at = self.sessions
        ids = sorted(
            (t for t, n in self.doc_freq.items() if n >= cfg.min_support),
            key=lambda t: (-self.doc_freq[t], t),
        )[:MAX_RULE_TEMPLATES]
        ids.sort()
        if not ids or not self.vectors:
            self.rules, self.exclusive = [], []
            return
        col = {t: i for i, t in enumerate(ids)}
        matrix = np.zeros((len(self.vectors), len(ids)), dtype=np.int64)
        weights = np.zeros(len(self.vectors), dtype=np.int64)
        heaviest_first = sorted(self.vectors.items(), key=lambda kv: (-kv[1], kv[0]))
        for row, (key, n) in enumerate(heaviest_first):
            weights[row] = n
            for tid, count in _parse_vector_key(key).items():
                if tid in col:
                    matrix[row, col[tid]] = count
        self.rules = _mine_rules(ids, matrix, weights, cfg.tolerance, cfg.min_support)
        self.exclusive = [
            [a, b]
            for a, b in itertools.combinations(ids, 2)
            if f"{a},{b}" not in self.joint
            and _disjoint_chance(self.doc_freq[a], self.doc_freq[b], self.sessions)
            <= cfg.pair_p_value
        ]

    # Scoring ----------------------------------------------------------------------------
    def findings(self, events: Sequence[int], ctx: DetectContext) -> list[Finding]:
        """Everything surprising about ``events``, most surprising first."""
        checks = self.config.checks
        counts = _counts(events)
        out = self._unseen(events, counts, ctx) if "unseen" in checks else []
        if "counts" in checks:
            out += self._count_rules(counts, ctx)
        if "pairs" in checks:
            out += self._pairs(counts, ctx)
        if "transitions" in checks:
            out += self._transitions(events, ctx)
        return sorted(out, key=lambda f: -f.score)

    def _unseen(
        self, events: Sequence[int], counts: dict[int, int], ctx: DetectContext
    ) -> list[Finding]:
        out = []
        for tid in dict.fromkeys(events):
            if tid not in self.doc_freq:
                n = counts[tid]
                out.append(
                    Finding(
                        SCORE_UNSEEN,
                        tid,
                        0.0,
                        float(n),
                        f"ran '{ctx.template_text(tid)}' ({_times(n)}), a template never seen "
                        f"in {self.sessions:,} normal sessions.",
                    )
                )
        return out

    def _count_rules(self, counts: dict[int, int], ctx: DetectContext) -> list[Finding]:
        out = []
        for terms, held, support in self.rules:
            if sum(coef * counts.get(tid, 0) for tid, coef in terms) == 0:
                continue
            target, coef = _rule_target(terms)
            others = [(t, c) for t, c in terms if t != target]
            expected = -sum(c * counts.get(t, 0) for t, c in others) / coef
            observed = counts.get(target, 0)
            relation = " + ".join(
                f"{_num(abs(c) / abs(coef))} per '{ctx.template_text(t)}'" for t, c in others
            )
            out.append(
                Finding(
                    SCORE_COUNT,
                    target,
                    expected,
                    float(observed),
                    f"has {observed} × '{ctx.template_text(target)}' but {_num(expected)} "
                    f"expected ({relation}), a count rule that held in {held:,} of "
                    f"{support:,} normal sessions.",
                )
            )
        return out

    def _pairs(self, counts: dict[int, int], ctx: DetectContext) -> list[Finding]:
        out = []
        for a, b in self.exclusive:
            if a in counts and b in counts:
                rarer, other = sorted((a, b), key=lambda t: (self.doc_freq[t], t))
                out.append(
                    Finding(
                        SCORE_PAIR,
                        rarer,
                        0.0,
                        1.0,
                        f"has both '{ctx.template_text(rarer)}' and '{ctx.template_text(other)}',"
                        f" never together in {self.sessions:,} normal sessions although they "
                        f"had them {self.doc_freq[rarer]:,} and {self.doc_freq[other]:,} times.",
                    )
                )
        return out

    def _transitions(self, events: Sequence[int], ctx: DetectContext) -> list[Finding]:
        """The first transition the n-gram model finds too unlikely (DeepLog's criterion)."""
        cfg = self.config
        for context, nxt in _transitions(events, cfg.order):
            nexts, key = self._context(context)
            if nexts is None:
                continue
            total = sum(nexts.values())
            n = nexts.get(nxt, 0)
            if n / total > cfg.min_probability:
                continue
            best = min(nexts, key=lambda t: (-nexts[t], t))
            before = [int(e) for e in key.split(",") if int(e) != START]
            after = " then ".join(f"'{ctx.template_text(e)}'" for e in before)
            likely = "the end" if best == END else f"'{ctx.template_text(best)}'"
            if nxt == END:
                ended = "none" if n == 0 else f"only {n:,}"
                what = f"ended after {after}, which ended {ended} of {total:,} normal cases"
            else:
                seen = "never seen" if n == 0 else f"seen only {n:,} times"
                what = f"ran '{ctx.template_text(nxt)}' after {after or 'the session start'}, "
                what += f"a transition {seen} in {total:,} normal cases"
            return [
                Finding(
                    SCORE_TRANSITION * (1 - n / total),
                    before[-1] if nxt == END else nxt,
                    nexts[best] / total,
                    n / total,
                    f"{what} (most likely next: {likely}).",
                )
            ]
        return []

    def _context(self, context: str) -> tuple[dict[int, int] | None, str]:
        """The longest suffix of ``context`` seen at least ``min_context`` times (backoff)."""
        parts = context.split(",")
        for k in range(len(parts)):
            key = ",".join(parts[k:])
            nexts = self.grams.get(key)
            if nexts is not None and sum(nexts.values()) >= self.config.min_context:
                return nexts, key
        return None, context

    # State ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "doc_freq": {str(k): v for k, v in self.doc_freq.items()},
            "joint": dict(self.joint),
            "vectors": dict(self.vectors),
            "grams": {c: {str(k): v for k, v in n.items()} for c, n in self.grams.items()},
            "rules": self.rules,
            "exclusive": self.exclusive,
            "fitted_at": self.fitted_at,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sessions = state["sessions"]
        self.doc_freq = {int(k): v for k, v in state["doc_freq"].items()}
        self.joint = dict(state["joint"])
        self.vectors = dict(state["vectors"])
        self.grams = {c: {int(k): v for k, v in n.items()} for c, n in state["grams"].items()}
        self.rules = [[[list(t) for t in terms], h, s] for terms, h, s in state["rules"]]
        self.exclusive = [list(p) for p in state["exclusive"]]
        self.fitted_at = state["fitted_at"]


class SessionDetector:
    """Reports abnormal closed sessions; see the module docstring."""

    name = "sessions"

    def __init__(self, config: SessionsConfig | None = None) -> None:
        self.config = config or SessionsConfig()
        self.model = SessionModel(self.config)
        self._learning = False
        """Whether the previous session was a learning one (to refit when learning ends)."""

    def observe_session(self, session: Session, ctx: DetectContext) -> list[Anomaly]:
        model = self.model
        learning_ended = self._learning and not session.learning
        self._learning = session.learning
        if model.needs_fit(learning_ended):
            model.fit()
        findings: list[Finding] = []
        if session.events and model.sessions >= self.config.min_sessions:
            findings = model.findings(session.events, ctx)
        if session.events and (session.learning or (self.config.learn_online and not findings)):
            model.learn(session.events)
        if not findings:
            return []
        return [self._anomaly(session, findings[0], ctx)]

    def _anomaly(self, session: Session, finding: Finding, ctx: DetectContext) -> Anomaly:
        cfg = self.config
        error = ctx.is_error_template(finding.template_id)
        severity = cfg.error_severity if error else cfg.severity
        if session.learning:
            severity = severity.lower()
        return Anomaly(
            detector=self.name,
            kind="abnormal_session",
            stream=session.stream,
            start=session.start,
            end=session.end,
            score=round(finding.score, 4),
            severity=severity,
            explanation=f"Session {session.key} {finding.text}",
            template_id=finding.template_id,
            template=ctx.template_text(finding.template_id),
            session=session.key,
            expected=round(finding.expected, 6),
            observed=round(finding.observed, 6),
            examples=list(session.examples[:3]),
        )

    def state_dict(self) -> dict[str, Any]:
        return {"learning": self._learning, "model": self.model.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._learning = state["learning"]
        self.model.load_state_dict(state["model"])


def build_session_detectors(cfg: DetectorsConfig) -> list[SessionDetector]:
    """Enabled session detectors, always in the same order."""
    return [SessionDetector(cfg.sessions)] if cfg.sessions.enabled else []


# Helpers ------------------------------------------------------------------------------------
def _counts(events: Iterable[int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for e in events:
        out[e] = out.get(e, 0) + 1
    return out


def _vector_key(counts: dict[int, int]) -> str:
    return ",".join(f"{t}:{n}" for t, n in sorted(counts.items()))


def _parse_vector_key(key: str) -> dict[int, int]:
    out = {}
    for part in key.split(","):
        if part:
            tid, n = part.split(":")
            out[int(tid)] = int(n)
    return out


def _transitions(events: Sequence[int], order: int) -> Iterable[tuple[str, int]]:
    """(context key, next event) for every position, the end included."""
    padded = [START] * (order - 1) + list(events) + [END]
    for i in range(order - 1, len(padded)):
        yield ",".join(str(e) for e in padded[i - order + 1 : i]), padded[i]


def _mine_rules(
    ids: list[int], matrix: np.ndarray, weights: np.ndarray, tolerance: float, min_support: int
) -> list[list[Any]]:
    """Independent count rules over 2 or 3 templates, simplest first.

    ``matrix`` rows are distinct count vectors, heaviest first. A rule over some templates must
    hold for the heaviest sessions that use them, so the candidate is the integer vector
    orthogonal to the first one (pairs) or two independent (triples) of those rows; it is
    kept when its coefficients are small and it holds in all but ``tolerance`` of the support.
    Candidates are searched among the heaviest ``SEARCH_ROWS`` rows, then checked on all.
    """
    candidates = []
    head, head_weights = matrix[:SEARCH_ROWS], weights[:SEARCH_ROWS]
    for k in (2, 3):
        for cols in itertools.combinations(range(len(ids)), k):
            found = _holding(head[:, cols], head_weights, tolerance, min_support)
            if found is not None and len(matrix) > SEARCH_ROWS:
                found = _holding(matrix[:, cols], weights, tolerance, min_support, found[0])
            if found is None:
                continue
            coefs, fails, support = found
            terms = [[ids[c], int(w)] for c, w in zip(cols, coefs, strict=True)]
            candidates.append((k, int(np.abs(coefs).sum()), fails, terms, support))
    candidates.sort(key=lambda c: (c[0], c[1], c[2], c[3]))
    col = {t: i for i, t in enumerate(ids)}
    basis = np.zeros((0, len(ids)))
    rules = []
    for _, _, fails, terms, support in candidates:
        row = np.zeros(len(ids))
        for tid, coef in terms:
            row[col[tid]] = coef
        grown = np.vstack([basis, row])
        if np.linalg.matrix_rank(grown) > len(basis):
            basis = grown
            rules.append([terms, support - fails, support])
    return rules


def _holding(
    sub: np.ndarray,
    weights: np.ndarray,
    tolerance: float,
    min_support: int,
    coefs: np.ndarray | None = None,
) -> tuple[np.ndarray, int, int] | None:
    """(coefficients, failing sessions, support) of the rule ``sub`` obeys, if it obeys one."""
    active = (sub > 0).any(axis=1)
    support = int(weights[active].sum())
    if support < min_support:
        return None
    rows = sub[active]
    coefs = _orthogonal(rows) if coefs is None else coefs
    if coefs is None:
        return None
    fails = int(weights[active] @ ((rows @ coefs) != 0))
    return (coefs, fails, support) if fails <= tolerance * support else None


def _orthogonal(rows: np.ndarray) -> np.ndarray | None:
    """Smallest integer vector orthogonal to the leading row(s), if all its terms are 1..3."""
    first = rows[0]
    if rows.shape[1] == 2:
        coefs = np.array([first[1], -first[0]])
    else:
        crossed = np.cross(rows, first)
        independent = np.flatnonzero(crossed.any(axis=1))
        if not len(independent):
            return None
        coefs = crossed[independent[0]]
    if not coefs.all():
        return None
    coefs = coefs // math.gcd(*(int(abs(c)) for c in coefs))
    if coefs[0] < 0:
        coefs = -coefs
    return coefs if np.abs(coefs).max() <= MAX_COEFFICIENT else None


def _disjoint_chance(a: int, b: int, n: int) -> float:
    """Chance that ``a`` and ``b`` of ``n`` sessions, drawn independently, share none."""
    if a + b > n:
        return 0.0
    log_p = _log_choose(n - b, a) - _log_choose(n, a)
    return math.exp(log_p)


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _rule_target(terms: list[list[int]]) -> tuple[int, int]:
    """The term a rule explains: one alone on its side, the smallest coefficient first."""
    alone = []
    for positive in (True, False):
        side = [(t, c) for t, c in terms if (c > 0) == positive]
        if len(side) == 1:
            alone.append(side[0])
    tid, coef = min(alone or [tuple(terms[0])], key=lambda tc: abs(tc[1]))
    return tid, coef


def _times(n: int) -> str:
    return "1 time" if n == 1 else f"{n:,} times"


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"
