"""The sessions detector on real HDFS block sessions (event keys of the hdfs-sessions set)."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest

from logradar.config import DetectorsConfig, SessionsConfig
from logradar.demo.hdfs_render import read_sessions
from logradar.detect.base import DetectContext, Session
from logradar.detect.base import SessionDetector as SessionProtocol
from logradar.detect.sessions import SessionDetector, build_session_detectors
from logradar.schema import Severity

DATA = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "hdfs-sessions"
UNSEEN = 99
ALLOCATE, DELETE, DELETING, REPLICATE = 22, 23, 21, 25


def texts(tid: int) -> str:
    return f"E{tid} <*>"


CTX = DetectContext(template_text=texts, is_error_template=lambda tid: False)
ERROR_CTX = DetectContext(template_text=texts, is_error_template=lambda tid: True)


@pytest.fixture(scope="module")
def data() -> dict[str, list[list[int]]]:
    """normal_train.txt split 50/50 (seed 0) into train and held-out; every 4th abnormal."""
    normal = read_sessions(DATA / "normal_train.txt")
    order = list(range(len(normal)))
    random.Random(0).shuffle(order)
    half = len(normal) // 2
    return {
        "train": [normal[i] for i in order[:half]],
        "held_out": [normal[i] for i in order[half:]],
        "abnormal": read_sessions(DATA / "abnormal_dev.txt")[::4],
    }


def train(sessions: list[list[int]], config: SessionsConfig | None = None) -> SessionDetector:
    det = SessionDetector(config)
    for i, events in enumerate(sessions):
        det.observe_session(session(f"train{i}", events, learning=True), CTX)
    return det


@pytest.fixture(scope="module")
def trained_state(data: dict[str, list[list[int]]]) -> dict:
    return train(data["train"]).state_dict()


@pytest.fixture
def detector(trained_state: dict) -> SessionDetector:
    """A detector trained on the train half, restored from JSON (so tests do not share it)."""
    det = SessionDetector()
    det.load_state_dict(json.loads(json.dumps(trained_state)))
    return det


def session(key: str, events: list[int], learning: bool = False) -> Session:
    return Session(
        stream="hdfs",
        key=key,
        start=1_000,
        end=2_000,
        events=list(events),
        examples=[f"line of {key}"],
        learning=learning,
    )


def flagged(det: SessionDetector, sessions: list[list[int]], ctx: DetectContext = CTX) -> int:
    return sum(bool(det.observe_session(session(f"s{i}", s), ctx)) for i, s in enumerate(sessions))


def bigram_flags(train_sessions: list[list[int]], sessions: list[list[int]]) -> int:
    """The plain 2-gram anchor: a transition (start and end included) never seen in train."""

    def grams(s: list[int]) -> set[tuple[int, int]]:
        padded = [-1, *s, -2]
        return set(itertools.pairwise(padded))

    seen = set().union(*(grams(s) for s in train_sessions))
    return sum(bool(grams(s) - seen) for s in sessions)


def test_quiet_on_held_out_normal_sessions_and_beats_the_2gram(data, detector):
    """Held-out normal sessions: at most 0.25 % flagged (4 of 1,618).

    Why that bound: DeepLog reports 0.15 % on its HDFS test set and the target is 0.2 %; the
    plain 2-gram anchor, trained on the same half, flags 0.74 % (12 sessions) of these very
    sessions (asserted below), so the bound fails anything at the anchor's level. Over eight
    seeds of this split the detector flagged 0 to 2.
    """
    held_out = data["held_out"]
    fp = flagged(detector, held_out)
    assert fp <= 0.0025 * len(held_out)
    assert fp < bigram_flags(data["train"], held_out)


def test_fires_on_abnormal_sessions(data, detector):
    """Recall on a quarter of abnormal_dev: at least 97 %, and above the 2-gram anchor."""
    abnormal = data["abnormal"]
    hits = flagged(detector, abnormal)
    assert hits >= 0.97 * len(abnormal)
    assert hits > bigram_flags(data["train"], abnormal)


def test_unseen_template(data, detector):
    events = [*data["held_out"][0], UNSEEN, UNSEEN]
    [a] = detector.observe_session(session("blk_1", events), CTX)
    assert (a.detector, a.kind, a.stream, a.session) == (
        "sessions",
        "abnormal_session",
        "hdfs",
        "blk_1",
    )
    assert (a.template_id, a.template, a.score) == (UNSEEN, texts(UNSEEN), 1.0)
    assert (a.expected, a.observed) == (0.0, 2.0)
    assert a.severity == Severity.MEDIUM
    assert a.examples == ["line of blk_1"]
    assert a.explanation.startswith("Session blk_1 ran 'E99 <*>' (2 times)")
    assert "never seen in 1,618 normal sessions" in a.explanation
    assert a.explanation.count(".") == 1 and a.explanation.endswith(".")
    [b] = detector.observe_session(session("blk_2", events), ERROR_CTX)
    assert b.severity == Severity.HIGH


def test_missing_end_events(data, detector):
    """Normal sessions cut after their first three lines: the write never completes."""
    cut = [s[:3] for s in data["held_out"][:200]]
    for i, events in enumerate(cut):
        [a] = detector.observe_session(session(f"cut{i}", events), CTX)
        assert a.score == pytest.approx(0.9)
        assert a.expected is not None and a.observed is not None
        assert a.expected != a.observed
        assert "a count rule that held in" in a.explanation


def test_exclusive_pair(data, detector):
    """A replicated block that is then deleted: both paths are normal, together they are not."""
    replicated = next(s for s in data["held_out"] if REPLICATE in s and DELETE not in s)
    events = [*replicated, DELETE, DELETE, DELETE, DELETING, DELETING, DELETING]
    [a] = detector.observe_session(session("blk_3", events), CTX)
    replication = {6, 16, 18, REPLICATE}  # always together, each in 9 train sessions
    assert a.template_id in replication and a.score == pytest.approx(0.8)
    assert f"has both 'E{a.template_id} <*>' and 'E23 <*>', never together" in a.explanation


def test_unseen_transition_when_transitions_are_checked(data):
    """Same counts, wrong order: only the n-gram check sees that deletes came first."""
    normal = next(s for s in data["held_out"] if s.count(DELETING) == 3 and s[0] != DELETING)
    reordered = [DELETING] * 3 + [e for e in normal if e != DELETING]
    config = SessionsConfig(checks=["unseen", "counts", "pairs", "transitions"])
    det = train(data["train"], config)
    assert det.observe_session(session("ok", normal), CTX) == []
    [a] = det.observe_session(session("blk_4", reordered), CTX)
    assert a.template_id == DELETING
    assert "after the session start, a transition never seen" in a.explanation
    assert a.observed == 0.0 and 0 < a.expected <= 1


def test_learning_lowers_severity(data, trained_state):
    events = [*data["held_out"][1], UNSEEN]
    severities = []
    for learning in (False, True):
        det = SessionDetector()
        det.load_state_dict(trained_state)
        [a] = det.observe_session(session("blk_5", events, learning=learning), CTX)
        severities.append(a.severity)
    assert severities == [Severity.MEDIUM, Severity.LOW]


def test_nothing_is_judged_before_min_sessions():
    bootstrap = SessionDetector(SessionsConfig(min_sessions=5, learn_online=True))
    assert bootstrap.observe_session(session("b0", [1, 2, 77]), CTX) == []
    assert bootstrap.model.sessions == 1  # online learning takes what cannot be judged yet
    det = SessionDetector(SessionsConfig(min_sessions=5))
    assert det.observe_session(session("b0", [1, 2, 77]), CTX) == []
    outs = [det.observe_session(session(f"b{i}", [1, 2, 3], learning=True), CTX) for i in range(5)]
    assert outs == [[]] * 5
    assert det.observe_session(session("b9", [1, 2, 77]), CTX) != []


def test_save_restore_gives_identical_outputs(data, trained_state):
    """Same later input, same anomalies: across online learning and a refit of the rules."""
    later = data["held_out"][:700] + data["abnormal"][:300]
    random.Random(1).shuffle(later)
    online = SessionsConfig(learn_online=True)
    original = SessionDetector(online)
    original.load_state_dict(trained_state)
    original.observe_session(session("warm", data["held_out"][-1]), CTX)
    restored = SessionDetector(online)
    restored.load_state_dict(json.loads(json.dumps(original.state_dict())))

    def run(det: SessionDetector) -> list[dict]:
        out = []
        for i, events in enumerate(later):
            out += [a.to_dict() for a in det.observe_session(session(f"k{i}", events), CTX)]
        return out

    fitted_before = original.model.fitted_at
    first, second = run(original), run(restored)
    assert original.model.fitted_at > fitted_before  # online learning refitted the rules
    assert first == second and len(first) > 250
    assert original.state_dict() == restored.state_dict()


def test_online_learning_is_off_by_default(data, trained_state):
    for config, learned in ((SessionsConfig(), 0), (SessionsConfig(learn_online=True), 50)):
        det = SessionDetector(config)
        det.load_state_dict(trained_state)
        before = det.model.sessions
        assert flagged(det, data["held_out"][:50]) == 0
        assert det.model.sessions == before + learned


def test_built_from_config():
    [det] = build_session_detectors(DetectorsConfig())
    assert isinstance(det, SessionProtocol) and det.name == "sessions"
    cfg = DetectorsConfig.model_validate({"sessions": {"enabled": False}})
    assert build_session_detectors(cfg) == []
    with pytest.raises(ValueError):
        DetectorsConfig.model_validate({"sessions": {"checks": ["bogus"]}})
