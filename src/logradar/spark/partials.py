"""Partial aggregates of mapped lines, made where the lines are (one Spark partition), and
their merge on the driver into exactly what :mod:`logradar.engine.aggregate` computes for the
whole batch.

Every partial row carries the global *order key* of the lines it stands for (``key``: the
line's offset, or a per-micro-batch order renumbered on the driver), so the driver can decide
what the local engine decides by line order: which lines are a group's first and last
examples (order: event time, then key), the order of a session's events and of groups, and the
order in which new masked shapes are learned (key order).

A partition sends, by ``kind``:

- ``W`` per (stream, window, template or shape): counts, error counts, event-time range, first
  and last line with their order keys;
- ``P`` per (stream, window, template or shape, position): numeric parameter statistics with
  the lines (and keys) of the extremes;
- ``S`` per session key: its events (template or shape, time, key) in order, first line;
- ``N`` per distinct masked shape the snapshot did not know: lines, first key, and the first
  line's rank among the unknown lines of its run;
- ``R`` per *run* (lines with consecutive keys of one ``part``): key range, lines, unknown
  lines and the last parsed event time (to carry missing times forward across partitions);
- ``L`` the rare lines whose event time depends on other partitions (with ``fill_forward``:
  lines before the first parsed time of their run); the driver fills their time and
  aggregates them itself.

Lines of unknown templates are grouped by masked shape (``template_id`` null, ``shape`` set);
the driver learns ids for the distinct shapes in key order and re-keys the rows by them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logradar.engine.aggregate import (
    PARAM_GROUP_COLUMNS,
    SESSION_GROUP_COLUMNS,
    WINDOW_GROUP_COLUMNS,
    window_starts,
)
from logradar.engine.numbers import numeric_tokens
from logradar.parse.masking import mask_forms

_I = pa.int64()
_S = pa.string()
_F = pa.float64()
#: One schema for every kind of partial row (columns a kind does not use are null).
PARTIAL_SCHEMA = pa.schema(
    [
        ("kind", _S),
        ("stream", _S),
        ("window", _I),
        ("template_id", _I),
        ("shape", _S),
        ("position", _I),
        ("count", _I),
        ("errors", _I),
        ("ts_min", _I),
        ("ts_max", _I),
        ("first_key", _I),
        ("first_line", _S),
        ("last_key", _I),
        ("last_line", _S),
        ("log_sum", _F),
        ("log2_sum", _F),
        ("value_max", _F),
        ("value_min", _F),
        ("max_ts", _I),
        ("max_key", _I),
        ("max_line", _S),
        ("min_ts", _I),
        ("min_key", _I),
        ("min_line", _S),
        ("session", _S),
        ("events_tid", pa.list_(_I)),
        ("events_shape", pa.list_(_S)),
        ("events_ts", pa.list_(_I)),
        ("events_key", pa.list_(_I)),
        ("part", _S),
        ("unknown", _I),
        ("rank", _I),
        ("last_valid_ts", _I),
        ("record_ts", _I),
        ("message", _S),
        ("is_error", pa.bool_()),
    ]
)
#: The same schema as Spark DDL, for ``mapInArrow``.
PARTIAL_DDL = ", ".join(
    f"`{f.name}` "
    + {
        "int64": "BIGINT",
        "string": "STRING",
        "double": "DOUBLE",
        "bool": "BOOLEAN",
        "list<item: int64>": "ARRAY<BIGINT>",
        "list<item: string>": "ARRAY<STRING>",
    }[str(f.type)]
    for f in PARTIAL_SCHEMA
)
#: Key columns the driver renumbers when keys are a per-batch order (lists: element-wise).
KEY_COLUMNS = ("first_key", "last_key", "max_key", "min_key")


def partial(kind: str, columns: dict[str, Any]) -> pa.RecordBatch:
    """Rows of ``kind`` in :data:`PARTIAL_SCHEMA` (missing columns null)."""
    n = len(next(iter(columns.values())))
    arrays = []
    for f in PARTIAL_SCHEMA:
        if f.name == "kind":
            arrays.append(pa.array([kind] * n, _S))
        elif f.name in columns:
            value = columns[f.name]
            if isinstance(value, pa.ChunkedArray):
                value = value.combine_chunks()
            arrays.append(pa.array(value, f.type) if not isinstance(value, pa.Array) else value)
        else:
            arrays.append(pa.nulls(n, f.type))
    typed = [
        a if a.type == f.type else a.cast(f.type)
        for a, f in zip(arrays, PARTIAL_SCHEMA, strict=True)
    ]
    return pa.RecordBatch.from_arrays(typed, schema=PARTIAL_SCHEMA)


# Executor side --------------------------------------------------------------------------------
def runs_of(keys: np.ndarray, parts: pa.Array | None) -> np.ndarray:
    """Run number per line of a key-sorted partition: a run continues while the key grows
    by one within the same part."""
    if len(keys) == 0:
        return np.empty(0, np.int64)
    start = np.ones(len(keys), dtype=bool)
    start[1:] = keys[1:] != keys[:-1] + 1
    if parts is not None:
        p = parts.to_numpy(zero_copy_only=False)
        start[1:] |= p[1:] != p[:-1]
    return np.cumsum(start) - 1


def partition_partials(
    mapped: pa.Table,
    window_ns: int,
    param_stride: int,
    fill_forward: bool,
    parts: pa.Array | None = None,
) -> list[pa.RecordBatch]:
    """Partial rows of one partition's mapped lines (sorted by ``key``, within ``parts``).

    ``mapped``: ``key``, ``stream``, ``ts`` (parsed, null when missing), ``record_ts``, ``raw``,
    ``message``, ``is_error``, ``template_id`` (null: unknown) and maybe ``session``.
    ``param_stride``: 0 without the parameter detector.
    """
    n = mapped.num_rows
    if n == 0:
        return []
    keys = mapped.column("key").to_numpy()
    run = runs_of(keys, parts)
    starts = np.flatnonzero(np.r_[True, run[1:] != run[:-1]])
    unknown = pc.is_null(mapped.column("template_id")).to_numpy(zero_copy_only=False)
    shape = pa.nulls(n, _S)
    out: list[pa.RecordBatch] = []
    if unknown.any():
        at = np.flatnonzero(unknown)
        forms = mask_forms(mapped.column("message").take(pa.array(at))).dictionary_decode()
        shape = pa.array(np.full(n, None, object), _S)
        shape = pc.replace_with_mask(shape, pa.array(unknown), forms)
        # rank among the unknown lines of the run, for the miner's first-seen order
        first_unknown = np.searchsorted(at, starts)
        rank = np.arange(len(at)) - first_unknown[run[at]]
        per_line = pa.table({"shape": forms, "key": pa.array(keys[at]), "rank": pa.array(rank)})
        shapes = per_line.group_by("shape", use_threads=False).aggregate(
            [("key", "first"), ("rank", "first"), ("key", "count")]
        )
        out.append(
            partial(
                "N",
                {
                    "shape": shapes.column("shape"),
                    "first_key": shapes.column("key_first"),
                    "rank": shapes.column("rank_first"),
                    "count": shapes.column("key_count"),
                },
            )
        )
    mapped = mapped.append_column("shape", shape)
    ts = mapped.column("ts").combine_chunks()
    valid = pc.is_valid(ts).to_numpy(zero_copy_only=False)
    ts_np = pc.fill_null(ts, 0).to_numpy()
    idx = np.where(valid, np.arange(n), -1)
    last_valid_at = np.maximum.accumulate(idx)
    ends = np.r_[starts[1:], n] - 1
    out.append(
        partial(
            "R",
            {
                "part": (
                    parts.take(pa.array(starts)) if parts is not None else pa.nulls(len(starts), _S)
                ),
                "first_key": keys[starts],
                "last_key": keys[ends],
                "count": ends - starts + 1,
                "unknown": np.add.reduceat(unknown.astype(np.int64), starts),
                "last_valid_ts": [
                    int(ts_np[last_valid_at[e]]) if last_valid_at[e] >= s else None
                    for s, e in zip(starts, ends, strict=True)
                ],
            },
        )
    )
    if fill_forward:
        resolved = last_valid_at >= starts[run]
        filled = pa.array(np.where(resolved, ts_np[np.maximum(last_valid_at, 0)], 0), _I)
        loose = ~resolved
        if loose.any():
            rows = mapped.filter(pa.array(loose))
            out.append(partial("L", _line_columns(rows)))
            mapped = mapped.filter(pa.array(resolved))
            filled = filled.filter(pa.array(resolved))
        mapped = mapped.set_column(mapped.schema.get_field_index("ts"), "ts", filled)
    else:
        mapped = mapped.set_column(
            mapped.schema.get_field_index("ts"), "ts", pc.coalesce(ts, mapped.column("record_ts"))
        )
    out.extend(group_partials(mapped, window_ns, param_stride))
    return out


def _line_columns(rows: pa.Table) -> dict[str, Any]:
    columns = {
        "first_key": rows.column("key"),
        "stream": rows.column("stream"),
        "record_ts": rows.column("record_ts"),
        "first_line": rows.column("raw"),
        "message": rows.column("message"),
        "is_error": rows.column("is_error"),
        "template_id": rows.column("template_id"),
        "shape": rows.column("shape"),
    }
    if "session" in rows.column_names:
        columns["session"] = rows.column("session")
    return columns


def lines_from_loose(loose: pa.Table, ts: pa.Array) -> pa.Table:
    """The ``L`` rows back as mapped lines with event time ``ts`` (for :func:`group_partials`)."""
    columns = {
        "key": loose.column("first_key"),
        "stream": loose.column("stream"),
        "ts": ts,
        "record_ts": loose.column("record_ts"),
        "raw": loose.column("first_line"),
        "message": loose.column("message"),
        "is_error": loose.column("is_error"),
        "template_id": loose.column("template_id"),
        "shape": loose.column("shape"),
        "session": loose.column("session"),
    }
    return pa.table(columns)


def group_partials(lines: pa.Table, window_ns: int, param_stride: int) -> list[pa.RecordBatch]:
    """``W``, ``P`` and ``S`` rows of lines whose event time ``ts`` is final."""
    if lines.num_rows == 0:
        return []
    lines = lines.sort_by([("ts", "ascending"), ("key", "ascending")])
    window = window_starts(lines.column("ts"), window_ns)
    out = [_window_partials(lines, window)]
    if param_stride:
        params = _param_partials(lines, window, param_stride)
        if params is not None:
            out.append(params)
    if "session" in lines.column_names:
        out.append(_session_partials(lines))
    return out


def _window_partials(lines: pa.Table, window: pa.ChunkedArray) -> pa.RecordBatch:
    keyed = pa.table(
        {
            "stream": lines.column("stream"),
            "window": window,
            "template_id": lines.column("template_id"),
            "shape": lines.column("shape"),
            "is_error": lines.column("is_error").cast(_I),
            "ts": lines.column("ts"),
            "row": pa.array(np.arange(lines.num_rows, dtype=np.int64)),
        }
    )
    g = keyed.group_by(["stream", "window", "template_id", "shape"], use_threads=False).aggregate(
        [("row", "count"), ("is_error", "sum"), ("row", "min"), ("row", "max")]
    )
    key, raw, ts = lines.column("key"), lines.column("raw"), lines.column("ts")
    first, last = g.column("row_min"), g.column("row_max")
    return partial(
        "W",
        {
            "stream": g.column("stream"),
            "window": g.column("window"),
            "template_id": g.column("template_id"),
            "shape": g.column("shape"),
            "count": g.column("row_count"),
            "errors": g.column("is_error_sum"),
            "ts_min": ts.take(first),
            "ts_max": ts.take(last),
            "first_key": key.take(first),
            "first_line": raw.take(first),
            "last_key": key.take(last),
            "last_line": raw.take(last),
        },
    )


def _param_partials(lines: pa.Table, window: pa.ChunkedArray, stride: int) -> pa.RecordBatch | None:
    rows = np.arange(lines.num_rows)
    if stride > 1:
        rows = rows[lines.column("key").to_numpy() % stride == 0]
    numbers = numeric_tokens(lines.column("message").take(pa.array(rows)))
    if len(numbers.value) == 0:
        return None
    row = rows[numbers.row]
    take = pa.array(row)
    value = numbers.value
    log_value = np.sign(value) * np.log1p(np.abs(value))
    keyed = pa.table(
        {
            "stream": lines.column("stream").take(take),
            "window": window.take(take),
            "template_id": lines.column("template_id").take(take),
            "shape": lines.column("shape").take(take),
            "position": numbers.position,
            "value": value,
            "log": log_value,
            "log2": log_value * log_value,
            "row": row,
        }
    ).sort_by([("value", "descending")])
    g = keyed.group_by(
        ["stream", "window", "template_id", "shape", "position"], use_threads=False
    ).aggregate(
        [
            ("log", "count"),
            ("log", "sum"),
            ("log2", "sum"),
            ("value", "max"),
            ("value", "min"),
            ("row", "first"),
            ("row", "last"),
        ]
    )
    key, raw, ts = lines.column("key"), lines.column("raw"), lines.column("ts")
    hi, lo = g.column("row_first"), g.column("row_last")
    return partial(
        "P",
        {
            "stream": g.column("stream"),
            "window": g.column("window"),
            "template_id": g.column("template_id"),
            "shape": g.column("shape"),
            "position": g.column("position"),
            "count": g.column("log_count"),
            "log_sum": g.column("log_sum"),
            "log2_sum": g.column("log2_sum"),
            "value_max": g.column("value_max"),
            "value_min": g.column("value_min"),
            "max_ts": ts.take(hi),
            "max_key": key.take(hi),
            "max_line": raw.take(hi),
            "min_ts": ts.take(lo),
            "min_key": key.take(lo),
            "min_line": raw.take(lo),
        },
    )


def _session_partials(lines: pa.Table) -> pa.RecordBatch:
    with_key = lines.filter(pc.is_valid(lines.column("session")))
    g = with_key.group_by(["session"], use_threads=False).aggregate(
        [
            ("template_id", "list"),
            ("shape", "list"),
            ("ts", "list"),
            ("key", "list"),
            ("ts", "min"),
            ("key", "first"),
            ("stream", "first"),
            ("raw", "first"),
        ]
    )
    return partial(
        "S",
        {
            "session": g.column("session"),
            "events_tid": g.column("template_id_list"),
            "events_shape": g.column("shape_list"),
            "events_ts": g.column("ts_list"),
            "events_key": g.column("key_list"),
            "ts_min": g.column("ts_min"),
            "first_key": g.column("key_first"),
            "stream": g.column("stream_first"),
            "first_line": g.column("raw_first"),
        },
    )


# Driver side ----------------------------------------------------------------------------------
@dataclass(slots=True)
class Runs:
    """The batch's runs in global order, with their keys renumbered when needed."""

    first_key: np.ndarray
    count: np.ndarray
    unknown: np.ndarray
    last_valid_ts: list[int | None]

    def index(self, keys: np.ndarray) -> np.ndarray:
        """The run holding each key."""
        return np.searchsorted(self.first_key, keys, side="right") - 1


