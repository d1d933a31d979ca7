import json

import pyarrow as pa
import pytest

from logradar.parse.templates import Template, TemplateMiner


def ids(miner: TemplateMiner, lines: list[str]) -> list[int]:
    return miner.parse(pa.array(lines, pa.string())).to_pylist()


def test_groups_lines_of_one_statement() -> None:
    miner = TemplateMiner()
    out = ids(
        miner,
        [
            "Receiving block blk_1 src: /10.0.0.1:50010 dest: /10.0.0.2:50010",
            "Deleting block blk_2 file /data/blk_2",
            "Receiving block blk_3 src: /10.0.0.3:50010 dest: /10.0.0.4:50010",
            "Deleting block blk_4 file /data/blk_4",
        ],
    )
    assert out[0] == out[2] and out[1] == out[3] and out[0] != out[1]
    assert miner.template(out[0]) == "Receiving block blk_<*> src: /<*>:<*> dest: /<*>:<*>"


def test_word_variables_generalize_only_with_evidence() -> None:
    miner = TemplateMiner(distinct_words=3)
    lines = [
        "Failed password for invalid user alice from 1.2.3.4",
        "Failed none for invalid user bob from 1.2.3.4",
        "Failed password for invalid user carol from 1.2.3.4",
        "Failed password for invalid user dave from 1.2.3.4",
        "Failed password for invalid user erin from 1.2.3.4",
    ]
    ids(miner, lines)
    final = miner.match(pa.array(lines)).to_pylist()
    # "password" and "none" never reach 3 distinct words (distinct_words=3): two statements.
    assert final[0] == final[2] == final[3] == final[4] != final[1]
    assert miner.template(final[0]) == "Failed password for invalid user <*> from <*>"


def test_generalization_records_history() -> None:
    miner = TemplateMiner(distinct_words=3)
    first = ids(miner, ["Invalid user alice from 1.2.3.4"])[0]
    ids(miner, ["Invalid user bob from 1.2.3.4"])
    third = ids(miner, ["Invalid user carol from 1.2.3.4"])[0]
    assert third != first
    by_id = {t.id: t for t in miner.templates()}
    assert by_id[third].parent_id == first
    assert by_id[third].text == "Invalid user <*> from <*>"
    assert by_id[first].replaced_by == third
    assert miner.resolve(first) == third
    assert miner.template(first) == "Invalid user alice from <*>"
    # the variant cluster of "bob" was merged into the generalized one
    assert all(miner.resolve(t.id) == third for t in miner.templates())
    assert by_id[third].count == 3


def test_resolve_ids_maps_old_ids_to_current_ones() -> None:
    miner = TemplateMiner(max_templates=3, distinct_words=3)
    early = miner.parse(pa.array(["Invalid user alice from 1.2.3.4", "disk full"]))
    late = miner.parse(
        pa.array(["Invalid user bob from 1.2.3.4", "Invalid user carol from 5.6.7.8"])
    )
    resolved = miner.resolve_ids(pa.chunked_array([early, late, pa.array([None, 999], pa.int64())]))
    assert resolved.to_pylist() == [late[1].as_py(), early[1].as_py()] + [late[1].as_py()] * 2 + [
        None,
        None,
    ]


def test_ids_are_never_reused() -> None:
    miner = TemplateMiner(max_templates=5)
    seen: set[int] = set()
    for i in range(40):
        new = set(ids(miner, [" ".join(["event", *["again"] * i, "happened"])]))
        assert not (new & seen) or len(new) == 1
        seen |= new
    all_ids = [t.id for t in miner.templates()]
    assert len(all_ids) == len(set(all_ids))
    assert max(seen) == 40  # one fresh id per distinct statement, none recycled


def test_template_cap_evicts_least_recently_used() -> None:
    miner = TemplateMiner(max_templates=10)
    for i in range(30):
        ids(miner, [f"statement {'x' * (i + 1)} done"])
    active = [t for t in miner.templates() if t.replaced_by is None]
    assert len(active) <= 10
    # recently used statements are still known
    assert miner.match(pa.array([f"statement {'x' * 30} done"])).null_count == 0


def test_cache_cap_only_costs_a_re_mine() -> None:
    miner = TemplateMiner(max_cache=20)
    lines = [f"user u{chr(97 + i % 26)}{chr(97 + i // 26)}x logged in" for i in range(100)]
    first = ids(miner, lines)
    again = ids(miner, lines)
    assert first == again
    assert len(miner.state_dict()["cache"]) <= 20


