"""Claude's reading of a question: the shape it must answer in, and its checks.

`Reading` is what Claude is asked for through structured outputs (its JSON schema is sent
with the request): the kind of message and what it asks, in the same words as the offline
reader's `Question`; the time window as absolute local times, resolved against the clock the
prompt gives; and the words naming an event. `question_from` checks a reading against the
question and the clock and turns it into the `Question` the rules search with; a reading that
fails a check raises `Unusable`, and the caller falls back to the offline reader.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rapidfuzz import fuzz

from bot.understanding import Asks, Kind, Question, TimeWindow, past_year
from bot.understanding.times import (
    MOMENT,
    PartOfDay,
    in_each,
    moment_label,
    whole_day,
    window_label,
)

# How far from now a window may lie, and how long it may be: past this it is no reading of an
# everyday question but a mistake (a wrong year), and the offline reader does better.
REACH = timedelta(days=2 * 366)
LONGEST = timedelta(days=366)
MAX_TERMS = 6
# How close a search word must be to a word of the question ("dentists" for "dentist").
NEAR = 80

INSTRUCTIONS = """\
Read the user's latest message into the JSON asked for; do not answer it.
kind: "calendar" for anything about the user's own plans, events, schedule or free time, \
however it is phrased; "write" for any request to change the calendar or contact someone \
(cancel, move, add, book, invite, remind, message, tell someone...); "small_talk" for \
greetings, thanks and the like; "other" for everything else (general knowledge, the weather \
alone, writing, arithmetic).
asks: what the answer must say: "list" the events; "count" how many; "where" the place; \
"when" the day and time; "duration" how long; "free" or "busy" whether the user is free or \
busy (as they asked it); "notes" the event's notes, link or what to bring; "last" the most \
recent past one; "until" how many days until it; "who" who is invited or coming; "day_off" \
the next day without work.
window: the time the message names, as start (inclusive) and end (exclusive) in the user's \
time zone, resolved against the current time above; null when it names no time. A day is \
midnight to midnight; "tonight" 18:00 to midnight; "this weekend" Saturday and Sunday; \
"next Friday" the Friday of next week; "this week" from now to Monday; a past tense means \
the past ("what did I do on Monday" is the Monday just gone).
moment: for "am I free at 3pm Friday?", the moment asked about; otherwise null.
terms: the words naming the event, as the user wrote them (keep "my" and possessives: \
"my birthday", "Sam's party"); no time words, no filler; [] when no event is named.
only_next: true when one event is wanted and no time is named ("when is my dentist?").
part_of_day: for "in the mornings next week" or "any free evening this week", that part of \
each day of the window; otherwise null.
during: true for "what's on while I'm in Sydney?" or "during my stay in Cork": the events \
while the one the terms name lasts (terms name that stay, window null); otherwise false.\
"""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    start: datetime = Field(description="ISO 8601 with the user's UTC offset")
    end: datetime = Field(description="ISO 8601 with the user's UTC offset; exclusive")


class Reading(_Strict):
    """A question as Claude reads it."""

    kind: Kind
    asks: Asks
    window: Window | None
    moment: datetime | None = Field(description="ISO 8601 with the user's UTC offset, or null")
    terms: list[str]
    only_next: bool
    part_of_day: PartOfDay | None
    during: bool


class Unusable(ValueError):
    """Claude's reading cannot be used; the message says why, for the trace."""


def question_from(text: str, reply: str, now: datetime, clock: str) -> Question:
    """The question Claude's JSON `reply` reads `text` as; `now` is the clock the prompt gave."""
    try:
        reading = Reading.model_validate_json(reply)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "the reading"
        raise Unusable(f"not the JSON asked for ({where}: {problem['msg']})") from None
    if reading.kind != "calendar":
        return Question(text, None, "", False, None, kind=reading.kind)
    moment = _local(reading.moment, now) if reading.moment else None
    window = _window(reading, moment, now, clock)
    if reading.asks == "last" and window is None:
        window = past_year(now)
    part_of_day = reading.part_of_day or ""
    if part_of_day and window:
        window = in_each(window, part_of_day)
    during = reading.during and bool(reading.terms) and window is None
    return Question(
        text=text,
        window=window,
        subject=" ".join(_terms(reading.terms, text)),
        next_only=reading.only_next and window is None and not during,
        problem=None,
        kind="calendar",
        asks=reading.asks,
        moment=moment if reading.asks in ("free", "busy") else None,
        part_of_day=part_of_day,
        during=during,
    )


def _local(moment: datetime, now: datetime) -> datetime:
    """A time in the user's zone: one without an offset is read in it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=now.tzinfo)
    moment = moment.astimezone(now.tzinfo)
    if abs(moment - now) > REACH:
        raise Unusable(f"{moment:%Y-%m-%d} is too far from today")
    return moment


def _window(
    reading: Reading, moment: datetime | None, now: datetime, clock: str
) -> TimeWindow | None:
    if moment is not None and reading.asks in ("free", "busy"):
        return TimeWindow(moment, moment + MOMENT, moment_label(moment, now, clock))
    if reading.window is None:
        return None
    start, end = _local(reading.window.start, now), _local(reading.window.end, now)
    if not start < end <= start + LONGEST:
        raise Unusable(f"the window {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} is not one")
    day = whole_day(start.date(), now)
    if (start, end) == (day.start, day.end):
        return day
    return TimeWindow(start, end, window_label(start, end, now, clock))


def _terms(terms: list[str], text: str) -> list[str]:
    """The search words, each one the question's own or close to one of them (never a word the
    model brought in: the search would find an event the user did not name)."""
    if len(terms) > MAX_TERMS:
        raise Unusable(f"{len(terms)} search terms")
    asked = re.findall(r"[\w']+", text.lower().replace("’", "'"))
    for term in terms:
        for word in re.findall(r"[\w']+", term.lower().replace("’", "'")):
            if not any(fuzz.ratio(word, said) >= NEAR for said in asked):
                raise Unusable(f"the search term {term!r} is not in the question")
    return [term.strip() for term in terms if term.strip()]


SCHEMA = Reading.model_json_schema()
