"""Days off: which days of a calendar hold work, read from its events' titles.

An event is work when its title says so: a shift, work or working ("Working from home"), the
office, duty, a rota, being on call. A shift counts for the day it starts (a night shift is that
evening's work); an all-day entry for every day it covers. Time off said in a title ("PTO",
"day off", "annual leave", "vacation") makes a day off whatever else it holds. A calendar with
no work in it cannot tell days off from the rest, and says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta

from integrations.calendar import Event

WORK = re.compile(r"\b(?:shifts?|work|working|office|duty|rota|on[- ]call|wfh)\b", re.IGNORECASE)
TIME_OFF = re.compile(
    r"\b(?:days? off|time off|off work|pto|annual leave|vacation|out of office)\b", re.IGNORECASE
)


def is_work(event: Event) -> bool:
    return bool(WORK.search(event.title)) and not TIME_OFF.search(event.title)


def first_day_off(events: list[Event], first: date, last: date) -> date | None:
    """The first day from `first` to `last` with no work on it, or with time off."""
    worked, off = set(), set()
    for event in events:
        if TIME_OFF.search(event.title):
            off.update(_days(event))
        elif is_work(event):
            worked.update(_days(event) if event.all_day else [event.start.date()])
    day = first
    while day <= last:
        if day in off or day not in worked:
            return day
        day += timedelta(days=1)
    return None


def _days(event: Event) -> Iterator[date]:
    """The days an event covers (an all-day one ends the day before its exclusive end)."""
    day, last = event.start.date(), (event.end - timedelta(microseconds=1)).date()
    while day <= last:
        yield day
        day += timedelta(days=1)
