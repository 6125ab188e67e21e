"""Understand a calendar question without a model: its time window, its subject, its intent.

Everything is computed in the zone of the `now` passed in (the user's zone). Days are moved on
the local date and turned into local midnights, so windows stay right across DST changes.

Readings chosen where English is ambiguous:
- "Friday" / "on Friday" / "this Friday": the next Friday, today if today is Friday.
- "next Friday": the first Friday after today (on a Wednesday, the Friday two days later).
- "this weekend": the coming Saturday and Sunday, or what is left of it if we are in it;
  "next weekend": the weekend after that one.
- "this week" / "this month": from now to the start of the next week / month.
- "now" / "right now" / "at the moment" is the coming hour.
- "tonight" runs from 18:00 (or from now, if later) to midnight; "this evening" is 18:00-24:00.
- Explicit dates without a year ("3 December") are today or in the future; a year may be past.
- Labels say "yesterday" / "today" / "tomorrow" when they fit, otherwise "Thursday 3 December",
  with the year only when it is not the current one.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_WEEKDAY = "|".join(WEEKDAYS)
_MONTH = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_NUMBERS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
_NUMBER = "|".join(_NUMBERS)
_PARTS = {"morning": (6, 12), "afternoon": (12, 18), "evening": (18, 24), "night": (18, 24)}
YEARS = range(1900, 2200)  # explicit years outside these are refused, not looked up


@dataclass(frozen=True)
class TimeWindow:
    start: datetime  # aware, user's zone
    end: datetime  # aware, exclusive
    label: str  # how a reply names it: "today", "this weekend", "Thursday 3 December"


@dataclass(frozen=True)
class Question:
    text: str
    window: TimeWindow | None  # None when the question names no time
    subject: str  # words naming an event, "" if none
    next_only: bool  # only the next occurrence is wanted
    problem: str | None  # a kind sentence when the question names an impossible date


class _NoSuchDate(ValueError):
    """A date the calendar does not have; its message is said to the user as is."""


def _at(day: date, hour: int, now: datetime) -> datetime:
    if hour == 24:
        day, hour = day + timedelta(days=1), 0
    return datetime.combine(day, time(hour), tzinfo=now.tzinfo)


def _label(day: date, today: date) -> str:
    if relative := {-1: "yesterday", 0: "today", 1: "tomorrow"}.get((day - today).days):
        return relative
    label = f"{WEEKDAYS[day.weekday()].title()} {day.day} {MONTHS[day.month - 1].title()}"
    return label if day.year == today.year else f"{label} {day.year}"


def _explicit(day: str, month: str, year: str | None, phrase: str, today: date) -> date:
    """Check the date exists, then let dateparser read the phrase the user wrote."""
    d, m = int(day), int(month) if month.isdigit() else _month_number(month)
    if not 1 <= m <= 12:
        raise _NoSuchDate(f"There is no month {m}.")
    if year and int(year) not in YEARS:  # year 0 does not exist, 9999-12-31 has no next day
        raise _NoSuchDate(f"I can look up dates from {YEARS[0]} to {YEARS[-1]} only.")
    longest = calendar.monthrange(int(year) if year else 2000, m)[1]  # 2000 has a 29 February
    if not 1 <= d <= longest:
        in_year = f" in {year}" if year and d <= 29 else ""
        raise _NoSuchDate(f"There is no {d} {MONTHS[m - 1].title()}{in_year}.")
    import dateparser  # imported here: its first import and first parse are slow

    settings = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": datetime.combine(today, time()),
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    parsed = dateparser.parse(phrase, languages=["en"], settings=settings)
    found = parsed.date() if parsed else date(int(year) if year else today.year, m, d)
    if not year and (found.month, found.day) == (today.month, today.day):
        return today  # dateparser's "future" skips today; today is what people mean
    return found


def _month_number(name: str) -> int:
    return next(i for i, month in enumerate(MONTHS, 1) if month.startswith(name[:3]))


def _weekday_from(today: date, name: str, skip_today: bool) -> date:
    ahead = (WEEKDAYS.index(name) - today.weekday()) % 7
    return today + timedelta(days=7 if skip_today and ahead == 0 else ahead)


def _part_of_day(day: date, part: str, now: datetime, label: str) -> TimeWindow:
    start, end = _PARTS[part]
    return TimeWindow(_at(day, start, now), _at(day, end, now), label)


def _tonight(now: datetime) -> TimeWindow:
    evening = _part_of_day(now.date(), "evening", now, "tonight")
    return replace(evening, start=max(now, evening.start))


def _now(now: datetime) -> TimeWindow:
    return TimeWindow(now, now + timedelta(hours=1), "now")


def _weekend(now: datetime, weeks_on: int, label: str) -> TimeWindow:
    today = now.date()
    saturday = today + timedelta(days=5 - today.weekday() + 7 * weeks_on)  # Sunday: yesterday
    monday = _at(saturday + timedelta(days=2), 0, now)
    return TimeWindow(_at(max(saturday, today), 0, now), monday, label)


def _monday(now: datetime, weeks_on: int) -> datetime:
    return _at(now.date() + timedelta(days=7 * weeks_on - now.date().weekday()), 0, now)


def _month_start(now: datetime, months_on: int) -> datetime:
    index = now.year * 12 + now.month - 1 + months_on
    return _at(date(index // 12, index % 12 + 1, 1), 0, now)


DayRule = Callable[[re.Match[str], date], date]
SpanRule = Callable[[re.Match[str], datetime], TimeWindow]

# Phrases naming one day; a part of the day ("tomorrow morning") may narrow them.
_DAYS: list[tuple[str, DayRule]] = [
    (r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", lambda m, t: _explicit(m[3], m[2], m[1], m[0], t)),
    (
        rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})\b(?:,?\s+(\d{{4}})\b)?",
        lambda m, t: _explicit(m[1], m[2], m[3], m[0], t),
    ),
    (
        rf"\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}})\b)?",
        lambda m, t: _explicit(m[2], m[1], m[3], m[0], t),
    ),
    (r"\b(?:the )?day after tomorrow\b", lambda m, t: t + timedelta(days=2)),
    (r"\btoday\b", lambda m, t: t),
    (r"\btomorrow\b", lambda m, t: t + timedelta(days=1)),
    (r"\byesterday\b", lambda m, t: t - timedelta(days=1)),
    (
        rf"\bin (\d{{1,2}}|{_NUMBER}) days?\b",
        lambda m, t: t + timedelta(days=_NUMBERS.get(m[1]) or int(m[1])),
    ),
    (rf"\bnext ({_WEEKDAY})\b", lambda m, t: _weekday_from(t, m[1], skip_today=True)),
    (rf"\b(?:(?:on|this) )?({_WEEKDAY})\b", lambda m, t: _weekday_from(t, m[1], skip_today=False)),
]
_SPANS: list[tuple[str, SpanRule]] = [
    (r"\btonight\b", lambda m, n: _tonight(n)),
    (r"\b(?:right now|now|currently|at the moment)\b", lambda m, n: _now(n)),
    (r"\bthis (morning|afternoon|evening)\b", lambda m, n: _part_of_day(n.date(), m[1], n, m[0])),
    (r"\bnext weekend\b", lambda m, n: _weekend(n, 1, "next weekend")),
    (r"\b(?:this|the) weekend\b", lambda m, n: _weekend(n, 0, "this weekend")),
    (r"\bthis week\b", lambda m, n: TimeWindow(n, _monday(n, 1), "this week")),
    (r"\bnext week\b", lambda m, n: TimeWindow(_monday(n, 1), _monday(n, 2), "next week")),
    (r"\bthis month\b", lambda m, n: TimeWindow(n, _month_start(n, 1), "this month")),
    (r"\bnext month\b", lambda m, n: TimeWindow(_month_start(n, 1), _month_start(n, 2), m[0])),
]


def _whole_day(rule: DayRule) -> SpanRule:
    return lambda m, now: _day(rule(m, now.date()), now)


def _day(day: date, now: datetime) -> TimeWindow:
    return TimeWindow(_at(day, 0, now), _at(day, 24, now), _label(day, now.date()))


# First match wins: dates before spans, and longer phrases before the shorter ones they contain.
_TIME_PHRASES: list[tuple[re.Pattern[str], SpanRule, bool]] = [
    *((re.compile(p), _whole_day(rule), True) for p, rule in _DAYS),
    *((re.compile(p), rule, False) for p, rule in _SPANS),
]
_PART = re.compile(r"\b(morning|afternoon|evening|night)\b")
_TIME_WORDS = {*WEEKDAYS, *MONTHS, *_PARTS, "today", "tonight", "tomorrow", "yesterday", "weekend"}
# fmt: off
_STOPWORDS = {
    "when", "what", "where", "which", "who", "how", "is", "are", "was", "will", "does", "do",
    "did", "am", "can", "have", "has", "got", "i", "i'm", "i've", "me", "my", "mine", "we", "our",
    "the", "a", "an", "this", "that", "there", "it", "any", "anything", "on", "at", "in", "for",
    "of", "to", "with", "from", "about", "up", "please", "tell", "show", "next", "time", "see",
    "seeing", "meet", "meeting", "meetings", "appointment", "appointments", "event", "events",
    "plans", "schedule", "calendar", "agenda", "diary", "free", "busy", "coming", "upcoming",
    "and", "or", "then", "also", "else", "again", "going", "happening", "planned", "booked",
    "be", "it's", "like", "gonna", "need", "should",
}
# fmt: on
_IGNORED = _STOPWORDS | _TIME_WORDS
_NEXT_ONLY = re.compile(r"\bnext\b|\bwhen(?:'s| is) my\b|\bwhen (?:do|am) i\b")
_PERSONAL_CUES = re.compile(
    r"\bmy\b|\b(?:what's|what is|anything) on\b|\b(?:do|did|am|have) i\b"
    r"|\bi(?:'m|'ve| am| have| meet| see)\b|\b(?:meet|meeting|see|seeing) me\b"
    r"|\b(?:schedule|calendar|agenda|plans|diary|appointments?|meetings?|events?)\b"
)
_FOLLOW_UP_FILLER = re.compile(r"\b(?:and|what|how|about|then|on|for)\b|\W")
_PLAN_VERBS = re.compile(r"\b(?:happening|scheduled|booked|planned|going on|due|coming up)\b")


def _normalise(text: str) -> str:
    return text.lower().replace("\u2019", "'")


def _find_time(text: str) -> tuple[re.Match[str], SpanRule, bool] | None:
    for pattern, resolve, one_day in _TIME_PHRASES:
        if match := pattern.search(text):
            return match, resolve, one_day
    return None


def understand(text: str, now: datetime) -> Question:
    """Read a question's time window, subject and intent; an impossible date sets `problem`."""
    lowered = _normalise(text)
    window, problem, rest = None, None, lowered
    if found := _find_time(lowered):
        match, resolve, one_day = found
        rest = lowered[: match.start()] + " " + lowered[match.end() :]
        try:
            window = resolve(match, now)
        except _NoSuchDate as no_such_date:
            problem = str(no_such_date)
        if window and one_day and (part := _PART.search(rest)):
            label = f"this {part[1]}" if window.label == "today" else f"{window.label} {part[1]}"
            window = _part_of_day(window.start.date(), part[1], now, label)
    words = (w.removesuffix("'s") for w in re.findall(r"[a-z0-9]+(?:'[a-z]+)?", rest))
    # The subject keeps the user's capitals: it may be a place to look up ("Dorking").
    as_written = {word.lower(): word for word in re.findall(r"\w+", text)}
    subject = [as_written.get(w, w) for w in words if w not in _IGNORED and not w.isdigit()]
    return Question(text, window, " ".join(subject), bool(_NEXT_ONLY.search(rest)), problem)


def asks_about_personal_event(text: str) -> bool:
    """True when the text asks about one of the user's own events.

    The heuristic: any "my" ("will it rain at my tennis match?"); "I" or "me" next to a plan
    verb ("do I", "am I", "I have", "I'm", "I see", "meeting me"); "what's on" / "anything on";
    a calendar word (schedule, calendar, agenda, plans, diary, appointment, meeting, event); or
    a time phrase together with a plan verb (happening, scheduled, booked, due, ...); or a time
    phrase on its own, as a chat follow-up ("and next week?"). A time phrase among other words is
    not enough: "what's the weather tomorrow?" is not about an event.
    """
    lowered = _normalise(text)
    if _PERSONAL_CUES.search(lowered):
        return True
    found = _find_time(lowered)
    if found is None:
        return False
    match = found[0]
    rest = lowered[: match.start()] + lowered[match.end() :]
    return bool(_PLAN_VERBS.search(lowered)) or not _FOLLOW_UP_FILLER.sub("", rest)