def order_runs(partials: pa.Table, first: int | None) -> tuple[pa.Table, Runs]:
    """Runs in (part, key) order; with ``first`` (keys are a per-batch order, not offsets),
    every key renumbered densely from ``first`` in that order. Returns the partials (keys
    renumbered) and the runs."""
    runs = partials.filter(pc.equal(partials.column("kind"), "R")).sort_by(
        [("part", "ascending"), ("first_key", "ascending")]
    )
    old_first = runs.column("first_key").to_numpy()
    count = runs.column("count").to_numpy()
    if first is not None and len(runs):
        new_first = first + np.concatenate(([0], np.cumsum(count)[:-1]))
        by_key = np.argsort(old_first)
        sorted_first, sorted_new = old_first[by_key], new_first[by_key]

        def renumber(keys: pa.Array) -> pa.Array:
            k = keys.to_numpy(zero_copy_only=False)
            valid = pc.is_valid(keys).to_numpy(zero_copy_only=False)
            safe = np.where(valid, k, sorted_first[0]).astype(np.int64)
            at = np.searchsorted(sorted_first, safe, side="right") - 1
            return pa.array(sorted_new[at] + (safe - sorted_first[at]), _I, mask=~valid)

        columns = {}
        for name in KEY_COLUMNS:
            columns[name] = renumber(partials.column(name).combine_chunks())
        events = partials.column("events_key").combine_chunks()
        flat = renumber(pc.list_flatten(events))
        columns["events_key"] = pa.ListArray.from_arrays(
            events.offsets, flat, mask=events.is_null()
        )
        for name, array in columns.items():
            partials = set_column(partials, name, array)
        old_first = new_first
    return partials, Runs(
        first_key=old_first,
        count=count,
        unknown=runs.column("unknown").to_numpy(),
        last_valid_ts=runs.column("last_valid_ts").to_pylist(),
    )


