"""How times, days and events read to a person, in their time zone and clock style."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from integrations.calendar import Event

# A timed event that ends the next day within this is one evening out ("22:30-01:15").
_ONE_NIGHT = timedelta(hours=12)


def clock_time(moment: datetime, clock: str) -> str:
    if clock == "12h":
        text = moment.strftime("%I:%M %p").lstrip("0")
        return text.replace(":00 ", " ") if moment.minute == 0 else text
    return moment.strftime("%H:%M")


def day_name(day: date, today: date) -> str:
    """'Tuesday 24 November', with the year only when it is not this year."""
    text = f"{day:%A} {day.day} {day:%B}"
    return text if day.year == today.year else f"{text} {day.year}"


def event_line(event: Event, view: View) -> str:
    """One line of a list: its times (with the day it ends, past one night), title, place."""
    last_day = event.end.date() - timedelta(days=1)
    if event.all_day:
        when = "all day" if last_day <= event.start.date() else f"all day to {_day(last_day, view)}"
    else:
        start, end = clock_time(event.start, view.clock), clock_time(event.end, view.clock)
        if event.end.date() != event.start.date() and event.end - event.start > _ONE_NIGHT:
            when = f"{start} to {_day(event.end.date(), view)} {end}"
        else:
            when = f"{start}–{end}"
    where = f" — {event.location}" if event.location else ""
    return f"• {when}  {titled(event)}{where}"


def titled(event: Event) -> str:
    """The title, and whether the event is still to be confirmed."""
    return f"{event.title} (tentative)" if event.tentative else event.title


def _day(day: date, view: View) -> str:
    return day_name(day, view.today)


@dataclass(frozen=True)
class View:
    """What a tool result needs to speak to a person: their clock, today, the asked-for time,
    and what the question asks (a list, a count, where, when, how long, notes, free or busy)."""

    clock: str
    today: date
    window_label: str | None = None
    asks: str = "list"
    moment: bool = False  # the window is the hour from a moment asked about ("at 3pm Friday")


def events_by_day(events: list[Event], view: View, since: datetime) -> list[str]:
    """Event lines under a heading for each day; an event that began earlier counts from `since`."""
    lines: list[str] = []
    current: date | None = None
    for event in events:
        day = max(event.start, since).date()
        if day != current:
            lines.append(f"{day_name(day, view.today)}:")
            current = day
        lines.append(event_line(event, view))
    return lines


def when_text(event: Event, view: View) -> str:
    """A reply's "Thursday 3 December, 19:30-23:00", or "Monday 7 to Wednesday 9 December"."""
    first = day_name(event.start.date(), view.today)
    if event.all_day:
        last_day = event.end.date() - timedelta(days=1)
        if last_day <= event.start.date():
            return f"{first}, all day"
        return f"{first} to {day_name(last_day, view.today)}"
    start, end = clock_time(event.start, view.clock), clock_time(event.end, view.clock)
    if event.end.date() == event.start.date() or event.end - event.start <= _ONE_NIGHT:
        return f"{first}, {start}–{end}"
    return f"{first} {start} to {day_name(event.end.date(), view.today)} {end}"


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
