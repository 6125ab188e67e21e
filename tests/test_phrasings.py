"""Everyday questions, asked through Tandem's core as `tandem ask` asks them, on a fixed clock.

Each row of tests/data/phrasings-*.yaml says what the reply must and must not contain. The
Alex table is the one the understanding was built against; the Maya table is a different
person, zone, clock style and date order, to check that it generalises.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from bot.core import Assistant
from tests.phrasings import TABLES, Row, ask, assistant_for, load_table

ROWS = [row for path in TABLES for row in load_table(path)[1]]


@cache
def assistant(table: str, data_dir: Path) -> Assistant:
    return assistant_for(load_table(next(p for p in TABLES if p.stem == table))[0], data_dir)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("phrasings")


def test_the_tables_cover_every_family_in_more_than_one_wording() -> None:
    assert len(ROWS) >= 200
    for table in {row.table for row in ROWS}:
        families: dict[str, int] = {}
        for row in ROWS:
            if row.table == table:
                families[row.family] = families.get(row.family, 0) + 1
        assert all(count >= 1 for count in families.values())
    alex = [row for row in ROWS if row.table == "phrasings-alex"]
    counts = {
        family: sum(row.family == family for row in alex) for family in {r.family for r in alex}
    }
    assert min(counts.values()) >= 2, counts


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(row, marks=pytest.mark.xfail(reason=row.gap, strict=True)) if row.gap else row
        for row in ROWS
    ],
    ids=[f"{row.table[10:]}-{row.family}-{index}" for index, row in enumerate(ROWS)],
)
def test_the_reply_answers_the_question(row: Row, data_dir: Path) -> None:
    # A new chat for each row: no follow-up reads an earlier row's event.
    reply = ask(assistant(row.table, data_dir), row.question, 10_000 + ROWS.index(row))
    assert not row.problems(reply), f"{row.question!r} → {reply!r}: {row.problems(reply)}"
