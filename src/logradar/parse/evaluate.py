"""Accuracy measures of the log parsing literature (loghub / logparser definitions).

*Grouping accuracy* (GA): a line is correct iff the set of lines in its predicted group equals
exactly the set of lines of its ground-truth group. *Parsing accuracy* (PA): a line is
correct iff its predicted template text equals the ground truth after normalization
(whitespace runs become one space, adjacent ``<*>`` become one).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence


def grouping_accuracy(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> float:
    """Share of lines whose predicted group is exactly their ground-truth group."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted must have the same length")
    if not truth:
        return 1.0
    truth_size = Counter(truth)
    members: dict[Hashable, list[Hashable]] = defaultdict(list)
    for t, p in zip(truth, predicted, strict=True):
        members[p].append(t)
    correct = 0
    for group in members.values():
        first = group[0]
        if all(t == first for t in group) and truth_size[first] == len(group):
            correct += len(group)
    return correct / len(truth)


def normalize_template(text: str) -> str:
    """Whitespace runs to one space, runs of ``<*>`` to one ``<*>``."""
    text = re.sub(r"\s+", " ", text.strip())
    return re.sub(r"(?:<\*>)+", "<*>", text)


def parsing_accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Share of lines whose normalized predicted template equals the ground truth."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted must have the same length")
    if not truth:
        return 1.0
    ok = sum(
        normalize_template(t) == normalize_template(p)
        for t, p in zip(truth, predicted, strict=True)
    )
    return ok / len(truth)
