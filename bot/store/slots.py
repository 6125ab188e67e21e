"""The ledger of scheduled slots already sent: no slot is ever sent twice, by any worker."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, String, Table, func, select

from bot.store.db import TABLES, Database

SLOTS = Table(
    "slots",
    TABLES,
    Column("rule", String, primary_key=True),
    Column("slot", String, primary_key=True),
)


class SlotLedger:
    """Which (rule, slot) pairs were claimed, ever; safe across threads, workers and restarts:
    the key's uniqueness decides which claim is first."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def claim(self, rule_name: str, slot: datetime) -> bool:
        """Record the slot; True only for the first claim of it by anyone, ever."""
        statement = self.database.insert(SLOTS).values(rule=rule_name, slot=_key(slot))
        with self.database.transaction() as db:
            claimed = db.execute(statement.on_conflict_do_nothing().returning(SLOTS.c.slot))
            return claimed.first() is not None

    def last_claimed(self, rule_name: str) -> datetime | None:
        """The rule's latest claimed slot, in UTC."""
        with self.database.transaction() as db:
            latest = db.execute(
                select(func.max(SLOTS.c.slot)).where(SLOTS.c.rule == rule_name)
            ).scalar()
        return datetime.fromisoformat(latest) if latest else None

    def close(self) -> None:
        self.database.close()


def _key(slot: datetime) -> str:
    # One fixed format, so the text sorts in time order and MAX() is the latest slot.
    return slot.astimezone(UTC).isoformat(timespec="seconds")
