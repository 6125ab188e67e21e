"""Each chat's recent turns, settings, focus and run records, kept in the store's database so
they survive a restart and every worker sees the same conversation."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

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
FOCUS = Table(
    "focus",
    TABLES,
    Column("chat_id", String, primary_key=True),
    Column("event", Text, nullable=False),
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
        record = {**asdict(event), "start": event.start.isoformat(), "end": event.end.isoformat()}
        self._put(FOCUS, {"chat_id": _key(conversation)}, {"event": json.dumps(record)})

    def focus(self, conversation: Conversation) -> Event | None:
        with self.database.transaction() as db:
            found = db.execute(
                select(FOCUS.c.event).where(FOCUS.c.chat_id == _key(conversation))
            ).scalar()
        if found is None:
            return None
        record = json.loads(found)
        start, end = (
            datetime.fromisoformat(record.pop("start")),
            datetime.fromisoformat(record.pop("end")),
        )
        # JSON has no tuples; a focus kept before events had attendees has none.
        attendees = tuple(record.pop("attendees", ()))
        return Event(start=start, end=end, attendees=attendees, **record)

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

    def _put(self, table: Table, key: dict[str, str], values: dict[str, str]) -> None:
        """Insert a row, or replace the values of the row with the same key."""
        statement = self.database.insert(table).values(**key, **values)
        with self.database.transaction() as db:
            db.execute(statement.on_conflict_do_update(index_elements=list(key), set_=values))


def _key(conversation: Conversation) -> str:
    # Chats are numbers and group members "chat:user": one text column holds both.
    return str(conversation)
