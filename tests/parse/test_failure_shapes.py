"""The failure shapes of issue 18: over-merging state words, over-splitting on optional
tokens, masks that eat punctuation, key=value and numbered host names."""

import pyarrow as pa

from logradar.parse.masking import mask_text
from logradar.parse.templates import TemplateMiner


def final_ids(lines: list[str]) -> tuple[TemplateMiner, list[int]]:
    miner = TemplateMiner()
    for i in range(0, len(lines), 50):
        miner.parse(pa.array(lines[i : i + 50]))
    return miner, miner.match(pa.array(lines)).to_pylist()


def test_statements_that_differ_by_a_state_word_stay_apart() -> None:
    states = ["started", "stopped", "paused", "resumed"]
    methods = ["GET", "POST", "PUT", "DELETE"]
    lines = [
        f"Container {states[i % 4]} on node 10.0.{i % 7}.{i % 11} after {i} ms" for i in range(400)
    ] + [f"{methods[i % 4]} request for /api/v{i % 3}/items/{i} accepted" for i in range(400)]
    miner, got = final_ids(lines)
    assert len(set(got[:400])) == 4 and len(set(got[400:])) == 4
    assert {miner.template(i).split()[1] for i in got[:400]} == set(states)


def test_word_parameters_still_generalize() -> None:
    users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan"]
    lines = [f"Accepted password for {users[i % 9]} from 10.0.0.{i % 200}" for i in range(300)]
    miner, got = final_ids(lines)
    assert len(set(got)) == 1
    assert miner.template(got[0]) == "Accepted password for <*> from <*>"


def test_value_shaped_words_generalize_at_once() -> None:
    lines = [f"'{name}' is serving" for name in ("main", "backup", "cache", "index")]
    _, got = final_ids(lines)
    assert len(set(got)) == 1


def test_optional_parenthesised_size_does_not_split() -> None:
    lines = [
        f"Stored block {i} ({i * 3} KB) in 12 ms" if i % 2 else f"Stored block {i} in 12 ms"
        for i in range(100)
    ]
    _, got = final_ids(lines)
    assert len(set(got)) == 1


def test_masks_keep_punctuation() -> None:
    assert mask_text("request [12] done.") == "request [<*>] done."
    assert mask_text("took 5 ms, 7 ms.") == "took <*>, <*>."
    lines = [f"job [{w}] finished." for w in ("a-b", "c-d", "e-f")]
    miner, got = final_ids(lines)
    assert miner.template(got[0]) == "job [<*>] finished."


def test_key_value_keeps_keys() -> None:
    assert mask_text("pct=14.7 seconds=1.742") == "pct=<*> seconds=<*>"
    miner, got = final_ids([f"progress pct={i / 3:.1f} seconds={i * 0.7:.3f}" for i in range(20)])
    assert miner.template(got[0]) == "progress pct=<*> seconds=<*>"
    # different keys are different statements
    _, got = final_ids(["lag user=1", "lag user=2", "lag uid=1", "lag uid=2"])
    assert got[0] == got[1] != got[2] == got[3]


def test_numbered_host_names_keep_their_stem() -> None:
    assert mask_text("db-replica-1 is down") == "db-replica-<*> is down"
    assert mask_text("offset blk_-42 and x -5") == "offset blk_<*> and x <*>"
