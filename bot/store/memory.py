"""Each chat's recent turns, settings, focus, last question and run records, kept in the store's
database so they survive a restart and every worker sees the same conversation."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    select,
)

from bot.engine.usage import Usage
from bot.messages import TraceStep
from bot.redaction import redact
from bot.store.db import TABLES, Database
from bot.understanding import Question, TimeWindow
from bot.understanding.followups import Asked
from integrations.calendar import Event

TURNS = Table(
    "turns",
    TABLES,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chat_id", String, nullable=False),
    Column("role", String, CheckConstraint("role IN ('user', 'assistant')"), nullable=False),
    Column("text", Text, nullable=False),
    Column("created", Float, nullable=False),
    Index("turns_by_chat", "chat_id", "id"),
)
SETTINGS = Table(
    "chat_settings",
    TABLES,
    Column("chat_id", String, primary_key=True),
    Column("name", String, primary_key=True),
    Column("value", Text, nullable=False),
)
RUNS = Table(
    "runs",
    TABLES,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chat_id", String, nullable=False),
    Column("mode", String, nullable=False),
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("steps", Text, nullable=False),
    Column("usage", Text, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("created", Float, nullable=False),
    Index("runs_by_chat", "chat_id", "id"),
)
# Each durable run whose answer was remembered, by its id: a run resumed after a crash, its
# answer remembered but not yet journaled as such, then remembers nothing twice.
REMEMBERED = Table(
    "remembered",
    TABLES,
    Column("run", String, primary_key=True),
    Column("created", Float, nullable=False),
)
FOCUS = Table(
    "focus",
    TABLES,
    Column("chat_id", String, primary_key=True),
    Column("event", Text, nullable=False),
)

# The chat's last calendar question and the event its answer was about: what a follow-up
# ("and friday?", "where is it?") leaves unsaid (bot/understanding/followups.py).
ASKED = Table(
    "asked",
    TABLES,
    Column("chat_id", String, primary_key=True),
    Column("question", Text, nullable=False),
    Column("event", Text),
    Column("rule", String, nullable=False),
    Column("at", String),  # when it was asked, by the user's clock (ISO 8601)
)


# A chat's id, or in a group "chat:user": each person in a group has their own history.
Conversation = int | str


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True)
class RunRecord:
    """One answered message as recorded: the mode, the path taken, what it cost."""

    mode: str
    question: str
    answer: str
    steps: tuple[TraceStep, ...]
    usage: Usage
    seconds: float


class ChatMemory:
    def __init__(self, database: Database, turns_kept: int) -> None:
        self.database = database
        self.turns_kept = turns_kept

    def remember(self, conversation: Conversation, *turns: Turn) -> None:
        """Add turns to a chat and forget those beyond the last `turns_kept`."""
        chat = _key(conversation)
        with self.database.transaction() as db:
            db.execute(
                TURNS.insert(),
                [
                    {"chat_id": chat, "role": turn.role, "text": turn.text, "created": time.time()}
                    for turn in turns
                ],
            )
            kept = (
                select(TURNS.c.id)
                .where(TURNS.c.chat_id == chat)
                .order_by(TURNS.c.id.desc())
                .limit(self.turns_kept)
            )
            db.execute(delete(TURNS).where(TURNS.c.chat_id == chat, TURNS.c.id.not_in(kept)))

    def first_remembering(self, run: str) -> bool:
        """Note that run `run` remembers its answer; False if it already had (in a transaction
        made with what it remembers, so the two are kept together or not at all)."""
        statement = self.database.insert(REMEMBERED).values(run=run, created=time.time())
        with self.database.transaction() as db:
            noted = db.execute(statement.on_conflict_do_nothing().returning(REMEMBERED.c.run))
            return noted.first() is not None

    def recent(self, conversation: Conversation) -> list[Turn]:
        """The chat's kept turns, oldest first."""
        with self.database.transaction() as db:
            rows = db.execute(
                select(TURNS.c.role, TURNS.c.text)
                .where(TURNS.c.chat_id == _key(conversation))
                .order_by(TURNS.c.id.desc())
                .limit(self.turns_kept)
            ).all()
        return [Turn(role, text) for role, text in reversed(rows)]

    def remember_focus(self, conversation: Conversation, event: Event) -> None:
        """Keep the event this chat last talked about, for follow-up questions."""
        self._put(FOCUS, {"chat_id": _key(conversation)}, {"event": _event_json(event)})

    def focus(self, conversation: Conversation) -> Event | None:
        with self.database.transaction() as db:
            found = db.execute(
                select(FOCUS.c.event).where(FOCUS.c.chat_id == _key(conversation))
            ).scalar()
        return None if found is None else _event_from(found)

    def remember_asked(self, conversation: Conversation, asked: Asked) -> None:
        """Keep the chat's last calendar question, for the follow-ups that leave things unsaid."""
        values = {
            "question": _question_json(asked.question),
            "event": _event_json(asked.event) if asked.event is not None else None,
            "rule": asked.rule,
            "at": asked.at.isoformat() if asked.at else None,
        }
        self._put(ASKED, {"chat_id": _key(conversation)}, values)

    def asked(self, conversation: Conversation) -> Asked | None:
        with self.database.transaction() as db:
            row = db.execute(
                select(ASKED.c.question, ASKED.c.event, ASKED.c.rule, ASKED.c.at).where(
                    ASKED.c.chat_id == _key(conversation)
                )
            ).first()
        if row is None:
            return None
        question, event, rule, at = row
        return Asked(
            _question_from(question),
            _event_from(event) if event else None,
            rule,
            datetime.fromisoformat(at) if at else None,
        )

    def record_run(self, conversation: Conversation, run: RunRecord) -> None:
        """Keep a run's trace: every run, in any mode, can be looked at later (/trace)."""
        steps = json.dumps(
            [redact(asdict(step)) for step in run.steps], default=lambda v: redact(str(v))
        )
        with self.database.transaction() as db:
            db.execute(
                RUNS.insert().values(
                    chat_id=_key(conversation),
                    mode=run.mode,
                    question=run.question,
                    answer=run.answer,
                    steps=steps,
                    usage=json.dumps(asdict(run.usage)),
                    seconds=run.seconds,
                    created=time.time(),
                )
            )

    def last_run(self, conversation: Conversation) -> RunRecord | None:
        with self.database.transaction() as db:
            row = db.execute(
                select(RUNS.c.mode, RUNS.c.question, RUNS.c.answer, RUNS.c.steps)
                .add_columns(RUNS.c.usage, RUNS.c.seconds)
                .where(RUNS.c.chat_id == _key(conversation))
                .order_by(RUNS.c.id.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        mode, question, answer, steps, usage, seconds = row
        trace = tuple(TraceStep(**step) for step in json.loads(steps))
        return RunRecord(mode, question, answer, trace, Usage(**json.loads(usage)), seconds)

    def set_setting(self, conversation: Conversation, name: str, value: str) -> None:
        """A chat's own choice (its voice mode, ...), kept across restarts."""
        self._put(SETTINGS, {"chat_id": _key(conversation), "name": name}, {"value": value})

    def setting(self, conversation: Conversation, name: str) -> str | None:
        with self.database.transaction() as db:
            value: str | None = db.execute(
                select(SETTINGS.c.value).where(
                    SETTINGS.c.chat_id == _key(conversation), SETTINGS.c.name == name
                )
            ).scalar()
        return value

    def close(self) -> None:
        self.database.close()

    def _put(self, table: Table, key: dict[str, str], values: dict[str, str | None]) -> None:
        """Insert a row, or replace the values of the row with the same key."""
        statement = self.database.insert(table).values(**key, **values)
        with self.database.transaction() as db:
            db.execute(statement.on_conflict_do_update(index_elements=list(key), set_=values))


def _key(conversation: Conversation) -> str:
    # Chats are numbers and group members "chat:user": one text column holds both.
    return str(conversation)


def _event_json(event: Event) -> str:
    return json.dumps(
        {**asdict(event), "start": event.start.isoformat(), "end": event.end.isoformat()}
    )


def _event_from(text: str) -> Event:
    record = json.loads(text)
    start, end = (
        datetime.fromisoformat(record.pop("start")),
        datetime.fromisoformat(record.pop("end")),
    )
    # JSON has no tuples; an event kept before events had attendees has none.
    attendees = tuple(record.pop("attendees", ()))
    return Event(start=start, end=end, attendees=attendees, **record)


def _question_json(question: Question) -> str:
    window = question.window
    record: dict[str, Any] = {
        **asdict(question),
        "window": window and [window.start.isoformat(), window.end.isoformat(), window.label],
        "moment": question.moment and question.moment.isoformat(),
    }
    return json.dumps(record)


def _question_from(text: str) -> Question:
    record = json.loads(text)
    window, moment = record.pop("window"), record.pop("moment")
    if window is not None:
        start, end, label = window
        window = TimeWindow(datetime.fromisoformat(start), datetime.fromisoformat(end), label)
    moment = datetime.fromisoformat(moment) if moment else None
    return Question(window=window, moment=moment, **record)
