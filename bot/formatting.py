"""How times, days and events read to a person, in their time zone and clock style."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

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


def event_line(event: Event, clock: str) -> str:
    if event.all_day:
        when = "all day"
    else:
        when = f"{clock_time(event.start, clock)}–{clock_time(event.end, clock)}"
    where = f" — {event.location}" if event.location else ""
    return f"• {when}  {event.title}{where}"


@dataclass(frozen=True)
class View:
    """What a tool result needs to speak to a person: their clock, today, and the asked-for time."""

    clock: str
    today: date
    window_label: str | None = None


def events_by_day(events: list[Event], view: View, since: datetime) -> list[str]:
    """Event lines under a heading for each day; an event that began earlier counts from `since`."""
    lines: list[str] = []
    current: date | None = None
    for event in events:
        day = max(event.start, since).date()
        if day != current:
            lines.append(f"{day_name(day, view.today)}:")
            current = day
        lines.append(event_line(event, view.clock))
    return lines
