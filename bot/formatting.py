"""How times, days and events read to a person, in their time zone and clock style."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from integrations.calendar import Event


def clock_time(moment: datetime, clock: str) -> str:
    if clock == "12h":
        text = moment.strftime("%I:%M %p").lstrip("0")
        return text.replace(":00 ", " ") if moment.minute == 0 else text
    return moment.strftime("%H:%M")


def day_name(day: date, today: date) -> str:
    """'Tuesday 24 November', with the year only when it is not this year."""
    text = f"{day:%A} {day.day} {day:%B}"
    return text if day.year == today.year else f"{text} {day.year}"


def title(event: Event) -> str:
    """The event's title, saying when it is not confirmed."""
    return f"{event.title} (tentative)" if event.tentative else event.title


def event_line(event: Event, clock: str, day: date | None = None) -> str:
    """One event in a list of `day`'s: an end or start on another day names that day's weekday
    ("Fri 7 PM to 7:30 AM" under Saturday), so a night shift is not read as starting again."""
    if event.all_day:
        last = event.end.date() - timedelta(days=1)
        when = (
            "all day"
            if last <= event.start.date()
            else f"all day, to {last:%a} {last.day} {last:%b}"
        )
    else:
        start, end = clock_time(event.start, clock), clock_time(event.end, clock)
        if day is not None and event.start.date() != day:
            start = f"{event.start:%a} {start}"
        elif day is not None and event.end.date() != day and event.end.time() != time(0):
            end = f"{event.end:%a} {end}"
        when = f"{start}–{end}"
    where = f" — {event.location}" if event.location else ""
    return f"• {when}  {title(event)}{where}"


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
        lines.append(event_line(event, view.clock, day))
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
    if event.end.date() == event.start.date() or event.end - event.start <= timedelta(hours=12):
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
    when, name = when_text(event, view), title(event)
    if asks == "where":
        if not event.location:
            return f"{name} ({when}) has no place in your calendar."
        return f"{name} is at {event.location} — {when}."
    if asks == "duration":
        return f"{name} lasts {duration_text(event)}: {when}."
    if asks == "notes":
        if not event.description:
            return f"{name} ({when}) has no notes in your calendar."
        return f"{name} ({when}). Notes: {event.description.strip()}"
    where = f" — {event.location}" if event.location else ""
    return f"{name}: {when}{where}."
