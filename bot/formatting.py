"""How times, days and events read to a person, in their time zone and clock style."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.understanding.times import DateOrder
from integrations.calendar import Event

# A timed event that ends the next day within this is one evening out ("22:30-01:15").
_ONE_NIGHT = timedelta(hours=12)


def clock_time(moment: datetime, clock: str) -> str:
    if clock == "12h":
        text = moment.strftime("%I:%M %p").lstrip("0")
        return text.replace(":00 ", " ") if moment.minute == 0 else text
    return moment.strftime("%H:%M")


def day_name(day: date, view: View) -> str:
    """ "Tuesday 24 November", or "Tuesday, November 24" for a user who writes the month first;
    the year only when it is not this year."""
    text = f"{day:%A} {day.day} {day:%B}"
    return in_date_order(text if day.year == view.today.year else f"{text} {day.year}", view)


# A date as the readings of time phrases write it in their labels ("Saturday 13 March night").
_DAY_FIRST = re.compile(
    r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday) (\d{1,2}) (January|February|"
    r"March|April|May|June|July|August|September|October|November|December)(?: (\d{4}))?\b"
)


def in_date_order(text: str, view: View) -> str:
    """The dates of a text in the user's order: "Thursday, March 11, 2027" for month-first."""
    if view.date_order == "day-first":
        return text

    def month_first(match: re.Match[str]) -> str:
        weekday, day, month, year = match.groups()
        return f"{weekday}, {month} {day}" + (f", {year}" if year else "")

    return _DAY_FIRST.sub(month_first, text)


def event_line(event: Event, view: View, on: date | None = None) -> str:
    """One line of a list: its times (with the day it ends, past one night), title, place.
    Listed `on` a day after the one it began, a timed event is said as going on until it ends
    ("until 7 AM  Night shift (from Tuesday)"), not as if it started again that evening."""
    last_day = event.end.date() - timedelta(days=1)
    start = clock_time(event.start, view.clock) + _there(event.start, event.start_zone, view)
    end = clock_time(event.end, view.clock) + _there(event.end, event.end_zone, view)
    began = ""
    if event.all_day:
        when = "all day" if last_day <= event.start.date() else f"all day to {_day(last_day, view)}"
    elif on is not None and event.start.date() < on:
        ends_later = event.end.date() > on
        when = f"until {_day(event.end.date(), view)} {end}" if ends_later else f"until {end}"
        since = on - event.start.date()
        began = f" (from {event.start:%A})" if since < timedelta(days=7) else ""
        began = began or f" (from {_day(event.start.date(), view)})"
    elif on is not None and event.start.date() > on:  # "Friday night": Saturday's 12:15 am
        when = f"{event.start:%A} {start}–{end}"
    elif event.end.date() != event.start.date() and event.end - event.start > _ONE_NIGHT:
        when = f"{start} to {_day(event.end.date(), view)} {end}"
    else:
        when = f"{start}–{end}"
    where = f" — {event.location}" if event.location else ""
    return f"• {when}  {titled(event)}{began}{where}"


def _there(moment: datetime, zone: str, view: View) -> str:
    """ " (19:40 Madrid time)": a time the calendar set in another zone, said there as well."""
    if not zone:
        return ""
    local = moment.astimezone(ZoneInfo(zone))
    if local.utcoffset() == moment.utcoffset():
        return ""
    return f" ({clock_time(local, view.clock)} {zone.rsplit('/', 1)[-1].replace('_', ' ')} time)"


def titled(event: Event) -> str:
    """The title, and whether the event is still to be confirmed."""
    return f"{event.title} (tentative)" if event.tentative else event.title


def _day(day: date, view: View) -> str:
    return day_name(day, view)


@dataclass(frozen=True)
class View:
    """What a tool result needs to speak to a person: their clock, today, the asked-for time,
    and what the question asks (a list, a count, where, when, how long, notes, free or busy)."""

    clock: str
    today: date
    window_label: str | None = None
    asks: str = "list"
    moment: bool = False  # the window is the hour from a moment asked about ("at 3pm Friday")
    date_order: DateOrder = "day-first"

    @property
    def label(self) -> str | None:
        """The asked-for time as the reply says it, its dates in the user's order."""
        return in_date_order(self.window_label, self) if self.window_label else None


def events_by_day(events: list[Event], view: View, since: datetime) -> list[str]:
    """Event lines under a heading for each day; an event that began earlier counts from `since`."""
    lines: list[str] = []
    current: date | None = None
    for event in events:
        day = max(event.start, since).date()
        if day != current:
            lines.append(f"{day_name(day, view)}:")
            current = day
        lines.append(event_line(event, view, day))
    return lines


def when_text(event: Event, view: View) -> str:
    """A reply's "Thursday 3 December, 19:30-23:00", or "Monday 7 to Wednesday 9 December"."""
    first = day_name(event.start.date(), view)
    if event.all_day:
        last_day = event.end.date() - timedelta(days=1)
        if last_day <= event.start.date():
            return f"{first}, all day"
        return f"{first} to {day_name(last_day, view)}"
    start = clock_time(event.start, view.clock) + _there(event.start, event.start_zone, view)
    end = clock_time(event.end, view.clock) + _there(event.end, event.end_zone, view)
    if event.end.date() == event.start.date() or event.end - event.start <= _ONE_NIGHT:
        return f"{first}, {start}–{end}"
    return f"{first} {start} to {day_name(event.end.date(), view)} {end}"


def duration_text(event: Event) -> str:
    """ "1 hour 30 minutes", "3 days"."""
    if event.all_day:
        days = (event.end.date() - event.start.date()).days
        return f"{days} day{'s' * (days != 1)}"
    # Across a DST change, real time: measured in UTC.
    length = event.end.astimezone(UTC) - event.start.astimezone(UTC)
    days, minutes = length.days, length.seconds // 60
    parts = [f"{days} day{'s' * (days != 1)}"] if days else []
    if minutes >= 60:
        parts.append(f"{minutes // 60} hour{'s' * (minutes // 60 != 1)}")
    if minutes % 60:
        parts.append(f"{minutes % 60} minutes")
    return " ".join(parts) or "no time at all"


def describe(event: Event, view: View, asks: str) -> str:
    """One event, answering what was asked about it."""
    when, title = when_text(event, view), titled(event)
    over = event.end.date() < view.today  # "where was the farewell lunch?"
    if asks == "where":
        if not event.location:
            return f"{title} ({when}) has no place in your calendar."
        return f"{title} {'was' if over else 'is'} at {event.location} — {when}."
    if asks == "duration":
        return f"{title} {'lasted' if over else 'lasts'} {duration_text(event)}: {when}."
    if asks == "who":
        if not event.attendees:
            return f"{title} ({when}) has no guest list in your calendar."
        return f"{title} ({when}): {', '.join(event.attendees)}."
    if asks == "notes":
        if not event.description:
            return f"{title} ({when}) has no notes in your calendar."
        return f"{title} ({when}). Notes: {event.description.strip()}"
    where = f" — {event.location}" if event.location else ""
    return f"{title}: {when}{where}."
