"""Each chat's recent turns, kept in SQLite so they survive a restart."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from bot.engine.usage import Usage
from bot.messages import TraceStep
from bot.redaction import redact
from bot.store.db import open_private_db
from integrations.calendar import Event

SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_chat ON turns (chat_id, id);
CREATE TABLE IF NOT EXISTS chat_settings (
    chat_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (chat_id, name)
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id INTEGER NOT NULL,
    mode TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    steps TEXT NOT NULL,
    usage TEXT NOT NULL,
    seconds REAL NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_chat ON runs (chat_id, id);
CREATE TABLE IF NOT EXISTS focus (
    chat_id TEXT PRIMARY KEY,
    event TEXT NOT NULL
);
"""


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
    def __init__(self, path: Path, turns_kept: int) -> None:
        self.path = path
        self.turns_kept = turns_kept
        self._lock = threading.Lock()
        self._db = open_private_db(path, SCHEMA)

    def remember(self, conversation: Conversation, *turns: Turn) -> None:
        """Add turns to a chat and forget those beyond the last `turns_kept`."""
        with self._lock, self._db:  # a failed insert rolls back instead of staying open
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO turns (chat_id, role, text, created) VALUES (?, ?, ?, ?)",
                [(conversation, turn.role, turn.text, time.time()) for turn in turns],
            )
            self._db.execute(
                "DELETE FROM turns WHERE chat_id = ? AND id NOT IN "
                "(SELECT id FROM turns WHERE chat_id = ? ORDER BY id DESC LIMIT ?)",
                (conversation, conversation, self.turns_kept),
            )

    def recent(self, conversation: Conversation) -> list[Turn]:
        """The chat's kept turns, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT role, text FROM turns WHERE chat_id = ? ORDER BY id DESC LIMIT ?",
                (conversation, self.turns_kept),
            ).fetchall()
        return [Turn(role, text) for role, text in reversed(rows)]

    def remember_focus(self, conversation: Conversation, event: Event) -> None:
        """Keep the event this chat last talked about, for follow-up questions."""
        record = {**asdict(event), "start": event.start.isoformat(), "end": event.end.isoformat()}
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO focus (chat_id, event) VALUES (?, ?)",
                (conversation, json.dumps(record)),
            )

    def focus(self, conversation: Conversation) -> Event | None:
        with self._lock:
            row = self._db.execute(
                "SELECT event FROM focus WHERE chat_id = ?", (conversation,)
            ).fetchone()
        if row is None:
            return None
        record = json.loads(row[0])
        start, end = (
            datetime.fromisoformat(record.pop("start")),
            datetime.fromisoformat(record.pop("end")),
        )
        return Event(start=start, end=end, **record)

    def record_run(self, conversation: Conversation, run: RunRecord) -> None:
        """Keep a run's trace: every run, in any mode, can be looked at later (/trace)."""
        steps = json.dumps(
            [redact(asdict(step)) for step in run.steps], default=lambda v: redact(str(v))
        )
        with self._lock:
            self._db.execute(
                "INSERT INTO runs (chat_id, mode, question, answer, steps, usage, seconds, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation,
                    run.mode,
                    run.question,
                    run.answer,
                    steps,
                    json.dumps(asdict(run.usage)),
                    run.seconds,
                    time.time(),
                ),
            )

    def last_run(self, conversation: Conversation) -> RunRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT mode, question, answer, steps, usage, seconds FROM runs"
                " WHERE chat_id = ? ORDER BY id DESC LIMIT 1",
                (conversation,),
            ).fetchone()
        if row is None:
            return None
        mode, question, answer, steps, usage, seconds = row
        trace = tuple(TraceStep(**step) for step in json.loads(steps))
        return RunRecord(mode, question, answer, trace, Usage(**json.loads(usage)), seconds)

    def set_setting(self, conversation: Conversation, name: str, value: str) -> None:
        """A chat's own choice (its voice mode, ...), kept across restarts."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO chat_settings (chat_id, name, value) VALUES (?, ?, ?)",
                (conversation, name, value),
            )

    def setting(self, conversation: Conversation, name: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM chat_settings WHERE chat_id = ? AND name = ?",
                (conversation, name),
            ).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()
