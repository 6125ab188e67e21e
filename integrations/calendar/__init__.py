"""Calendar sources: one shape of event, whatever the calendar behind it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# The defaults of the limits a config can change: an ICS address's download (its
# max_download_mb and download_seconds) and search.max_occurrences_per_event.
MAX_DOWNLOAD_MB = 20.0
DOWNLOAD_SECONDS = 60.0
MAX_OCCURRENCES_PER_EVENT = 1000


@dataclass(frozen=True)
class Event:
    """One occurrence of an event.

    `start` and `end` are timezone-aware. An all-day event runs from local midnight of its first
    day to local midnight after its last day (the end is exclusive, as in iCalendar and Google).
    `busy` is False for an event shown as free ("Working from home", a holiday: iCalendar's
    TRANSP:TRANSPARENT, Google's "transparency": "transparent"), and for an all-day event in a
    file that does not say (it marks a period or a day); `tentative` when not yet
    confirmed (STATUS:TENTATIVE); `cancelled` when called off but still in the calendar
    (STATUS:CANCELLED): never listed, only said when asked about by name. `attendees`: who is
    invited and has not declined, by name (else address), as the calendar lists them.
    """

    title: str
    start: datetime
    end: datetime
    all_day: bool = False
    location: str = ""
    description: str = ""
    calendar: str = ""
    uid: str = ""
    busy: bool = True
    tentative: bool = False
    cancelled: bool = False
    attendees: tuple[str, ...] = ()
    # Where the calendar set the start and end in a zone of their own (a flight: "Europe/Madrid"),
    # those zones' names, so times can be said there too; "" for the user's zone or none given.
    start_zone: str = ""
    end_zone: str = ""


class Events(list[Event]):
    """Events found, with what the person asking should know about how they were read: events
    that could not be read, a series cut short (`notes`, each a sentence); the events in the
    range that were called off (`cancelled`), kept apart so no listing shows them; and the
    calendars that could not be read at all while others could (`unread`, each a sentence,
    also among the notes): the events are then only part of the answer."""

    def __init__(
        self,
        events: Iterable[Event] = (),
        notes: Iterable[str] = (),
        cancelled: Iterable[Event] = (),
        unread: Iterable[str] = (),
    ) -> None:
        super().__init__(events)
        self.unread: tuple[str, ...] = tuple(unread)
        self.notes: tuple[str, ...] = (*self.unread, *notes)
        self.cancelled: tuple[Event, ...] = tuple(cancelled)


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
