"""The read-back answer classifier against 320 Hebrew answers written the way callers speak."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from bridge.intake.answers import Kind, classify_answer

DATA = Path(__file__).parent / "data"


def rows(name: str) -> list[dict[str, str]]:
    text = (DATA / name).read_text("utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))


ROWS = rows("read_back_answers_he.tsv") + rows("read_back_answers_heldout_he.tsv")


def accuracy_by_category() -> dict[str, tuple[int, int]]:
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in ROWS:
        got = classify_answer(row["text"])
        right = got.kind.value == row["label"] and (not row["value"] or row["value"] in got.value)
        table[row["category"]][0] += right
        table[row["category"]][1] += 1
    return {k: (v[0], v[1]) for k, v in sorted(table.items())}


def test_the_data_is_big_and_varied_enough():
    assert len(ROWS) >= 350
    assert {r["label"] for r in ROWS} == {"yes", "no", "correction", "unclear"}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['category']}:{r['text']}")
def test_each_answer(row):
    got = classify_answer(row["text"])
    assert got.kind == Kind(row["label"]), f"{row['text']!r} -> {got}"
    if row["value"]:
        assert row["value"] in got.value


def test_never_a_yes_for_what_is_not_one():
    wrong_yes = [
        r["text"] for r in ROWS if r["label"] != "yes" and classify_answer(r["text"]).kind is Kind.YES
    ]
    assert wrong_yes == []


def test_every_no_is_heard_as_a_no():
    missed = [
        r["text"]
        for r in ROWS
        if r["label"] in ("no", "correction") and not classify_answer(r["text"]).negative
    ]
    assert missed == []


if __name__ == "__main__":  # python tests/test_answers.py: the accuracy table for the README
    for category, (right, total) in accuracy_by_category().items():
        print(f"| {category} | {right}/{total} |")