def new_shapes(partials: pa.Table, runs: Runs) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Distinct unknown shapes in order of first appearance, the rank of that first line
    among the batch's unknown lines, and their line counts (what the miner learns from)."""
    rows = partials.filter(pc.equal(partials.column("kind"), "N"))
    if rows.num_rows == 0:
        return [], np.empty(0, np.int64), np.empty(0, np.int64)
    before = np.concatenate(([0], np.cumsum(runs.unknown)[:-1]))
    keys = rows.column("first_key").to_numpy()
    rank = before[runs.index(keys)] + rows.column("rank").to_numpy()
    t = pa.table({"shape": rows.column("shape"), "rank": rank, "count": rows.column("count")})
    t = t.sort_by([("rank", "ascending")])
    g = t.group_by("shape", use_threads=False).aggregate([("rank", "first"), ("count", "sum")])
    return (
        g.column("shape").to_pylist(),
        g.column("rank_first").to_numpy(),
        g.column("count_sum").to_numpy(),
    )


def fill_loose(
    partials: pa.Table, runs: Runs, fill: Callable[[pa.Array], pa.Array]
) -> pa.Table | None:
    """The ``L`` lines with their event time carried forward across runs in order: ``fill``
    is the core's :meth:`~logradar.engine.core.DetectionCore.fill_time_forward_from_last`
    (it carries the last time over to the next batch too)."""
    loose = partials.filter(pc.equal(partials.column("kind"), "L")).sort_by("first_key")
    at_run = runs.index(loose.column("first_key").to_numpy())
    per_run = np.bincount(at_run, minlength=len(runs.count)) if len(at_run) else None
    sequence: list[int | None] = []
    picks: list[int] = []
    for r, last in enumerate(runs.last_valid_ts):
        for _ in range(int(per_run[r]) if per_run is not None else 0):
            picks.append(len(sequence))
            sequence.append(None)
        sequence.append(last)
    filled = fill(pa.array(sequence, _I))
    if loose.num_rows == 0:
        return None
    ts = pc.coalesce(filled.take(pa.array(picks, _I)), loose.column("record_ts"))
    return lines_from_loose(loose, ts)


