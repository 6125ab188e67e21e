"""The ledger of scheduled slots already sent: no slot is ever sent twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from bot.store.db import open_private_db

SCHEMA = """
CREATE TABLE IF NOT EXISTS slots (
    rule TEXT NOT NULL,
    slot TEXT NOT NULL,
    PRIMARY KEY (rule, slot)
);
"""


class SlotLedger:
    """Which (rule, slot) pairs were claimed, ever; safe across threads, processes and restarts."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_private_db(path, SCHEMA)

    def claim(self, rule_name: str, slot: datetime) -> bool:
        """Record the slot; True only for the first claim of it by anyone, ever."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO slots (rule, slot) VALUES (?, ?)", (rule_name, _key(slot))
            )
        return cursor.rowcount == 1

    def last_claimed(self, rule_name: str) -> datetime | None:
        """The rule's latest claimed slot, in UTC."""
        with self._lock:
            (latest,) = self._db.execute(
                "SELECT MAX(slot) FROM slots WHERE rule = ?", (rule_name,)
            ).fetchone()
        return datetime.fromisoformat(latest) if latest else None

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _key(slot: datetime) -> str:
    # One fixed format, so the text sorts in time order and MAX() is the latest slot.
    return slot.astimezone(UTC).isoformat(timespec="seconds")


def _key(slot: datetime) -> str:
    # One fixed format, so the text sorts in time order and MAX() is the latest slot.
    return slot.astimezone(UTC).isoformat(timespec="seconds")