def test_match_is_read_only_and_null_for_unknown() -> None:
    miner = TemplateMiner()
    known = ids(miner, ["disk sda1 is full"])[0]
    before = json.dumps(miner.state_dict(), sort_keys=True)
    out = miner.match(pa.array(["disk sdb2 is full", "never seen before"]))
    assert out.to_pylist() == [known, None]
    assert json.dumps(miner.state_dict(), sort_keys=True) == before


def test_parse_never_returns_null_and_handles_nulls_and_empty() -> None:
    miner = TemplateMiner()
    out = miner.parse(pa.array(["", None, "   ", "x"], pa.string()))
    assert out.null_count == 0 and len(out) == 4
    assert miner.parse(pa.array([], pa.string())).to_pylist() == []
    assert miner.parse(pa.chunked_array([["a 1"], ["a 2"]])).to_pylist()[0] > 0


def test_snapshot_restore_keeps_ids(tmp_path) -> None:
    lines = [
        "Invalid user alice from 1.2.3.4",
        "Invalid user bob from 1.2.3.4",
        "Accepted password for root from 5.6.7.8 port 22",
        "Invalid user carol from 1.2.3.4",
    ]
    miner = TemplateMiner()
    ids(miner, lines)
    path = tmp_path / "state" / "miner.json"
    miner.save(path)
    assert not list(path.parent.glob("*.tmp"))
    restored = TemplateMiner.load(path)
    assert restored.state_dict() == miner.state_dict()
    fresh = ["Invalid user dave from 9.9.9.9", "Accepted password for admin from 1.1.1.1 port 2"]
    assert ids(restored, fresh) == ids(miner, fresh)
    assert restored.match(pa.array(lines)).to_pylist() == miner.match(pa.array(lines)).to_pylist()
    # new statements after restore get ids that were never used before
    assert min(ids(restored, ["completely new statement"])) > max(t.id for t in miner.templates())


def test_state_is_json_ready() -> None:
    miner = TemplateMiner()
    ids(miner, ["a b c 1", "a b d 2"])
    state = json.loads(json.dumps(miner.state_dict()))
    assert TemplateMiner.from_state_dict(state).templates() == miner.templates()
    with pytest.raises(ValueError):
        TemplateMiner.from_state_dict({**state, "version": 999})


def test_batch_boundaries_do_not_change_results() -> None:
    lines = [
        f"{verb} user {name} from 10.0.0.{i % 7}"
        for i, (verb, name) in enumerate(
            [("Invalid", n) for n in ("ann", "ben", "cid", "dan", "eve")]
            + [("Accepted", n) for n in ("fay", "gus", "hal")] * 3
        )
    ]
    whole = TemplateMiner()
    ids(whole, lines)
    pieces = TemplateMiner()
    for i in range(0, len(lines), 3):
        ids(pieces, lines[i : i + 3])
    assert whole.match(pa.array(lines)).to_pylist() == pieces.match(pa.array(lines)).to_pylist()

    # Same templates and history; superseded records hold the lines counted before the
    # change, which depends on where batches end, active counts do not.
    def shape(m: TemplateMiner) -> list[tuple]:
        return [
            (t.id, t.text, t.parent_id, t.replaced_by, t.first_seen_order) for t in m.templates()
        ]

    def active(m: TemplateMiner) -> dict[int, int]:
        return {t.id: t.count for t in m.templates() if t.replaced_by is None}

    assert shape(whole) == shape(pieces)
    assert active(whole) == active(pieces)


def test_params_extracts_variable_values() -> None:
    miner = TemplateMiner()
    lines = [
        "Receiving block blk_1 src: /10.0.0.1:50010",
        "Receiving block blk_22 src: /10.0.0.2:1",
    ]
    out = miner.parse(pa.array(lines))
    assert miner.params(pa.array(lines), out).to_pylist() == [
        ["1", "10.0.0.1", "50010"],
        ["22", "10.0.0.2", "1"],
    ]
    assert miner.params(pa.array(["x"]), pa.array([None], pa.int64())).to_pylist() == [[]]


def test_template_dataclass_fields() -> None:
    miner = TemplateMiner()
    ids(miner, ["first line", "second line 2"])
    t = miner.templates()[0]
    assert isinstance(t, Template)
    assert (t.id, t.text, t.count, t.parent_id, t.first_seen_order) == (1, "first line", 1, None, 0)
    assert miner.templates()[1].first_seen_order == 1
    with pytest.raises(KeyError):
        miner.template(999)