def shape_ids(partials: pa.Table, forms: list[str], ids: np.ndarray) -> pa.Table:
    """``template_id`` filled from ``shape`` (learned ``ids`` of ``forms``), in every row and
    in the session events."""
    if not forms:
        return partials
    form_array = pa.array(forms, _S)
    id_array = pa.array(ids, _I)

    def fill(tid: pa.Array, shape: pa.Array) -> pa.Array:
        learned = id_array.take(pc.index_in(shape, value_set=form_array))
        return pc.coalesce(tid, learned)

    tid = fill(
        partials.column("template_id").combine_chunks(), partials.column("shape").combine_chunks()
    )
    events = partials.column("events_tid").combine_chunks()
    shapes = partials.column("events_shape").combine_chunks()
    flat = fill(pc.list_flatten(events), pc.list_flatten(shapes))
    partials = set_column(partials, "template_id", tid)
    return set_column(partials, "events_tid", relist(events, flat))


def relist(lists: pa.ListArray, values: pa.Array) -> pa.ListArray:
    """``lists`` with its flattened values replaced by ``values``."""
    return pa.ListArray.from_arrays(lists.offsets, values, mask=lists.is_null())


def set_column(table: pa.Table, name: str, array: pa.Array) -> pa.Table:
    """``table`` with column ``name`` replaced by ``array``."""
    return table.set_column(table.schema.get_field_index(name), name, array)


