"""Short conversations, asked turn by turn in one chat through Tandem's core on a fixed clock.

A follow-up that says only what changed ("and friday?", "where is it?", "the one after?") is
read against the chat's last question; a whole question is read as it stands. Each turn of
tests/data/conversations-*.yaml says what its reply must and must not contain.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core import Assistant
from bot.understanding.followups import LAPSE
from tests.phrasings import DATA, Row, ask, assistant_for, load_table

CONVERSATIONS = sorted(DATA.glob("conversations-*.yaml"))


def _conversations() -> list[tuple[str, str, int, list[Row]]]:
    found = []
    for path in CONVERSATIONS:
        table = yaml.safe_load(path.read_text())
        for family, conversations in table["families"].items():
            for number, turns in enumerate(conversations):
                rows = [_turn(path.stem, family, turn) for turn in turns]
                found.append((path.stem, family, number, rows))
    return found


def _turn(table: str, family: str, turn: list[Any]) -> Row:
    question, *checks = turn
    must = checks[0] if checks else []
    must_not = checks[1] if len(checks) > 1 else []
    return Row(table, family, question, _list(must), _list(must_not))


def _list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


ALL = _conversations()


def _assistant(table: str, data_dir: Path) -> Assistant:
    conversations = yaml.safe_load((DATA / f"{table}.yaml").read_text())
    return assistant_for(load_table(DATA / conversations["table"])[0], data_dir)


@pytest.fixture(scope="module")
def assistants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Assistant]:
    data_dir = tmp_path_factory.mktemp("conversations")
    return {path.stem: _assistant(path.stem, data_dir) for path in CONVERSATIONS}


def test_the_table_has_thirty_conversations_each_kind_in_several_wordings() -> None:
    assert len(ALL) >= 30
    families = {family for _, family, _, _ in ALL}
    for family in families:
        assert sum(found == family for _, found, _, _ in ALL) >= 2, family


@pytest.mark.parametrize(
    ("table", "family", "number", "turns"),
    ALL,
    ids=[f"{table[14:]}-{family}-{number}" for table, family, number, _ in ALL],
)
def test_each_turn_answers_what_was_asked(
    table: str, family: str, number: int, turns: list[Row], assistants: dict[str, Assistant]
) -> None:
    chat = 20_000 + ALL.index((table, family, number, turns))
    for turn in turns:
        reply = ask(assistants[table], turn.question, chat)
        said = f"{turn.question!r} → {reply!r}"
        assert not turn.problems(reply), f"{said}: {turn.problems(reply)}"


ALEX = DATA / "phrasings-alex.yaml"


def _alex(data_dir: Path) -> Assistant:
    return assistant_for(load_table(ALEX)[0], data_dir)


def test_another_chats_question_is_not_followed(tmp_path: Path) -> None:
    assistant = _alex(tmp_path)
    ask(assistant, "when's the dentist?", 1)
    # In chat 2 "where is it?" follows nothing: it is not about chat 1's dentist.
    assert "Smile Dental" not in ask(assistant, "where is it?", 2)
    assert "Smile Dental" in ask(assistant, "where is it?", 1)


def test_a_follow_up_after_a_restart_reads_the_question_before_it(tmp_path: Path) -> None:
    ask(_alex(tmp_path), "am I free at 3 tomorrow?", 7)
    ask(_alex(tmp_path), "when's my next tennis?", 8)
    # A new Assistant on the same data folder, as after a restart.
    restarted = _alex(tmp_path)
    free = ask(restarted, "what about 4?", 7)
    assert "16:00 on Thursday 26 November" in free and free.startswith("Yes")
    assert "Tuesday 8 December" in ask(restarted, "and the one after?", 8)


def test_a_group_members_follow_up_reads_their_own_question(tmp_path: Path) -> None:
    import asyncio

    from bot.messages import Incoming

    assistant = _alex(tmp_path)

    def said(user: int, text: str) -> str:
        message = Incoming(-100, user, text, group=True)
        return asyncio.run(assistant.handle(message)).text

    said(1, "when's the dentist?")
    said(2, "when's my haircut?")
    assert "Smile Dental" in said(1, "where is it?")
    assert "Ruby's Barbers" in said(2, "where is it?")


def test_a_chat_quiet_for_over_an_hour_has_moved_on(tmp_path: Path) -> None:
    elapsed = [timedelta(0)]
    assistant = assistant_for(load_table(ALEX)[0], tmp_path, lambda: elapsed[0])
    ask(assistant, "how many calls on monday?", 1)
    elapsed[0] = LAPSE + timedelta(minutes=1)
    # "sunday?" the next hour is a question of its own, not "how many calls on sunday?".
    sunday = ask(assistant, "sunday?", 1)
    assert "Afterparty at Fabric" in sunday and "calls" not in sunday
    elapsed[0] += timedelta(minutes=5)
    assert "Brunch with Leo" in ask(assistant, "and the weekend after?", 1)
