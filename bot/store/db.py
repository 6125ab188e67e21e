"""How every store opens its SQLite file: private to its owner, shared safely between processes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.store.private import private_database


def open_private_db(path: Path, schema: str) -> sqlite3.Connection:
    """A SQLite file only its owner can read, in a folder only its owner can enter."""
    private_database(path)  # chats are private: SQLite would make the file 644
    # The default 5 s busy timeout lets a second process wait for the write lock.
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    # Synced at checkpoints rather than at every commit: a killed process still loses nothing.
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(schema)
    return db
