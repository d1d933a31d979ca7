"""Grouping accuracy on loghub-2k with the one default configuration (a real measurement)."""

import json
from pathlib import Path

import pyarrow as pa
import pytest

from logradar.parse.evaluate import grouping_accuracy, parsing_accuracy
from logradar.parse.formats import LogFormat
from logradar.parse.templates import TemplateMiner

LOGHUB = Path(__file__).resolve().parents[3] / "shared/datasets/loghub-2k"
FORMATS = json.loads((LOGHUB / "formats.json").read_text())


@pytest.mark.parametrize("system", sorted(FORMATS))
def test_grouping_accuracy_per_system(system: str) -> None:
    import csv

    raw = (LOGHUB / system / f"{system}_2k.log").read_bytes().decode("utf-8", "replace")
    lines = raw.split("\n")[:2000]
    with open(LOGHUB / system / f"{system}_2k.log_structured.csv", encoding="utf-8") as f:
        truth = [r["EventId"] for r in csv.DictReader(f)]
    fmt = LogFormat.compile(FORMATS[system])
    miner = TemplateMiner()
    batches = [fmt.split(pa.array(lines[i : i + 300]))["message"] for i in range(0, 2000, 300)]
    for batch in batches:
        miner.parse(batch)
    predicted = [i for b in batches for i in miner.match(b).to_pylist()]
    assert grouping_accuracy(truth, predicted) >= 0.85


def test_measures_follow_the_loghub_definitions() -> None:
    truth = ["A", "A", "B", "B", "C"]
    assert grouping_accuracy(truth, [1, 1, 2, 2, 3]) == 1.0
    assert grouping_accuracy(truth, [1, 1, 2, 3, 4]) == pytest.approx(3 / 5)  # B split
    assert grouping_accuracy(truth, [1, 1, 1, 1, 3]) == pytest.approx(1 / 5)  # A+B merged
    assert parsing_accuracy(["a <*>  b", "c <*>"], ["a <*><*> b", "c d"]) == 0.5


def test_template_level_measures_follow_loghub_2() -> None:
    from logradar.parse.evaluate import f1_grouping_accuracy, f1_template_accuracy

    truth = ["A", "A", "B", "B", "C"]
    assert f1_grouping_accuracy(truth, [1, 1, 2, 2, 3]) == 1.0
    # B split in two: exact groups A and C; precision 2/4, recall 2/3
    assert f1_grouping_accuracy(truth, [1, 1, 2, 3, 4]) == pytest.approx(
        2 * (1 / 2 * 2 / 3) / (1 / 2 + 2 / 3)
    )
    texts = ["a <*>", "a <*>", "b", "b", "c <*>"]
    wrong_c = ["a <*>", "a <*>", "b", "b", "c d"]
    assert f1_template_accuracy(truth, [1, 1, 2, 2, 3], texts, texts) == 1.0
    assert f1_template_accuracy(truth, [1, 1, 2, 2, 3], texts, wrong_c) == pytest.approx(2 / 3)
