"""The clock tool: what time it is for the user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.formatting import View, clock_time, day_name
from bot.tools.context import ToolContext


@dataclass(frozen=True)
class ClockReading:
    now: datetime
    timezone: str

    def for_model(self) -> str:
        return f"{self.now:%A %d %B %Y, %H:%M} ({self.timezone}, UTC{self.now:%z})"

    def for_person(self, view: View) -> str:
        day = day_name(self.now.date(), view.today)
        return f"It's {clock_time(self.now, view.clock)} on {day}."


def current_time(context: ToolContext) -> ClockReading:
    """The current date and time in the user's time zone, with the weekday.

    Use it before working out relative dates such as "next Friday" or "in two weeks".
    """
    return ClockReading(context.now(), context.user.timezone)
