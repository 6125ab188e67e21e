"""Which workers are alive: each beats in the shared store, and one silent for too long has
its unfinished runs taken over by the others (bot/telegram/server.py)."""

from __future__ import annotations

from sqlalchemy import Column, Float, String, Table, delete, select

from bot.store.db import TABLES, Database

HEARTBEATS = Table(
    "worker_heartbeats",
    TABLES,
    Column("worker", String, primary_key=True),
    Column("beat", Float, nullable=False),
)


class Heartbeats:
    def __init__(self, database: Database) -> None:
        self.database = database

    def beat(self, worker: str, now: float) -> None:
        statement = self.database.insert(HEARTBEATS).values(worker=worker, beat=now)
        with self.database.transaction() as db:
            db.execute(
                statement.on_conflict_do_update(index_elements=["worker"], set_={"beat": now})
            )

    def silent(self, since: float) -> list[str]:
        """The workers whose last beat is older than `since` (epoch seconds)."""
        with self.database.transaction() as db:
            return list(
                db.execute(select(HEARTBEATS.c.worker).where(HEARTBEATS.c.beat < since)).scalars()
            )

    def forget(self, worker: str, since: float) -> None:
        """Forget a silent worker, unless it came back (beat since) in the meantime."""
        with self.database.transaction() as db:
            db.execute(
                delete(HEARTBEATS).where(HEARTBEATS.c.worker == worker, HEARTBEATS.c.beat < since)
            )
