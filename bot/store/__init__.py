"""What Tandem keeps on disk, in one private SQLite file in the data folder.

`open_stores` is the one place that file is named and opened: each chat's memory, who may talk
(access and pairing), what each person used today (allowances) and the scheduled slots sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.config import Settings
from bot.engine.usage import price_of
from bot.messages import Reply
from bot.store.access import Access
from bot.store.allowances import Allowances
from bot.store.memory import ChatMemory, Conversation, RunRecord, Turn
from bot.store.slots import SlotLedger

DATA_FILE = "tandem.sqlite3"


@dataclass(frozen=True)
class Stores:
    memory: ChatMemory
    access: Access
    allowances: Allowances
    slots: SlotLedger

    def remember(
        self,
        conversation: Conversation,
        user_id: int,
        now: datetime,
        turns: tuple[Turn, ...],
        reply: Reply,
        record: RunRecord | None,
    ) -> None:
        """Keep an answered message: its turns, its event, its trace, and what it cost whom."""
        self.memory.remember(conversation, *turns)
        if reply.focus is not None:
            self.memory.remember_focus(conversation, reply.focus)
        if record is not None:
            self.memory.record_run(conversation, record)
        self.allowances.add(user_id, now, reply.usage)


def data_file(data_dir: Path) -> Path:
    return data_dir / DATA_FILE


def open_stores(data_dir: Path, settings: Settings) -> Stores:
    path = data_file(data_dir)
    return Stores(
        ChatMemory(path, settings.memory.turns_kept),
        Access(settings, path),
        Allowances(settings.limits, price_of(settings.llm), path),
        SlotLedger(path),
    )
