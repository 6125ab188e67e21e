"""Per-person allowances: a message rate, and daily caps on model tokens and dollars.

Reaching one gets a reply saying when it resets (the next minute, or local midnight); `/usage`
shows the day so far.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.config import LimitSettings, Price
from bot.engine.usage import Usage, cost_usd
from bot.store.db import open_private_db

SCHEMA = """
CREATE TABLE IF NOT EXISTS daily_usage (
    user_id INTEGER NOT NULL,
    day TEXT NOT NULL,
    messages INTEGER NOT NULL DEFAULT 0,
    model_calls INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);
"""


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
    def __init__(self, limits: LimitSettings, price: Price, path: Path) -> None:
        self.limits = limits
        self.price = price
        self._lock = threading.Lock()
        self._db = open_private_db(path, SCHEMA)
        self._recent: dict[int, deque[float]] = defaultdict(deque)

    def refusal(self, user_id: int, now: datetime) -> str | None:
        """Why this person may not ask anything now, with when that ends; None if they may."""
        used, limits = self.today(user_id, now), self.limits
        if used.tokens >= limits.daily_tokens:
            return f"You've used today's {limits.daily_tokens:,} model tokens. {_reset(now)}"
        if used.cost_usd >= limits.daily_cost_usd:
            return f"You've used today's ${limits.daily_cost_usd:.2f} budget. {_reset(now)}"
        with self._lock:
            recent, moment = self._recent[user_id], time.monotonic()
            while recent and moment - recent[0] >= 60:
                recent.popleft()
            if len(recent) >= limits.messages_per_minute:
                wait = 60 - (moment - recent[0])
                return (
                    f"That's more than {limits.messages_per_minute} messages in a minute. "
                    f"Please wait {wait:.0f} s and ask again."
                )
            recent.append(moment)
        return None

    def add(self, user_id: int, now: datetime, usage: Usage) -> None:
        """Count one answered message and what its model calls cost."""
        with self._lock:
            self._db.execute(
                "INSERT INTO daily_usage (user_id, day, messages, model_calls, input_tokens,"
                " output_tokens, cost_usd) VALUES (?, ?, 1, ?, ?, ?, ?)"
                " ON CONFLICT (user_id, day) DO UPDATE SET messages = messages + 1,"
                " model_calls = model_calls + excluded.model_calls,"
                " input_tokens = input_tokens + excluded.input_tokens,"
                " output_tokens = output_tokens + excluded.output_tokens,"
                " cost_usd = cost_usd + excluded.cost_usd",
                (
                    user_id,
                    now.date().isoformat(),
                    usage.model_calls,
                    usage.prompt_tokens,
                    usage.output_tokens,
                    cost_usd(usage, self.price),
                ),
            )

    def today(self, user_id: int, now: datetime) -> DayUsage:
        with self._lock:
            row = self._db.execute(
                "SELECT messages, model_calls, input_tokens, output_tokens, cost_usd"
                " FROM daily_usage WHERE user_id = ? AND day = ?",
                (user_id, now.date().isoformat()),
            ).fetchone()
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
