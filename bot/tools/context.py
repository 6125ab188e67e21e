"""What every tool call may use: the user's settings, their calendars, the weather, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.config import SearchSettings, UserSettings
from integrations.calendar import CalendarSource
from integrations.weather import OpenMeteo


@dataclass(frozen=True)
class ToolContext:
    user: UserSettings
    search: SearchSettings
    calendar: CalendarSource
    weather: OpenMeteo
    clock: Callable[[], datetime]

    def now(self) -> datetime:
        """The current time in the user's time zone."""
        return self.clock().astimezone(self.user.zone)

    def localize(self, moment: datetime) -> datetime:
        """A datetime in the user's zone; one without an offset is read as the user's local time."""
        if moment.tzinfo is None:
            return moment.replace(tzinfo=self.user.zone)
        return moment.astimezone(self.user.zone)
