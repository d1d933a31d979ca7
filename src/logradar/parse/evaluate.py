"""Accuracy measures of the log parsing literature (loghub / logparser definitions).

*Grouping accuracy* (GA): a line is correct iff the set of lines in its predicted group equals
exactly the set of lines of its ground-truth group. *Parsing accuracy* (PA): a line is
correct iff its predicted template text equals the ground truth after normalization
(whitespace runs become one space, adjacent ``<*>`` become one). The template-level measures of
Loghub-2.0 (Jiang et al., 2024): *F1 of grouping accuracy* (FGA) is the F1 of the share of
predicted groups that are exactly a ground-truth group (precision) and the share of
ground-truth groups found exactly (recall); *F1 of template accuracy* (FTA) counts a template
as correct only when its group is exact *and* its text equals the ground truth.
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


def _exact_groups(
    truth: Sequence[Hashable], predicted: Sequence[Hashable]
) -> tuple[list[tuple[Hashable, Hashable, int]], int, int]:
    """(predicted group, truth group, first line) of each exact group; #predicted; #truth."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted must have the same length")
    truth_size = Counter(truth)
    members: dict[Hashable, list[int]] = defaultdict(list)
    for i, p in enumerate(predicted):
        members[p].append(i)
    exact = []
    for p, lines in members.items():
        first = truth[lines[0]]
        if truth_size[first] == len(lines) and all(truth[i] == first for i in lines):
            exact.append((p, first, lines[0]))
    return exact, len(members), len(truth_size)


def _f1(correct: int, n_predicted: int, n_truth: int) -> float:
    if not n_predicted or not n_truth or not correct:
        return 1.0 if n_predicted == n_truth == 0 else 0.0
    precision, recall = correct / n_predicted, correct / n_truth
    return 2 * precision * recall / (precision + recall)


def f1_grouping_accuracy(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> float:
    """FGA: F1 of exactly grouped templates (precision over predicted, recall over truth)."""
    exact, n_pred, n_truth = _exact_groups(truth, predicted)
    return _f1(len(exact), n_pred, n_truth)


def f1_template_accuracy(
    truth: Sequence[Hashable],
    predicted: Sequence[Hashable],
    truth_templates: Sequence[str],
    predicted_templates: Sequence[str],
) -> float:
    """FTA: like FGA, but a group counts only if its template text is also exactly right."""
    exact, n_pred, n_truth = _exact_groups(truth, predicted)
    correct = sum(
        normalize_template(truth_templates[i]) == normalize_template(predicted_templates[i])
        for _, _, i in exact
    )
    return _f1(correct, n_pred, n_truth)
