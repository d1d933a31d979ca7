"""Streaming template mining: group lines of the same logging statement, vectorized.

How a batch is parsed:

1. :func:`~logradar.parse.masking.mask` replaces variables by ``<*>`` (one RE2 pass).
2. The masked forms are dictionary-encoded (Arrow); each *unique* masked form is looked up in
   a dict of known forms. The common path is therefore per unique form, never per line.
3. Unknown forms, in order of first appearance, go to the mining step (Drain-like). A form
   is split on whitespace, a run of equal masked words (a value list such as ``blk_<*>
   blk_<*>``) counting as one token and a bracketed value right after a value (``<*>
   (<*>)``, an optional size) being part of it, and bucketed by token count. Against each
   cluster of the bucket a form has *equal* tokens, *free* differences (a wildcard, or masked
   tokens with the same letters: that position is a variable) and *word* differences (two
   different words, or keys: ``user=<*>`` / ``uid=<*>``). A form joins the cluster with the
   most equal tokens (at least ``similarity`` of them) that it differs from only freely.
   Words are presumed constant unless they vary like parameters: a position where two
   value-shaped words differ (a quoted name, a path, a dotted or joined name) is a variable
   at once; one where plain words differ (states, methods, verbs, protocol names) only once
   ``distinct_words`` different words were seen there (and at most ``MAX_WORD_DIFFS`` such
   positions at a time); until then each variant keeps its own cluster. This keeps
   "Connection started" and "Connection paused" apart while user names still generalize.
   A variable keeps the key, brackets, quotes and trailing punctuation that its values share
   (``id=<*>``, ``[<*>]``, ``<*>.``). When a template generalizes, clusters of its bucket
   that now fit it are merged into it.
4. Line ids are taken from the final state of the batch, so one batch is always consistent.

Ids are stable: every template id is assigned once, from a counter that is part of the state,
and never reused. When a cluster's template *generalizes* (a token becomes ``<*>``), the
cluster gets a new id; the new :class:`Template` has ``parent_id`` = the old id and the old one
``replaced_by`` = the new id; a cluster merged into another gets ``replaced_by`` as well. So
stored counts can be followed across the change (:meth:`TemplateMiner.resolve`,
:meth:`TemplateMiner.resolve_ids`): ids handed out before a change differ from those after
it, so compare ids across batches only after resolving them. A template's
``count`` includes the lines of the templates it replaced (lines passed to ``parse``; ``match``
counts nothing).

Memory is bounded:

- at most ``max_templates`` active clusters; above it the least recently used 10 % are
  evicted (their lines start new clusters if they come back); superseded history records are
  capped at ``max_templates`` as well (oldest dropped first);
- at most ``max_cache`` known masked forms; above it the oldest inserted 10 % are dropped
  (a dropped form is simply mined again, which maps it back to its cluster).

Results are deterministic for a given input order and, since forms are mined in order of
first appearance, independent of how the input is cut into batches (barring evictions).
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logradar.parse.masking import WILDCARD, mask_forms

STATE_VERSION = 1

#: Defaults chosen by the protocol of benchmarks/parse_accuracy.py (on generated systems,
#: tied on the loghub dev systems). Share of equal tokens needed to join a cluster.
SIMILARITY = 0.6
#: A position where plain words differ becomes a variable only after this many distinct words.
DISTINCT_WORDS = 6
#: More differing plain words than this means another statement.
MAX_WORD_DIFFS = 2


@dataclass(slots=True)
class Template:
    """One template: ``text`` uses ``<*>`` for variables."""

    id: int
    text: str
    count: int
    parent_id: int | None
    """The id this template generalized from (None for a template that started a cluster)."""
    first_seen_order: int
    """0-based ordinal of the line (over everything parsed) that created this template."""
    replaced_by: int | None = None
    """The id that replaced this one when it generalized or was merged (None while active)."""


class _Cluster:
    __slots__ = ("evidence", "forward", "key", "last_used", "template_id", "tokens")

    def __init__(self, tokens: list[str], template_id: int, last_used: int) -> None:
        self.tokens = tokens
        self.key = _key(tokens)
        """The bucket, fixed at creation: a cluster never changes length or first word."""
        self.template_id = template_id
        self.last_used = last_used
        self.forward: int | None = None
        """Index of the cluster this one was merged into."""
        self.evidence: dict[int, dict[str, None]] = {}
        """Per constant word position, the distinct words seen there (insertion ordered)."""


def _as_array(messages: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(messages, pa.ChunkedArray):
        messages = messages.combine_chunks() if messages.num_chunks else pa.array([], pa.string())
    if not pa.types.is_string(messages.type):
        messages = messages.cast(pa.string())
    return messages


class TemplateMiner:
    """Streaming, vectorized template miner with stable ids; see the module docstring."""

    def __init__(
        self,
        max_templates: int = 50_000,
        max_cache: int = 200_000,
        *,
        similarity: float = SIMILARITY,
        distinct_words: int = DISTINCT_WORDS,
    ) -> None:
        if max_templates < 1 or max_cache < 1:
            raise ValueError("max_templates and max_cache must be >= 1")
        self.max_templates = max_templates
        self.max_cache = max_cache
        self.similarity = similarity
        self.distinct_words = distinct_words
        self._clusters: list[_Cluster | None] = []
        self._buckets: dict[tuple[int, str], list[int]] = {}
        self._cache: dict[str, int] = {}
        self._templates: dict[int, Template] = {}
        self._history: dict[int, Template] = {}
        self._next_id = 1
        self._lines = 0
        self._batches = 0
        self._active = 0

    # Public API ---------------------------------------------------------------------------
    def parse(self, messages: pa.Array | pa.ChunkedArray) -> pa.Int64Array:
        """Template id per line (never null); learns new templates."""
        forms, indices, firsts = self._encode(messages)
        counts = np.bincount(indices, minlength=len(forms))
        ids = self.parse_forms(forms, firsts, counts)
        return pa.array(ids, pa.int64()).take(pa.array(indices))

    def parse_forms(self, forms: list[str], firsts: Any, counts: Any) -> np.ndarray:
        """Template id per distinct masked form: what :meth:`parse` does for a batch whose
        distinct forms (first-appearance order) are ``forms``, first appearing at line
        ``firsts[j]`` and on ``counts[j]`` lines; for callers that deduplicated elsewhere."""
        self._batches += 1
        clusters = np.empty(len(forms), dtype=np.int64)
        cache = self._cache
        for j, form in enumerate(forms):
            ci = self._live(cache.get(form))
            if ci is None:
                ci = self._learn(form, self._lines + int(firsts[j]))
                cache[form] = ci
            clusters[j] = ci
        ids = np.empty(len(forms), dtype=np.int64)
        templates, batch = self._templates, self._batches
        for j, ci in enumerate(clusters.tolist()):
            cluster = self._clusters[self._live(ci)]  # a later form may have merged it
            cluster.last_used = batch
            ids[j] = cluster.template_id
            templates[cluster.template_id].count += int(counts[j])
        self._lines += int(np.sum(counts))
        self._bound()
        return ids

    def match(
        self, messages: pa.Array | pa.ChunkedArray, masked: pa.DictionaryArray | None = None
    ) -> pa.Int64Array:
        """Template id per line, null where the masked form is unknown; changes nothing.

        ``masked``: the messages' :func:`~logradar.parse.masking.mask_forms`, if already made.
        """
        forms, indices, _ = self._encode(messages if masked is None else masked)
        ids: list[int | None] = []
        for form in forms:
            ci = self._live(self._cache.get(form))
            ids.append(None if ci is None else self._clusters[ci].template_id)
        return pa.array(ids, pa.int64()).take(pa.array(indices))

    def template(self, template_id: int) -> str:
        """Template text (``<*>`` for variables) of a current or superseded id."""
        t = self._templates.get(template_id) or self._history.get(template_id)
        if t is None:
            raise KeyError(f"unknown template id {template_id}")
        return t.text

    def templates(self) -> list[Template]:
        """Active templates and the kept history of superseded ones, by id."""
        every = {**self._history, **self._templates}
        return [every[k] for k in sorted(every)]

    def resolve(self, template_id: int) -> int | None:
        """The active id that a (possibly superseded) id has become, None if it was evicted."""
        seen = 0
        while template_id not in self._templates:
            t = self._history.get(template_id)
            if t is None or t.replaced_by is None or seen > len(self._history):
                return None
            template_id, seen = t.replaced_by, seen + 1
        return template_id

    def resolve_ids(self, template_ids: pa.Array | pa.ChunkedArray) -> pa.Int64Array:
        """:meth:`resolve` for a whole array (per unique id): ids assigned before a template
        generalized or merged become the current ids, so they compare across batches."""
        ids = _as_array_int(template_ids).cast(pa.int64())
        unique = pc.unique(ids).drop_null()
        current = pa.array([self.resolve(i) for i in unique.to_pylist()], pa.int64())
        return current.take(pc.index_in(ids, value_set=unique))

    def params(
        self, messages: pa.Array | pa.ChunkedArray, template_ids: pa.Array | pa.ChunkedArray
    ) -> pa.ListArray:
        """The variable values of each line under its template (slow path: per line).

        A line whose tokens align with its template is read token by token; other lines
        (value lists, values with spaces) are matched against the whole template if they
        are at most :data:`PARAMS_REGEX_CHARS` long, else they get no values.
        """
        texts = _as_array(messages).to_pylist()
        tids = _as_array_int(template_ids).to_pylist()
        readers: dict[int, _ParamReader | None] = {}
        out: list[list[str]] = []
        for text, tid in zip(texts, tids, strict=True):
            if tid is None or text is None:
                out.append([])
                continue
            if tid not in readers:
                try:
                    readers[tid] = _ParamReader(self.template(tid))
                except KeyError:
                    readers[tid] = None
            reader = readers[tid]
            out.append(reader.read(text) if reader is not None else [])
        return pa.array(out, pa.list_(pa.string()))

    # Persistence --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON-ready snapshot of the whole state."""
        clusters = [
            {"id": c.template_id, "evidence": {str(p): list(v) for p, v in c.evidence.items()}}
            for c in self._clusters
            if c is not None and c.forward is None
        ]
        return {
            "version": STATE_VERSION,
            "max_templates": self.max_templates,
            "max_cache": self.max_cache,
            "similarity": self.similarity,
            "distinct_words": self.distinct_words,
            "next_id": self._next_id,
            "lines": self._lines,
            "batches": self._batches,
            "templates": [asdict(t) for t in self.templates()],
            "clusters": clusters,
            "cache": {
                form: self._clusters[live].template_id
                for form, ci in self._cache.items()
                if (live := self._live(ci)) is not None
            },
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> TemplateMiner:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported template state version {state.get('version')!r}")
        miner = cls(
            state["max_templates"],
            state["max_cache"],
            similarity=state.get("similarity", SIMILARITY),
            distinct_words=state.get("distinct_words", DISTINCT_WORDS),
        )
        miner._next_id = state["next_id"]
        miner._lines = state["lines"]
        miner._batches = state["batches"]
        every = {t["id"]: Template(**t) for t in state["templates"]}
        by_id: dict[int, int] = {}
        for c in state["clusters"]:
            t = every.pop(c["id"])
            ci = miner._add_cluster(t.text.split(" ") if t.text else [], t)
            miner._clusters[ci].evidence = {
                int(p): dict.fromkeys(v) for p, v in c["evidence"].items()
            }
            by_id[t.id] = ci
        miner._history = every
        for form, tid in state["cache"].items():
            if tid in by_id:
                miner._cache[form] = by_id[tid]
        return miner

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state as JSON atomically (temporary file, fsync, rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.state_dict(), f, ensure_ascii=False, separators=(",", ":"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TemplateMiner:
        with open(path, encoding="utf-8") as f:
            return cls.from_state_dict(json.load(f))

    # Internals ----------------------------------------------------------------------------
    def _encode(
        self, messages: pa.Array | pa.ChunkedArray | pa.DictionaryArray
    ) -> tuple[list[str], Any, Any]:
        """Unique masked forms (first-appearance order), per-line indices, first positions."""
        enc = messages if isinstance(messages, pa.DictionaryArray) else mask_forms(messages)
        indices = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        if len(indices):
            top = np.maximum.accumulate(indices)
            firsts = np.flatnonzero(np.concatenate(([True], top[1:] > top[:-1])))
        else:
            firsts = indices
        return enc.dictionary.to_pylist(), indices, firsts

    def _learn(self, form: str, order: int) -> int:
        tokens = _tokens(form)
        exact: tuple[int, int] | None = None  # (equal tokens, cluster)
        near: tuple[int, int, list[int]] | None = None
        need = self.similarity * sum(t != WILDCARD for t in tokens)
        key = _key(tokens)
        candidates = self._buckets.get(key, [])
        for ci in candidates:
            equal, words = _compare(self._clusters[ci].tokens, tokens)
            if equal < need or words is None:
                continue
            if not words:
                if exact is None or equal > exact[0]:
                    exact = (equal, ci)
            elif near is None or equal > near[0]:
                near = (equal, ci, words)
        if exact is not None:
            return self._absorb(exact[1], tokens, order)
        if near is not None and self._enough_evidence(near[1], tokens, near[2]):
            return self._absorb(near[1], tokens, order)
        t = Template(self._take_id(), " ".join(tokens), 0, None, order)
        return self._add_cluster(tokens, t)

    def _enough_evidence(self, ci: int, tokens: list[str], words: list[int]) -> bool:
        """Record the differing words; True once every such position shows enough values."""
        cluster = self._clusters[ci]
        enough = True
        for p in words:
            if _value_shaped(cluster.tokens[p]) and _value_shaped(tokens[p]):
                continue
            seen = cluster.evidence.setdefault(p, {cluster.tokens[p]: None})
            if len(seen) < self.distinct_words:
                seen[tokens[p]] = None
            enough = enough and len(seen) >= self.distinct_words
        return enough

    def _add_cluster(self, tokens: list[str], t: Template) -> int:
        ci = len(self._clusters)
        cluster = _Cluster(tokens, t.id, self._batches)
        self._clusters.append(cluster)
        self._buckets.setdefault(cluster.key, []).append(ci)
        self._templates[t.id] = t
        self._active += 1
        return ci

    def _absorb(self, ci: int, tokens: list[str], order: int) -> int:
        """Add a form to cluster ``ci``; generalize it (new id) if the form differs."""
        cluster = self._clusters[ci]
        merged = [_merge_token(a, b) for a, b in zip(cluster.tokens, tokens, strict=True)]
        if merged == cluster.tokens:
            return ci
        old = self._templates.pop(cluster.template_id)
        new = Template(self._take_id(), " ".join(merged), old.count, old.id, order)
        old.replaced_by = new.id
        self._history[old.id] = old
        self._templates[new.id] = new
        cluster.tokens, cluster.template_id = merged, new.id
        for p in [p for p, a in enumerate(merged) if WILDCARD in a]:
            cluster.evidence.pop(p, None)
        # Clusters that now fit the generalized template without word evidence join it.
        bucket = self._buckets[cluster.key]
        need = self.similarity * sum(t != WILDCARD for t in merged)
        for cj in list(bucket):
            other = self._clusters[cj]
            if cj == ci:
                continue
            equal, words = _compare(cluster.tokens, other.tokens)
            if words != [] or equal < need:
                continue
            gone = self._templates.pop(other.template_id)
            gone.replaced_by = new.id
            new.count += gone.count
            self._history[gone.id] = gone
            cluster.tokens = [
                _merge_token(a, b) for a, b in zip(cluster.tokens, other.tokens, strict=True)
            ]
            other.forward, other.tokens, other.evidence = ci, [], {}
            bucket.remove(cj)
            self._active -= 1
        new.text = " ".join(cluster.tokens)
        return ci

    def _live(self, ci: int | None) -> int | None:
        """Follow merges from cluster index ``ci``; None if unknown or evicted."""
        while ci is not None:
            cluster = self._clusters[ci]
            if cluster is None:
                return None
            if cluster.forward is None:
                return ci
            ci = cluster.forward
        return None

    def _take_id(self) -> int:
        tid = self._next_id
        self._next_id += 1
        return tid

    def _bound(self) -> None:
        if self._active > self.max_templates:
            live = [
                (c.last_used, ci)
                for ci, c in enumerate(self._clusters)
                if c is not None and c.forward is None
            ]
            live.sort()
            for _, ci in live[: self._active - self.max_templates + self.max_templates // 10]:
                cluster = self._clusters[ci]
                self._clusters[ci] = None
                self._buckets[cluster.key].remove(ci)
                self._templates.pop(cluster.template_id)
                self._active -= 1
        if len(self._history) > self.max_templates:
            for tid in sorted(self._history)[: len(self._history) - self.max_templates]:
                del self._history[tid]
        if len(self._cache) > self.max_cache:
            drop = len(self._cache) - self.max_cache + self.max_cache // 10
            for form in list(itertools.islice(self._cache, drop)):
                del self._cache[form]


def _tokens(form: str) -> list[str]:
    """Whitespace tokens; a run of equal masked words (``blk_<*> blk_<*> ...``, a list of
    values) counts as one token, so lists of any length share a template."""
    out: list[str] = []
    for token in form.split():
        if out and token == out[-1] and WILDCARD in token and _has_letters(token):
            continue
        if out and out[-1].endswith(WILDCARD) and _bracketed_value(token):
            continue  # "<*> (<*>)": an optional parenthesised value is part of the value
        out.append(token)
    return out


def _bracketed_value(token: str) -> bool:
    """A masked value in brackets and nothing else (``(<*>)``, ``[<*>]``)."""
    return WILDCARD in token and not token.replace(WILDCARD, "").strip("()[]{}")


#: Characters that mark a word as a value (a path, a quoted name, a dotted or joined name).
_VALUE_CHARS = frozenset("/\\.:_=@'\"#-<>")


def _value_shaped(token: str) -> bool:
    """Whether a plain word looks like a parameter value rather than a constant word."""
    core = token.strip(",;()[]{}").rstrip(".:")
    return any(c in _VALUE_CHARS for c in core)


def _merge_token(a: str, b: str) -> str:
    """``a`` if equal, else a variable that keeps a shared key and the brackets, quotes and
    trailing punctuation around it (``(<*>).`` and ``<*>.`` -> ``<*>.``; ``id=<*>`` and
    ``id=x`` -> ``id=<*>``; ``'a'`` and ``'b'`` -> ``'<*>'``; paths -> ``<*>``)."""
    if a == b:
        return a
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    prefix = a[:n]
    if "=" in prefix:
        prefix = prefix[: prefix.rindex("=") + 1]
    else:
        prefix = prefix[: len(prefix) - len(prefix.lstrip(_OPENING))]
    m = 0
    while m < min(len(a), len(b)) - len(prefix) and a[-1 - m] == b[-1 - m]:
        m += 1
    suffix = a[len(a) - m :] if m else ""
    suffix = suffix[len(suffix.rstrip(_CLOSING)) :]
    return prefix + WILDCARD + suffix


_OPENING = "([{'\""
_CLOSING = ")]}'\",.;:!?"


@functools.lru_cache(maxsize=65536)
def _letters(token: str) -> str:
    """The letters of a token outside its variables (``user=<*>`` -> ``user``)."""
    return "".join(c for c in token.replace(WILDCARD, " ") if c.isalpha())


def _has_letters(token: str) -> bool:
    return any(c.isalpha() for c in token.replace(WILDCARD, ""))


def _key(tokens: list[str]) -> tuple[int, str]:
    """Bucket of a form: its length (the first word may be a variable too)."""
    return len(tokens), WILDCARD


def _compare(template: list[str], tokens: list[str]) -> tuple[int, list[int] | None]:
    """(equal positions, positions where two different plain words meet).

    Where a wildcard is involved, or masked tokens share their letters (``blk_<*>``), the
    difference is free (it is a variable); other differences are words (``user=<*>`` and
    ``uid=<*>`` are different keys). The word list is None when more than
    :data:`MAX_WORD_DIFFS` words differ.
    """
    equal = 0
    words: list[int] = []
    for p, (a, b) in enumerate(zip(template, tokens, strict=True)):
        if a == b:
            equal += a != WILDCARD
        elif (
            a != WILDCARD
            and b != WILDCARD
            and ((WILDCARD not in a and WILDCARD not in b) or _letters(a) != _letters(b))
        ):
            words.append(p)
            if len(words) > MAX_WORD_DIFFS:
                return equal, None
    return equal, words


#: Longest line :meth:`TemplateMiner.params` matches with a whole-template regex.
PARAMS_REGEX_CHARS = 4096


class _ParamReader:
    """Reads the values of ``<*>`` in lines of one template."""

    def __init__(self, template: str) -> None:
        self.tokens = template.split(" ") if template else []
        self.slots = [
            (i, None if t == WILDCARD else _token_regex(t))
            for i, t in enumerate(self.tokens)
            if WILDCARD in t
        ]
        self.template = template
        self.whole: re.Pattern[str] | None = None

    def read(self, text: str) -> list[str]:
        raw = text.split()
        if len(raw) == len(self.tokens):
            values: list[str] = []
            for i, rx in self.slots:
                if rx is None:
                    values.append(raw[i])
                elif m := rx.fullmatch(raw[i]):
                    values.extend(m.groups())
                else:
                    break
            else:
                return values
        if len(text) > PARAMS_REGEX_CHARS:
            return []
        if self.whole is None:
            body = "(.*?)".join(re.escape(p) for p in self.template.split(WILDCARD))
            self.whole = re.compile(re.sub(r"(\\ )+", r"\\s+", body), re.DOTALL)
        m = self.whole.fullmatch(text.strip())
        return list(m.groups()) if m else []


def _token_regex(token: str) -> re.Pattern[str]:
    return re.compile("(.*?)".join(re.escape(p) for p in token.split(WILDCARD)), re.DOTALL)


def _as_array_int(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(ids, pa.ChunkedArray):
        return ids.combine_chunks() if ids.num_chunks else pa.array([], pa.int64())
    return ids
