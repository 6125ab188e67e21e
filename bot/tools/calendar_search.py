"""The calendar search tool: events from every configured calendar, filtered by time and words."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.formatting import View, day_name, event_line, events_by_day
from bot.places import names_a_place
from bot.tools.context import ToolContext
from bot.tools.untrusted import data_block
from integrations.calendar import Event


@dataclass(frozen=True)
class CalendarFindings:
    events: list[Event]
    start: datetime
    end: datetime
    text: str

    @property
    def focus(self) -> Event | None:
        """The event a follow-up question ("what will the weather be?") is about: the first
        one held somewhere ("Online" and an all-day birthday are held nowhere), else the first."""
        placed = (event for event in self.events if names_a_place(event.location))
        return next(placed, self.events[0] if self.events else None)

    def for_model(self) -> str:
        """The findings as delimited, untrusted JSON for a language model."""
        payload = {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "matching": self.text or None,
            "events": [
                {
                    "title": event.title,
                    "weekday": event.start.strftime("%A"),
                    "start": _iso(event.start, event.all_day),
                    "end": _iso(event.end, event.all_day),
                    "all_day": event.all_day,
                    "location": event.location or None,
                    "notes": event.description or None,
                }
                for event in self.events
            ],
        }
        return data_block("calendar_data", payload, "the user's calendar content")

    def for_person(self, view: View) -> str:
        """A plain answer that lists exactly what was found, and says so when nothing was."""
        when = view.window_label or f"in the next {(self.end - self.start).days} days"
        # Same-zone subtraction counts wall-clock time, so a day across a DST change is one day.
        one_day = bool(view.window_label) and self.end - self.start <= timedelta(days=1)
        if one_day and when != (day := day_name(self.start.date(), view.today)):
            when = f"{when}, {day}"
        if not self.events:
            if self.text:
                return f"I found nothing matching “{self.text}” {when}."
            return f"You have nothing on your calendar {when}."
        if self.text and len(self.events) == 1 and not view.window_label:
            heading = f"Your next “{self.text}”:"
        elif self.text:
            heading = f"Matching “{self.text}” {when}:"
        else:
            heading = f"{when[:1].upper()}{when[1:]}:"
        if one_day:
            return "\n".join([heading, *(event_line(event, view.clock) for event in self.events)])
        return "\n".join([heading, *events_by_day(self.events, view, self.start)])


def search_calendar(
    context: ToolContext,
    start: datetime | None = None,
    end: datetime | None = None,
    text: str = "",
    limit: int = 10,
) -> CalendarFindings:
    """Look up events in the user's own calendars, between two times and optionally by words.

    Use it for any question about the user's plans: what is on a day, whether they are free,
    when something is. All-day events are included. Times come back in the user's time zone.

    Args:
        start: Start of the range, ISO 8601, e.g. "2026-12-03T00:00:00". Without an offset it is
            read in the user's time zone. Defaults to now.
        end: End of the range (exclusive), e.g. "2026-12-04T00:00:00" for the whole of 3 December.
            Defaults to the search horizon (about 90 days after start).
        text: Words to look for in an event's title, place or notes, e.g. "dentist" or "lunch
            priya"; the events that contain the most of them come back. Leave empty to list
            every event in the range.
        limit: At most this many events, the earliest first (1 for "when is my next ...").
    """
    begin = context.localize(start) if start else context.now()
    finish = context.localize(end) if end else begin + timedelta(days=context.search.horizon_days)
    if finish <= begin:
        return CalendarFindings([], begin, finish, text)
    words = [word for word in re.findall(r"\w+", text.lower()) if len(word) > 1]
    events = context.calendar.events(begin, finish)
    if words:
        scores = [_mentions(event, words) for event in events]
        best = max(scores, default=0)
        events = [event for event, score in zip(events, scores, strict=True) if score == best > 0]
    return CalendarFindings(events[: max(1, limit)], begin, finish, text)


def _mentions(event: Event, words: list[str]) -> int:
    """How many of the words an event's title, place or notes contain."""
    haystack = f"{event.title} {event.location} {event.description}".lower()
    # A plural or possessive in the question still finds the singular in the calendar.
    return sum(word in haystack or word.rstrip("s'") in haystack for word in words)


def _iso(moment: datetime, all_day: bool) -> str:
    return moment.date().isoformat() if all_day else moment.isoformat()