def merge_windows(partials: pa.Table) -> pa.Table:
    """:func:`~logradar.engine.aggregate.window_groups` of the batch, from ``W`` rows."""
    rows = partials.filter(pc.equal(partials.column("kind"), "W"))
    names = (
        "stream", "window", "template_id", "count", "errors", "ts_min", "ts_max",
        "first_key", "first_line", "last_key", "last_line",
    )  # fmt: skip
    groups: dict[tuple, list] = {}
    for s, w, t, n, e, t0, t1, k0, l0, k1, l1 in zip(
        *(rows.column(c).to_pylist() for c in names), strict=True
    ):
        g = groups.get((s, w, t))
        if g is None:
            groups[(s, w, t)] = [n, e, t0, k0, l0, t1, k1, l1]
            continue
        g[0] += n
        g[1] += e
        if (t0, k0) < (g[2], g[3]):
            g[2], g[3], g[4] = t0, k0, l0
        if (t1, k1) > (g[5], g[6]):
            g[5], g[6], g[7] = t1, k1, l1
    ordered = sorted(groups.items(), key=lambda item: (item[1][2], item[1][3]))
    return pa.table(
        {
            "stream": pa.array([k[0] for k, _ in ordered], _S),
            "window": pa.array([k[1] for k, _ in ordered], _I),
            "template_id": pa.array([k[2] for k, _ in ordered], _I),
            "count": pa.array([g[0] for _, g in ordered], _I),
            "errors": pa.array([g[1] for _, g in ordered], _I),
            "ts_min": pa.array([g[2] for _, g in ordered], _I),
            "ts_max": pa.array([g[5] for _, g in ordered], _I),
            "first_line": pa.array([g[4] for _, g in ordered], _S),
            "last_line": pa.array([None if g[0] == 1 else g[7] for _, g in ordered], _S),
        }
    ).select(list(WINDOW_GROUP_COLUMNS))


