"""What Tandem keeps: each chat's memory, who may talk (access and pairing), what each person
used (allowances and message rates), the scheduled slots sent and which workers are alive.

`open_stores` is the one place their database is chosen and opened: a private SQLite file in the
data folder, or — when a journal database is configured for several workers — that same
PostgreSQL database, so that every worker sees one conversation, one allowance, one ledger.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.config import LoadedConfig, Settings
from bot.engine.usage import price_of
from bot.messages import Reply
from bot.store.access import Access
from bot.store.allowances import Allowances
from bot.store.db import Database, open_database
from bot.store.memory import ChatMemory, Conversation, RunRecord, Turn
from bot.store.slots import SlotLedger
from bot.store.workers import Heartbeats
from bot.understanding.followups import Asked

DATA_FILE = "tandem.sqlite3"
DATABASE_VARIABLE = "TANDEM_DATABASE_URL"


@dataclass(frozen=True)
class Stores:
    memory: ChatMemory
    access: Access
    allowances: Allowances
    slots: SlotLedger
    heartbeats: Heartbeats

    def remember(
        self,
        run: str | None,
        conversation: Conversation,
        user_id: int,
        now: datetime,
        turns: tuple[Turn, ...],
        reply: Reply,
        record: RunRecord | None,
        asked: Asked | None = None,
    ) -> None:
        """Keep an answered message: its turns, its event, the calendar question it was (for a
        follow-up), its trace, and what it cost whom; all of it or, if it fails, none.

        With `run` (a durable run's id) done once for that run: done again, as a run resumed
        after a crash may, it changes nothing."""
        with self.memory.database.transaction():  # what follows joins it
            if run is not None and not self.memory.first_remembering(run):
                return
            self.memory.remember(conversation, *turns)
            if reply.focus is not None:
                self.memory.remember_focus(conversation, reply.focus)
            if asked is not None:
                self.memory.remember_asked(conversation, asked)
            if record is not None:
                self.memory.record_run(conversation, record)
            self.allowances.add(user_id, now, reply.usage)


def data_file(data_dir: Path) -> Path:
    return data_dir / DATA_FILE


def shared_database(config: LoadedConfig, override: str | None = None) -> str | None:
    """The database every worker shares, if one is configured: TANDEM_DATABASE_URL, else
    `--database`, else `durable.database_url`."""
    return os.environ.get(DATABASE_VARIABLE) or override or config.settings.durable.database_url


def open_stores(data_dir: Path, settings: Settings, database: str | None = None) -> Stores:
    """The stores on the `database` URL, or on the data folder's SQLite file without one."""
    opened: Database = open_database(database or data_file(data_dir))
    return Stores(
        ChatMemory(opened, settings.memory.turns_kept),
        Access(settings, opened),
        Allowances(settings.limits, price_of(settings.llm), opened),
        SlotLedger(opened),
        Heartbeats(opened),
    )
