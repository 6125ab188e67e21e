"""Calendar sources: one shape of event, whatever the calendar behind it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Event:
    """One occurrence of an event.

    `start` and `end` are timezone-aware. An all-day event runs from local midnight of its first
    day to local midnight after its last day (the end is exclusive, as in iCalendar and Google).
    """

    title: str
    start: datetime
    end: datetime
    all_day: bool = False
    location: str = ""
    description: str = ""
    calendar: str = ""
    uid: str = ""


class CalendarError(Exception):
    """A calendar could not be read. The message is fit to show to the user."""


class CalendarAuthError(CalendarError):
    """The sign-in is missing, expired or revoked: the owner must sign in again."""


class CalendarSource(Protocol):
    """Anything that lists the events overlapping a time range."""

    name: str

    def events(self, start: datetime, end: datetime) -> list[Event]:
        """Every event occurrence that overlaps [start, end), sorted by start.

        All-day events are placed at midnight in the time zone of `start`.
        """
        ...