def merge_params(partials: pa.Table) -> pa.Table:
    """:func:`~logradar.engine.aggregate.param_groups` of the batch, from ``P`` rows, in its
    group order (largest value first, ties by line order, then position)."""
    rows = partials.filter(pc.equal(partials.column("kind"), "P"))
    names = (
        "stream", "window", "template_id", "position", "count", "log_sum", "log2_sum",
        "value_max", "max_ts", "max_key", "max_line", "value_min", "min_ts", "min_key",
        "min_line",
    )  # fmt: skip
    groups: dict[tuple, list] = {}
    for s, w, t, p, n, ls, l2, vx, tx, kx, lx, vn, tn, kn, ln in zip(
        *(rows.column(c).to_pylist() for c in names), strict=True
    ):
        g = groups.get((s, w, t, p))
        if g is None:
            groups[(s, w, t, p)] = [n, ls, l2, vx, tx, kx, lx, vn, tn, kn, ln]
            continue
        g[0] += n
        g[1] += ls
        g[2] += l2
        if (-vx, tx, kx) < (-g[3], g[4], g[5]):
            g[3], g[4], g[5], g[6] = vx, tx, kx, lx
        if (vn, -tn, -kn) < (g[7], -g[8], -g[9]):
            g[7], g[8], g[9], g[10] = vn, tn, kn, ln
    ordered = sorted(groups.items(), key=lambda it: (-it[1][3], it[1][4], it[1][5], it[0][3]))
    col = lambda i: [g[i] for _, g in ordered]  # noqa: E731
    return pa.table(
        {
            "stream": pa.array([k[0] for k, _ in ordered], _S),
            "window": pa.array([k[1] for k, _ in ordered], _I),
            "template_id": pa.array([k[2] for k, _ in ordered], _I),
            "position": pa.array([k[3] for k, _ in ordered], _I),
            "count": pa.array(col(0), _I),
            "log_sum": pa.array(col(1), _F),
            "log2_sum": pa.array(col(2), _F),
            "value_max": pa.array(col(3), _F),
            "value_min": pa.array(col(7), _F),
            "max_line": pa.array(col(6), _S),
            "min_line": pa.array(col(10), _S),
        }
    ).select(list(PARAM_GROUP_COLUMNS))


def merge_sessions(partials: pa.Table) -> pa.Table:
    """:func:`~logradar.engine.aggregate.session_groups` of the batch, from ``S`` rows: each
    session's events from every partition in (time, key) order."""
    rows = partials.filter(pc.equal(partials.column("kind"), "S"))
    events_tid = rows.column("events_tid").combine_chunks()
    parent = pc.list_parent_indices(events_tid)
    events = pa.table(
        {
            "session": rows.column("session").take(parent),
            "tid": pc.list_flatten(events_tid),
            "ts": pc.list_flatten(rows.column("events_ts")),
            "key": pc.list_flatten(rows.column("events_key")),
        }
    ).sort_by([("ts", "ascending"), ("key", "ascending")])
    g = events.group_by("session", use_threads=False).aggregate(
        [("tid", "list"), ("ts", "min"), ("ts", "max")]
    )
    firsts = (
        rows.select(["session", "ts_min", "first_key", "stream", "first_line"])
        .sort_by([("ts_min", "ascending"), ("first_key", "ascending")])
        .group_by("session", use_threads=False)
        .aggregate([("stream", "first"), ("first_line", "first")])
    )
    # matched by session key: group_by's output order is not guaranteed to agree between them
    at = pc.index_in(g.column("session"), value_set=firsts.column("session"))
    return pa.table(
        {
            "session": g.column("session"),
            "events": g.column("tid_list"),
            "ts_min": g.column("ts_min"),
            "ts_max": g.column("ts_max"),
            "stream": firsts.column("stream_first").take(at),
            "example": firsts.column("first_line_first").take(at),
        }
    ).select(list(SESSION_GROUP_COLUMNS))
