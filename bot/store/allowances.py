"""Per-person allowances: a message rate, and daily caps on model tokens and dollars.

Reaching one gets a reply saying when it resets (the next minute, or local midnight); `/usage`
shows the day so far. Both are kept in the store: every worker counts against the same ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    delete,
    func,
    select,
)

from bot.config import LimitSettings, Price
from bot.engine.usage import Usage, cost_usd
from bot.store.db import TABLES, Database

DAILY_USAGE = Table(
    "daily_usage",
    TABLES,
    Column("user_id", BigInteger, primary_key=True),
    Column("day", String, primary_key=True),
    Column("messages", Integer, nullable=False, default=0),
    Column("model_calls", Integer, nullable=False, default=0),
    Column("input_tokens", Integer, nullable=False, default=0),
    Column("output_tokens", Integer, nullable=False, default=0),
    Column("cost_usd", Float, nullable=False, default=0),
)
# When each person's messages of the last minute came (epoch seconds), for the message rate.
MESSAGE_TIMES = Table(
    "message_times",
    TABLES,
    Column("user_id", BigInteger, nullable=False),
    Column("at", Float, nullable=False),
    Index("message_times_by_user", "user_id", "at"),
)
RATE_WINDOW_SECONDS = 60
COUNTED = ("messages", "model_calls", "input_tokens", "output_tokens", "cost_usd")


@dataclass(frozen=True)
class DayUsage:
    messages: int = 0
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class Allowances:
    def __init__(
        self,
        limits: LimitSettings,
        price: Price,
        database: Database,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = limits
        self.price = price
        self.database = database
        self._clock = clock  # wall time: every worker's clock agrees on it

    def refusal(self, user_id: int, now: datetime, paced: bool = True) -> str | None:
        """Why this person may not ask anything now, with when that ends; None if they may.
        Unless `paced`, only the daily budgets apply, not the messages a minute."""
        used, limits = self.today(user_id, now), self.limits
        if used.tokens >= limits.daily_tokens:
            return f"You've used today's {limits.daily_tokens:,} model tokens. {_reset(now)}"
        if used.cost_usd >= limits.daily_cost_usd:
            return f"You've used today's ${limits.daily_cost_usd:.2f} budget. {_reset(now)}"
        if not paced:
            return None
        moment, mine = self._clock(), MESSAGE_TIMES.c.user_id == user_id
        with self.database.transaction(f"message rate {user_id}") as db:
            db.execute(
                delete(MESSAGE_TIMES).where(
                    mine, MESSAGE_TIMES.c.at <= moment - RATE_WINDOW_SECONDS
                )
            )
            count, oldest = db.execute(
                select(func.count(), func.min(MESSAGE_TIMES.c.at)).where(mine)
            ).one()
            if count >= limits.messages_per_minute:
                wait = RATE_WINDOW_SECONDS - (moment - oldest)
                return (
                    f"That's more than {limits.messages_per_minute} messages in a minute. "
                    f"Please wait {wait:.0f} s and ask again."
                )
            db.execute(MESSAGE_TIMES.insert().values(user_id=user_id, at=moment))
        return None

    def add(self, user_id: int, now: datetime, usage: Usage) -> None:
        """Count one answered message and what its model calls cost."""
        counts = {
            "messages": 1,
            "model_calls": usage.model_calls,
            "input_tokens": usage.prompt_tokens,
            "output_tokens": usage.output_tokens,
            "cost_usd": cost_usd(usage, self.price),
        }
        statement = self.database.insert(DAILY_USAGE).values(
            user_id=user_id, day=now.date().isoformat(), **counts
        )
        added = {name: DAILY_USAGE.c[name] + statement.excluded[name] for name in COUNTED}
        with self.database.transaction() as db:
            db.execute(
                statement.on_conflict_do_update(index_elements=["user_id", "day"], set_=added)
            )

    def today(self, user_id: int, now: datetime) -> DayUsage:
        with self.database.transaction() as db:
            row = db.execute(
                select(*(DAILY_USAGE.c[name] for name in COUNTED)).where(
                    DAILY_USAGE.c.user_id == user_id, DAILY_USAGE.c.day == now.date().isoformat()
                )
            ).first()
        return DayUsage(*row) if row else DayUsage()

    def report(self, user_id: int, now: datetime) -> str:
        """What /usage shows."""
        used, limits = self.today(user_id, now), self.limits
        return (
            f"Today: {used.messages} message{'s' if used.messages != 1 else ''}, "
            f"{used.model_calls} model call{'s' if used.model_calls != 1 else ''}.\n"
            f"Tokens: {used.tokens:,} of {limits.daily_tokens:,} "
            f"(in {used.input_tokens:,}, out {used.output_tokens:,}).\n"
            f"Cost: ≈ ${used.cost_usd:.4f} of ${limits.daily_cost_usd:.2f}.\n"
            f"Messages: at most {limits.messages_per_minute} a minute.\n{_reset(now)}"
        )


def _reset(now: datetime) -> str:
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
    left = midnight - now  # same zone: wall-clock time to midnight, as the user reads it
    hours, minutes = divmod(int(left.total_seconds()) // 60, 60)
    return f"The daily budget resets at midnight, in {hours} h {minutes} min."
