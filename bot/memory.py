"""Each chat's recent turns, kept in SQLite so they survive a restart."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_chat ON turns (chat_id, id);
"""


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    text: str


class ChatMemory:
    def __init__(self, path: Path, turns_kept: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.turns_kept = turns_kept
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def remember(self, chat_id: int, *turns: Turn) -> None:
        """Add turns to a chat and forget those beyond the last `turns_kept`."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO turns (chat_id, role, text, created) VALUES (?, ?, ?, ?)",
                [(chat_id, turn.role, turn.text, time.time()) for turn in turns],
            )
            self._db.execute(
                "DELETE FROM turns WHERE chat_id = ? AND id NOT IN "
                "(SELECT id FROM turns WHERE chat_id = ? ORDER BY id DESC LIMIT ?)",
                (chat_id, chat_id, self.turns_kept),
            )
            self._db.execute("COMMIT")

    def recent(self, chat_id: int) -> list[Turn]:
        """The chat's kept turns, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT role, text FROM turns WHERE chat_id = ? ORDER BY id DESC LIMIT ?",
                (chat_id, self.turns_kept),
            ).fetchall()
        return [Turn(role, text) for role, text in reversed(rows)]

    def close(self) -> None:
        with self._lock:
            self._db.close()
