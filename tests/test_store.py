"""The store every worker shares, on both of its databases: the data folder's SQLite file and
PostgreSQL (TANDEM_TEST_POSTGRES_URL; skipped, saying why, where no server answers).

Two `open_stores` on one database stand for two workers: what one writes, the other reads, and
the limits they enforce are one limit, not one each.
"""

from __future__ import annotations

import contextlib
import sqlite3
import stat
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import MetaData, Table, select, update
from sqlalchemy.schema import DropTable

from bot.config import LimitSettings, Settings, TelegramSettings
from bot.engine.usage import Usage
from bot.messages import Reply, TraceStep
from bot.store import Stores, data_file, open_stores
from bot.store.db import SCHEMA_VERSION, VERSION, NewerDatabase, open_database
from bot.store.memory import RunRecord, Turn
from bot.understanding import Question, TimeWindow
from bot.understanding.followups import Asked
from integrations.calendar import Event

T = TypeVar("T")

OWNER, STRANGER = 111, 999
NOON = datetime(2026, 11, 3, 12, tzinfo=UTC)
SETTINGS = Settings(
    telegram=TelegramSettings(allowed_user_ids=[OWNER]),
    limits=LimitSettings(messages_per_minute=4),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> str | None:
    """None for the data folder's SQLite file, else a fresh PostgreSQL database's URL."""
    return request.getfixturevalue("postgres") if request.param == "postgresql" else None


def worker(tmp_path: Path, database: str | None) -> Stores:
    return open_stores(tmp_path, SETTINGS, database)


def at_once(actions: Iterable[Callable[[], T]]) -> list[T]:
    """Each action in a thread of its own, all started together; their results."""
    actions = list(actions)
    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        return list(pool.map(lambda action: action(), actions))


def test_a_conversation_continues_on_another_worker(tmp_path, database):
    first, second = worker(tmp_path, database), worker(tmp_path, database)
    first.memory.remember(OWNER, Turn("user", "what's on tomorrow?"), Turn("assistant", "Tennis"))
    first.memory.remember("-100:222", Turn("user", "and in the group?"))
    match = Event(
        title="Tennis",
        start=datetime(2026, 11, 4, 18, tzinfo=UTC),
        end=datetime(2026, 11, 4, 19, tzinfo=UTC),
    )
    first.memory.remember_focus(OWNER, match)
    first.memory.set_setting(OWNER, "voice", "on")
    first.memory.set_setting(OWNER, "voice", "off")  # a choice changed is replaced
    trace = (TraceStep("tool", "calendar", {"day": "tomorrow"}, 0.1),)
    first.memory.record_run(OWNER, RunRecord("agent", "q", "a", trace, Usage(1, 10, 5), 1.5))

    assert second.memory.recent(OWNER) == [
        Turn("user", "what's on tomorrow?"),
        Turn("assistant", "Tennis"),
    ]
    assert second.memory.recent("-100:222") == [Turn("user", "and in the group?")]
    assert second.memory.focus(OWNER) == match
    assert second.memory.setting(OWNER, "voice") == "off"
    last = second.memory.last_run(OWNER)
    assert last is not None and last.steps == trace and last.usage == Usage(1, 10, 5)


def test_only_the_last_turns_are_kept(tmp_path, database):
    stores = worker(tmp_path, database)
    kept = SETTINGS.memory.turns_kept
    for n in range(kept + 5):
        stores.memory.remember(OWNER, Turn("user", f"message {n}"))
    recent = stores.memory.recent(OWNER)
    assert [turn.text for turn in recent] == [f"message {n}" for n in range(5, kept + 5)]


def test_someone_paired_through_one_worker_is_known_to_the_others(tmp_path, database):
    first, second = worker(tmp_path, database), worker(tmp_path, database)
    code = first.access.new_code()
    assert not second.access.allows(STRANGER)
    assert second.access.pair(STRANGER, code).paired
    assert first.access.allows(STRANGER) and first.access.paired_only(STRANGER)


def test_a_code_tried_by_many_at_once_on_two_workers_works_once(tmp_path, database):
    workers = [worker(tmp_path, database) for _ in range(2)]
    code = workers[0].access.new_code()
    results = at_once(
        lambda n=n: workers[n % 2].access.pair(STRANGER + n + 1, code).paired for n in range(6)
    )
    assert sorted(results) == [False] * 5 + [True]


def test_the_message_rate_is_one_rate_across_workers(tmp_path, database):
    workers = [worker(tmp_path, database) for _ in range(2)]
    answers = [workers[n % 2].allowances.refusal(OWNER, NOON) for n in range(5)]
    assert answers[:4] == [None] * 4
    assert answers[4] is not None and answers[4].startswith("That's more than 4 messages")


def test_usage_adds_up_across_workers(tmp_path, database):
    first, second = worker(tmp_path, database), worker(tmp_path, database)
    first.allowances.add(OWNER, NOON, Usage(1, 100, 20))
    second.allowances.add(OWNER, NOON, Usage(2, 300, 40))
    today = first.allowances.today(OWNER, NOON)
    assert (today.messages, today.model_calls, today.tokens) == (2, 3, 460)


def remember_an_answer(stores: Stores, run: str | None, answer: str = "Tennis at 6") -> None:
    """What the core keeps of an answered message, as a durable run `run` keeps it."""
    turns = (Turn("user", "what's on tomorrow?"), Turn("assistant", answer))
    reply = Reply(answer, usage=Usage(1, 100, 20))
    record = RunRecord("workflow", "what's on tomorrow?", answer, (), Usage(1, 100, 20), 0.1)
    stores.remember(run, OWNER, OWNER, NOON, turns, reply, record)


def test_a_run_remembered_again_changes_nothing_on_any_worker(tmp_path, database):
    workers = [worker(tmp_path, database) for _ in range(3)]
    remember_an_answer(workers[0], "run-1")
    # Resumed after a crash, on this worker or (its work taken over) on others, all at once.
    at_once(lambda w=stores: remember_an_answer(w, "run-1") for stores in workers)
    remember_an_answer(workers[1], "run-2", "Tennis at 7")

    turns = workers[2].memory.recent(OWNER)
    assert [turn.text for turn in turns][1::2] == ["Tennis at 6", "Tennis at 7"]
    today = workers[2].allowances.today(OWNER, NOON)
    assert (today.messages, today.model_calls, today.tokens) == (2, 2, 240)


def test_an_answer_is_remembered_whole_or_not_at_all(tmp_path, database, monkeypatch):
    stores = worker(tmp_path, database)

    def full_disk(*_: object) -> None:
        raise OSError("No space left on device")

    # The usage is counted last: failing there, the run's turns and its id go too, so that the
    # run, done again, remembers everything once.
    monkeypatch.setattr(stores.allowances, "add", full_disk)
    with pytest.raises(OSError):
        remember_an_answer(stores, "run-1")
    assert stores.memory.recent(OWNER) == [] and stores.memory.last_run(OWNER) is None
    monkeypatch.undo()
    remember_an_answer(stores, "run-1")
    assert len(stores.memory.recent(OWNER)) == 2
    assert stores.allowances.today(OWNER, NOON).messages == 1


def test_a_stranger_is_told_once_whichever_worker_they_reach(tmp_path, database):
    workers = [worker(tmp_path, database) for _ in range(3)]
    told = [stores.access.should_tell(STRANGER) for stores in workers]
    assert told == [True, False, False]


def test_a_slot_is_claimed_once_by_workers_racing_for_it(tmp_path, database):
    workers = [worker(tmp_path, database) for _ in range(4)]
    slot = datetime(2026, 11, 3, 7, 30, tzinfo=UTC)
    wins = at_once(lambda s=stores: s.slots.claim("briefing", slot) for stores in workers)
    assert sorted(wins) == [False, False, False, True]
    assert workers[0].slots.last_claimed("briefing") == slot


def test_a_database_from_a_newer_tandem_is_refused_clearly(tmp_path, database):
    opened = open_database(database or data_file(tmp_path))
    with opened.transaction() as db:
        db.execute(update(VERSION).values(version=VERSION.c.version + 1))
    with pytest.raises(NewerDatabase, match="upgrade Tandem"):
        open_database(database or data_file(tmp_path))


def test_the_sqlite_file_is_its_owners_alone(tmp_path):
    worker(tmp_path, None).memory.remember(OWNER, Turn("user", "private"))
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o700


def test_a_data_folder_from_before_the_shared_store_keeps_its_history(tmp_path):
    # The tables as Tandem created them before SQLAlchemy: chat ids in INTEGER columns.
    with contextlib.closing(sqlite3.connect(data_file(tmp_path))) as old, old:
        old.executescript(
            "CREATE TABLE turns (id INTEGER PRIMARY KEY AUTOINCREMENT, chat_id INTEGER NOT NULL,"
            " role TEXT NOT NULL, text TEXT NOT NULL, created REAL NOT NULL);"
            "CREATE TABLE chat_settings (chat_id INTEGER NOT NULL, name TEXT NOT NULL,"
            " value TEXT NOT NULL, PRIMARY KEY (chat_id, name));"
            "INSERT INTO turns (chat_id, role, text, created) VALUES (111, 'user', 'hello', 0);"
            "INSERT INTO chat_settings VALUES (111, 'voice', 'always');"
        )
    stores = worker(tmp_path, None)
    stores.memory.remember(OWNER, Turn("assistant", "hi again"))
    assert stores.memory.recent(OWNER) == [Turn("user", "hello"), Turn("assistant", "hi again")]
    assert stores.memory.setting(OWNER, "voice") == "always"
    assert stores.allowances.refusal(OWNER, NOON) is None  # the tables added since are there


def test_a_chats_last_question_is_read_back_on_another_worker(tmp_path, database):
    first, second = worker(tmp_path, database), worker(tmp_path, database)
    zone = ZoneInfo("Europe/London")
    window = TimeWindow(
        datetime(2026, 11, 26, 15, tzinfo=zone),
        datetime(2026, 11, 26, 16, tzinfo=zone),
        "tomorrow at 15:00",
    )
    question = Question(
        "am I free at 3 tomorrow?", window, "", False, None, "calendar", "free", window.start
    )
    tennis = Event(title="Tennis", start=window.start, end=window.end, location="Regent's Park")
    asked = Asked(question, tennis, "calendar", datetime(2026, 11, 25, 10, tzinfo=zone))
    first.memory.remember_asked(OWNER, asked)
    first.memory.remember_asked("-100:222", Asked(question))
    assert second.memory.asked(OWNER) == asked
    assert second.memory.asked("-100:222") == Asked(question)
    assert second.memory.asked(STRANGER) is None
    later = replace(question, text="and friday?", window=None, moment=None, asks="list")
    second.memory.remember_asked(OWNER, Asked(later))  # the last question replaces the one before
    assert first.memory.asked(OWNER) == Asked(later)


def test_a_database_from_before_follow_ups_gains_the_last_question(tmp_path, database):
    opened = open_database(database or data_file(tmp_path))
    with opened.transaction() as db:  # as Tandem left it before follow-ups: schema 1
        db.execute(DropTable(Table("asked", MetaData())))
        db.execute(update(VERSION).values(version=1))
    opened.close()
    stores = worker(tmp_path, database)
    with stores.memory.database.transaction() as db:
        assert db.execute(select(VERSION.c.version)).scalar() == SCHEMA_VERSION
    stores.memory.remember(OWNER, Turn("user", "what's on tomorrow?"))
    question = Question("what's on tomorrow?", None, "", True, None)
    stores.memory.remember_asked(OWNER, Asked(question))
    assert stores.memory.asked(OWNER) == Asked(question)


def test_a_database_from_before_runs_were_remembered_once_keeps_its_chats(tmp_path, database):
    first = worker(tmp_path, database)
    remember_an_answer(first, None)
    with first.memory.database.transaction() as db:  # as Tandem left it before: schema 2
        db.execute(DropTable(Table("remembered", MetaData())))
        db.execute(update(VERSION).values(version=2))
    first.memory.close()

    stores = worker(tmp_path, database)
    with stores.memory.database.transaction() as db:
        assert db.execute(select(VERSION.c.version)).scalar() == SCHEMA_VERSION == 3
    remember_an_answer(stores, "run-1", "Tennis at 7")
    remember_an_answer(stores, "run-1", "Tennis at 7")
    turns = stores.memory.recent(OWNER)
    assert [turn.text for turn in turns][1::2] == ["Tennis at 6", "Tennis at 7"]
    assert stores.allowances.today(OWNER, NOON).messages == 2
