"""Time phrases to windows: Duckling reads them; a few readings of our own fill its gaps.

Everything is computed in the zone of the `now` passed in (the user's zone). Days are moved on
the local date and turned into local midnights, so windows stay right across DST changes.

Before Duckling: shorthand and misspellings are corrected (words.correct), numeric dates are
rewritten in the user's date order ("3.1." day-first is 3 January), meal words are kept out
(Duckling reads "lunch" as 12:00 to 14:00, but "lunch with Omar" names an event), and impossible
dates are explained instead of guessed.

Readings chosen where English is ambiguous (Duckling's own differ on some):
- "Friday" / "on Friday" / "this Friday": the next Friday, today if today is Friday; in a
  question in the past tense ("what did I do on Monday?") the last one.
- "next Friday": Duckling's: the Friday of next week.
- "this weekend": Saturday and Sunday (what is left of them if we are in it); "next weekend"
  the one after; "the weekend after next" the one after that.
- "this week" / "my week" / "this month": from now to the next Monday / the 1st; on a
  Sunday, "this week" runs to the end of the week about to start.
- "the next 5 days": from now to the end of the fourth day after today (today counts).
- "after 7pm Wednesday" runs to the end of that day; "before noon tomorrow" from its start.
- "until Friday" includes Friday; "between now and the end of January" runs from now.
- "after the 5th" / "from the 5th": from the day after / that day on, OPEN_ENDED long; "since
  the start of December" from then to now.
- "the first weekend of January": its first Saturday and the Sunday after; "the Friday before
  last" the one before last Friday.
- A date in a question in the past tense is the last one (see `_looking_back`).
- A bare hour without am/pm from 1 to 7 ("between 2 and 4") is in the afternoon.
- A moment ("am I free at 3pm Friday?") is the hour from it: events overlapping it count.
"""

from __future__ import annotations

import calendar
import logging
import re
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any, Literal

from bot.understanding.duckling import Found, find_times
from bot.understanding.words import FUNCTION_WORDS, MONTHS, VAGUE_WORDS, WEEKDAYS

log = logging.getLogger(__name__)
DateOrder = Literal["day-first", "month-first"]
YEARS = range(1900, 2200)  # explicit years outside these are refused, not looked up
MOMENT = timedelta(hours=1)
# How far "after the 5th" or "from Christmas on" reaches: a list that long is cut short anyway.
OPEN_ENDED = timedelta(weeks=8)
DAY = timedelta(days=1)
# Countries that write the month first in numeric dates (12/14 is 14 December).
MONTH_FIRST = {"US", "PH", "FM", "MH", "PW", "AS", "GU", "MP", "PR", "VI", "UM", "CA", "BZ"}
# Usual hours of a meal, when a question uses one as a time ("am I free for lunch?").
MEAL_HOURS = {"breakfast": (7, 10), "brunch": (10, 14), "lunch": (12, 14), "dinner": (18, 22),
              "supper": (18, 22)}  # fmt: skip
_MEAL_TIME = re.compile(
    r"\b(?:for|at|over|around|during) (breakfast|brunch|lunch|lunchtime|dinner|supper)\b(?! with\b)"
)
_MEALS = re.compile(r"\b(?:breakfast|brunch|lunch|lunchtime|dinner|supper|tea)\b")
_BARE_TWELVE = re.compile(r"\b12(?::00)?\b(?!\s*(?:a\.?m|midnight|at night))")
_UP_TO = re.compile(r"\b((?:am i|are (?:you|we|they)|i'm|we're|is \w+) )(up to)\b")
# Not "what's first thing tomorrow?": the first event of the day, whenever it is.
_FIRST_THING = re.compile(
    r"(?<!what's )(?<!what is )\bfirst thing (?:in the morning )?(?:on )?"
    r"(today|tomorrow|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b"
)
# "What's my day look like?": today, when nothing else names the day.
_MY_DAY = re.compile(r"\bmy day\b(?! (?:off|out|trip|after|before|of)\b)")
# "What's first on Friday?", "where do I go first tomorrow?": the first event, not the 1st.
_FIRST_EVENT = re.compile(r"(?<=what's )first\b|\bfirst(?= (?:on|up|today|tomorrow|tonight)\b)")
_NOT_A_NAME = (
    FUNCTION_WORDS | VAGUE_WORDS | {"eve", "period", "holidays", "hols", "break", "season"}
)
_HOURS_THEN_DAY = re.compile(
    rf"\b((?:between|from) [\d:.apm ]+? (?:and|to|till|until|-) [\d:.]+(?: ?[ap]\.?m\.?)?) "
    rf"((?:on )?(?:today|tonight|tomorrow|{'|'.join(WEEKDAYS)}))\b"
)
_BETWEEN = re.compile(r"\bbetween\b|\bfrom\b.*(?:\bto\b|\btill\b|\buntil\b|-)")
_UNTIL = re.compile(r"\b(?:until|till|til|thru|through)\b")
# "Over Christmas", "for Easter": the holiday's days (before, after) rather than its date.
_OVER = re.compile(r"\b(?:over|during|across|throughout|around|for|at)(?: the)?\s*$")
_HOLIDAY_DAYS = {
    "Christmas": ("Christmas", 1, 1),
    "Easter Sunday": ("Easter", 2, 1),
    "New Year's Day": ("the New Year", 1, 0),
}
_PAST = re.compile(r"\b(?:did|was|were|had|went|happened|last)\b")
# A verb in the past: "what did I do on Nov 21?" asked in December is last month's 21st.
_PAST_VERB = re.compile(r"\b(?:did|was|were|had|went|happened)\b")
_NAMES_A_YEAR_OR_RELATIVE = re.compile(r"\b(?:\d{4}|next|this|coming|tomorrow|today|after)\b")
_MONTH = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_THE_PART = re.compile(r"\b((?:for|in|during|through) )the (morning|afternoon|evening|night)\b")
# "On 28th", "for 21st": a bare ordinal after a preposition is a day of the month, as "the
# 28th" is (Duckling reads it alone as a number).
_BARE_ORDINAL = re.compile(
    rf"\b(on|for|by|from|to|till|until|before|after|since) (\d{{1,2}}(?:st|nd|rd|th))\b"
    rf"(?! (?:of )?(?:{_MONTH})\b)"
)
_NUMBERS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
            "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "a few": 3}  # fmt: skip
_COUNT = r"\d{1,3}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True))


@dataclass(frozen=True)
class TimeWindow:
    start: datetime  # aware, user's zone
    end: datetime  # aware, exclusive
    label: str  # how a reply names it: "today", "this weekend", "Thursday 3 December"


@dataclass(frozen=True)
class TimeReading:
    window: TimeWindow | None
    moment: datetime | None = None  # "at 3pm Friday": the moment asked about
    span: tuple[int, int] | None = None  # where the phrase is in the corrected text
    problem: str | None = None  # a kind sentence for an impossible date
    holiday: str = ""  # the holiday named ("Christmas"), not a subject
    meal: str = ""  # a meal said as a time ("free for lunch"), not a subject


class NoSuchDate(ValueError):
    """A date the calendar does not have; its message is said to the user as is."""


@cache
def country_of(zone: str) -> str:
    """The ISO country code of an IANA zone ("Europe/London" → "GB"), "" if it has none."""
    from importlib.resources import files

    import tzdata

    for line in (files(tzdata) / "zoneinfo" / "zone.tab").read_text().splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and not line.startswith("#") and fields[2] == zone:
            return fields[0]
    return ""


def date_order_for(zone: str) -> DateOrder:
    return "month-first" if country_of(zone) in MONTH_FIRST else "day-first"


def at(day: date, hour: int, zone: Any, minute: int = 0) -> datetime:
    if hour == 24:
        day, hour = day + timedelta(days=1), 0
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def day_label(day: date, today: date) -> str:
    if relative := {-1: "yesterday", 0: "today", 1: "tomorrow"}.get((day - today).days):
        return relative
    label = f"{WEEKDAYS[day.weekday()].title()} {day.day} {MONTHS[day.month - 1].title()}"
    return label if day.year == today.year else f"{label} {day.year}"


def clock_label(moment: datetime, clock: str) -> str:
    if clock == "12h":
        text = moment.strftime("%I:%M %p").lstrip("0").lower()
        return text.replace(":00 ", " ").replace(" ", "") if moment.minute == 0 else text
    return moment.strftime("%H:%M")


def whole_day(day: date, now: datetime) -> TimeWindow:
    return TimeWindow(at(day, 0, now.tzinfo), at(day, 24, now.tzinfo), day_label(day, now.date()))


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _weekend(now: datetime, weeks_on: int) -> TimeWindow:
    today = now.date()
    saturday = today + timedelta(days=5 - today.weekday() + 7 * weeks_on)  # Sunday: yesterday
    label = {0: "this weekend", 1: "next weekend", -1: "last weekend"}.get(weeks_on)
    label = label or f"the weekend of {day_label(saturday, today)}"
    start = at(max(saturday, today) if weeks_on == 0 else saturday, 0, now.tzinfo)
    return TimeWindow(start, at(saturday + timedelta(days=2), 0, now.tzinfo), label)


def _week(now: datetime, weeks_on: int) -> TimeWindow:
    monday = _monday(now.date()) + timedelta(days=7 * weeks_on)
    end = at(monday + timedelta(days=7), 0, now.tzinfo)
    if weeks_on == 0:
        if now.weekday() == 6:  # on a Sunday, "this week" is mostly the one about to start
            end = at(monday + timedelta(days=14), 0, now.tzinfo)
        return TimeWindow(now, end, "this week")
    label = {1: "next week", -1: "last week"}.get(weeks_on)
    return TimeWindow(at(monday, 0, now.tzinfo), end, label or f"the week of {monday:%-d %B}")


def _next_week(match: re.Match[str], now: datetime) -> TimeWindow:
    """ "Next week", or a day of it ("wednesday next week"), or part of one ("saturday morning
    next week")."""
    if not match[1]:
        return _week(now, 1)
    monday = _monday(now.date()) + timedelta(days=7)
    day = monday + timedelta(days=WEEKDAYS.index(match[1]))
    if not match[2]:
        return whole_day(day, now)
    if match[2] == "night":
        return _night_of(day, now, f"{day_label(day, now.date())} night")
    first, last = PARTS_OF_DAY[match[2]]
    start, end = at(day, first, now.tzinfo), at(day, last, now.tzinfo)
    return TimeWindow(start, end, window_label(start, end, now, "24h"))


def _days_from_now(now: datetime, days: int, label: str) -> TimeWindow:
    return TimeWindow(now, at(now.date() + timedelta(days=days), 0, now.tzinfo), label)


def _weekday_ahead(today: date, name: str) -> date:
    return today + timedelta(days=(WEEKDAYS.index(name) - today.weekday()) % 7)


def _count(word: str) -> int:
    return _NUMBERS.get(word) or int(word)


Rule = tuple[re.Pattern[str], Any]  # the pattern and (match, now) -> TimeWindow
_WEEKDAY = "|".join(WEEKDAYS)
_ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3,
             "4th": 3, "last": -1}  # fmt: skip
_RULES: list[tuple[str, Any]] = [
    # "Monday through Wednesday next week", "from Tuesday till Thursday": the days between.
    (
        rf"\b(?:from )?({_WEEKDAY}) (?:through|thru|to|till|til|until|-) ({_WEEKDAY})"
        r"(?: (?:of )?(this|next) week)?\b",
        lambda m, n: _weekday_span(m, n),
    ),
    # "The weekend of the 27th", "the weekend of June 12th": the weekend holding or beside it.
    (
        rf"\b(?:the )?(?:weekend|wkend) of (?:the )?(?:({_MONTH}) (\d{{1,2}})(?:st|nd|rd|th)?"
        rf"|(\d{{1,2}})(?:st|nd|rd|th)?(?: (?:of )?({_MONTH}))?)\b",
        lambda m, n: _weekend_of_date(m, n),
    ),
    # "The first two weeks of May", "the last week of June", "the second half of March".
    (
        rf"\b(?:the )?(first|last) (?:({_COUNT}) weeks|week) of ({_MONTH})\b",
        lambda m, n: _weeks_of_month(m, n),
    ),
    (rf"\b(?:the )?(first|second|last) half of ({_MONTH})\b", lambda m, n: _half_of_month(m, n)),
    # "Early next week": Monday to Wednesday; "late this week", "later next week": Thursday on.
    (r"\b(early|late|later) (?:on )?(this|next) week\b", lambda m, n: _part_of_week(m, n)),
    (
        rf"\b(?:the )?({'|'.join(_ORDINALS)}) (?:weekend|wkend) (?:of|in) ({_MONTH})\b",
        lambda m, n: _weekend_of_month(m, n),
    ),
    (r"\b(?:the )?weekend after next\b", lambda m, n: _weekend(n, 2)),
    (r"\bnext (?:weekend|wkend)\b", lambda m, n: _weekend(n, 1)),
    (r"\b(?:last|this past|the past) weekend\b", lambda m, n: _weekend(n, -1)),
    (r"\b(?:this|the|at the|on the|over the) weekend\b|\bweekend\b", lambda m, n: _weekend(n, 0)),
    (r"\b(?:the )?week after next\b", lambda m, n: _week(n, 2)),
    # "The Friday before last": the one before the last one (Duckling reads one ahead).
    (rf"\b(?:the )?({_WEEKDAY}) before last\b", lambda m, n: _weekday_before_last(m[1], n)),
    # Not "the week off", "the week after", "the week of the 14th", "the day of the week".
    (
        r"(?<!\bof )\b(?:my|this|the rest of the|rest of the|the|rest of my|"
        # "is it a busy week?": how this week is, asked of it.
        r"an? (?:busy|full|packed|hectic|quiet|light|heavy|big|long|crazy|mad|good)) week\b"
        r"(?! (?:off|after|before|of|following|ahead)\b)",
        lambda m, n: _week(n, 0),
    ),
    (
        rf"\b(?:({_WEEKDAY})(?: (morning|afternoon|evening|night))? (?:of )?)?next week\b",
        lambda m, n: _next_week(m, n),
    ),
    (r"\blast week\b", lambda m, n: _week(n, -1)),
    (
        rf"\b(?:over |in |for )?(?:the )?(?:next|coming) ({_COUNT}) days\b",
        lambda m, n: _days_from_now(n, _count(m[1]), f"the next {_count(m[1])} days"),
    ),
    (
        rf"\b(?:over |in |for )?(?:the )?(?:next|coming) ({_COUNT}) weeks\b",
        lambda m, n: _days_from_now(n, 7 * _count(m[1]), f"the next {_count(m[1])} weeks"),
    ),
    (
        r"\b(?:over |in |for )?(?:the )?(?:next|coming) fortnight\b",
        lambda m, n: _days_from_now(n, 14, "the next two weeks"),
    ),
    (
        rf"\b(?:a week|a fortnight) (?:on |from )?({_WEEKDAY}|today|tomorrow)\b"
        rf"|\b({_WEEKDAY}|today|tomorrow) (?:week|fortnight)\b",
        lambda m, n: _a_week_on(m, n),
    ),
    (
        r"\b(?:until|till|til|through|thru|to|by|before) (?:the )?end of "
        r"(?:the |this )?(month|year)\b",
        lambda m, n: _to_end_of(m[1], n),
    ),
    # "From now till the end of Nov": to the end of the next such month.
    (
        rf"\b(?:until|till|til|through|thru|to|by|before|now and) (?:the )?end of ({_MONTH})\b",
        lambda m, n: _to_end_of_month(m[1], n),
    ),
    (r"\b(?:the )?end of (?:the |this )?month\b", lambda m, n: _month_end(n, 0)),
    (r"\b(?:the )?end of next month\b", lambda m, n: _month_end(n, 1)),
    (r"\b(?:the )?(?:next )?(?:bank|public) holiday\b", lambda m, n: _next_public_holiday(n)),
    *[
        (pattern, lambda m, n, day=day: _observance(day, n))
        for pattern, day in {
            r"\b(?:bonfire|guy fawkes|fireworks) night\b": (11, 5, "Bonfire Night"),
            r"\b(?:armistice|remembrance) day\b": (11, 11, "Armistice Day"),
        }.items()
    ],
    (r"\b(?:right now|currently|at the moment)\b", lambda m, n: _right_now(n)),
    # "Later today", "the rest of the day": from now, not what is already over.
    (
        r"\blater (?:on )?today\b|\b(?:the )?rest of (?:the day|today)\b"
        r"|\b(?:left|remaining) (?:for )?today\b",
        lambda m, n: TimeWindow(n, whole_day(n.date(), n).end, "later today"),
    ),
    (
        r"\b(?:(today|tomorrow) )?(?:before |by |until |till |til )?(?:the )?"
        r"(?:eod|end of (?:the )?day|cob|close of business)(?: (today|tomorrow))?\b",
        lambda m, n: _to_end_of_day(m, n),
    ),
]
_OWN_RULES: list[Rule] = [(re.compile(pattern), rule) for pattern, rule in _RULES]


def _weekday_span(match: re.Match[str], now: datetime) -> TimeWindow:
    today = now.date()
    if match[3]:
        first = _monday(today) + timedelta(days=7 * (match[3] == "next") + WEEKDAYS.index(match[1]))
    else:
        first = _weekday_ahead(today, match[1])
    last = _weekday_ahead(first, match[2])
    label = f"{day_label(first, today)} to {day_label(last, today)}"
    return TimeWindow(at(first, 0, now.tzinfo), at(last, 24, now.tzinfo), label)


def _month_ahead(name: str, now: datetime) -> tuple[int, int]:
    """The year and number of the month named, in its current or next occurrence."""
    month = _month_number(name)
    return now.year + (month < now.month), month


def _weekend_of_date(match: re.Match[str], now: datetime) -> TimeWindow:
    today = now.date()
    named = match[1] or match[4]
    number = int(match[2] or match[3])
    if named:
        year, month = _month_ahead(named, now)
    else:  # "the 27th": this month's if still ahead, else next month's
        year, month = (today.year, today.month)
        if number < today.day:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    if number > calendar.monthrange(year, month)[1]:
        raise NoSuchDate(f"There is no {number} {MONTHS[month - 1].title()}.")
    day = date(year, month, number)
    # A Sunday or Monday belongs to the weekend just before it; other days to the one after.
    saturday = day + timedelta(days=(5 - day.weekday()) % 7)
    if day.weekday() in (6, 0):
        saturday -= timedelta(days=7)
    return TimeWindow(
        at(saturday, 0, now.tzinfo),
        at(saturday + timedelta(days=2), 0, now.tzinfo),
        f"the weekend of {day_label(saturday, today)}",
    )


def _days_of_month(first: date, last: date, now: datetime) -> TimeWindow:
    label = f"{day_label(first, now.date())} to {day_label(last, now.date())}"
    return TimeWindow(at(first, 0, now.tzinfo), at(last, 24, now.tzinfo), label)


def _weeks_of_month(match: re.Match[str], now: datetime) -> TimeWindow:
    year, month = _month_ahead(match[3], now)
    days = 7 * (_count(match[2]) if match[2] else 1)
    start, end = date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    if match[1] == "first":
        return _days_of_month(start, min(end, start + timedelta(days=days - 1)), now)
    return _days_of_month(max(start, end - timedelta(days=days - 1)), end, now)


def _half_of_month(match: re.Match[str], now: datetime) -> TimeWindow:
    year, month = _month_ahead(match[2], now)
    last = calendar.monthrange(year, month)[1]
    if match[1] == "first":
        return _days_of_month(date(year, month, 1), date(year, month, 15), now)
    return _days_of_month(date(year, month, 16), date(year, month, last), now)


def _part_of_week(match: re.Match[str], now: datetime) -> TimeWindow:
    monday = _monday(now.date()) + timedelta(days=7 * (match[2] == "next"))
    first, last = (0, 2) if match[1] == "early" else (3, 6)
    start = max(now, at(monday + timedelta(days=first), 0, now.tzinfo))
    if match[1] == "later" and match[2] == "this":
        start = now  # "later this week": whatever is still to come
    end = at(monday + timedelta(days=last), 24, now.tzinfo)
    return TimeWindow(start, end, f"{match[1]} {match[2]} week")


def _weekday_before_last(name: str, now: datetime) -> TimeWindow:
    today = now.date()
    last = today - timedelta(days=(today.weekday() - WEEKDAYS.index(name) - 1) % 7 + 1)
    return whole_day(last - timedelta(days=7), now)


def _weekend_of_month(match: re.Match[str], now: datetime) -> TimeWindow:
    """ "The first weekend of January": the month's first Saturday and the Sunday after (the
    last one: its last Saturday), in the month's next coming (or current) occurrence."""
    year, month = _month_ahead(match[2], now)
    last_day = calendar.monthrange(year, month)[1]
    saturdays = [
        date(year, month, day)
        for day in range(1, last_day + 1)
        if date(year, month, day).weekday() == 5
    ]
    saturday = saturdays[_ORDINALS[match[1]]]
    window = TimeWindow(
        at(saturday, 0, now.tzinfo),
        at(saturday + timedelta(days=2), 0, now.tzinfo),
        f"the weekend of {day_label(saturday, now.date())}",
    )
    return window


def _right_now(now: datetime) -> TimeReading:
    """ "What's on right now?": the moment, and what runs in the coming hour."""
    return TimeReading(TimeWindow(now, now + MOMENT, "now"), moment=now)


def _to_end_of_day(match: re.Match[str], now: datetime) -> TimeWindow:
    """ "before EOD tomorrow": from now to the end of that day."""
    days = 1 if "tomorrow" in (match[1], match[2]) else 0
    end = at(now.date() + timedelta(days=days + 1), 0, now.tzinfo)
    return TimeWindow(now, end, "from now to the end of tomorrow" if days else "today")


def _a_week_on(match: re.Match[str], now: datetime) -> TimeWindow:
    named = match[1] or match[2]
    weeks = 2 if "fortnight" in match[0] else 1
    offset = {"today": 0, "tomorrow": 1}
    today = now.date()
    day = today + timedelta(days=offset[named]) if named in offset else _weekday_ahead(today, named)
    if named in WEEKDAYS and day == today:
        day += timedelta(days=7)
    return whole_day(day + timedelta(days=7 * weeks), now)


def _to_end_of(period: str, now: datetime) -> TimeWindow:
    """ "Everything till the end of the year": from now to the end of this month or year."""
    today = now.date()
    if period == "year":
        following = date(today.year + 1, 1, 1)
    else:
        following = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return TimeWindow(now, at(following, 0, now.tzinfo), f"from now to the end of the {period}")


def _to_end_of_month(name: str, now: datetime) -> TimeWindow:
    month = _month_number(name)
    year = now.year + (month < now.month)
    following = date(year + (month == 12), month % 12 + 1, 1)
    last = following - DAY
    label = f"from now to {day_label(last, now.date())}"
    return TimeWindow(now, at(following, 0, now.tzinfo), label)


def _observance(day: tuple[int, int, str], now: datetime) -> TimeWindow:
    """A day kept on the same date each year that Duckling does not know: the next one."""
    month, number, name = day
    that = date(now.year, month, number)
    that = that if that >= now.date() else date(now.year + 1, month, number)
    window = whole_day(that, now)
    if name.endswith("Night"):  # "am I free on Bonfire Night?" asks about its night
        window = _night_of(that, now, window.label)
    return replace(window, label=f"{window.label} ({name})")


def _month_end(now: datetime, months_on: int) -> TimeWindow:
    """ "The end of the month": its last seven days (Duckling's reading, the last eleven, lists
    too much to reach the end itself)."""
    first = now.date().replace(day=1)
    for _ in range(months_on + 1):
        first = (first + timedelta(days=32)).replace(day=1)
    last = first - timedelta(days=1)
    start = max(now, at(first - timedelta(days=7), 0, now.tzinfo))
    label = f"{day_label(start.date(), now.date())} to {day_label(last, now.date())}"
    return TimeWindow(start, at(first, 0, now.tzinfo), label)


def _next_public_holiday(now: datetime) -> TimeWindow:
    import holidays

    country = country_of(getattr(now.tzinfo, "key", "")) or "GB"
    try:
        days = holidays.country_holidays(country, years=[now.year, now.year + 1])
    except NotImplementedError:
        raise NoSuchDate("I don't know the public holidays where you live.") from None
    day = min(d for d in days if d >= now.date())
    window = whole_day(day, now)
    return TimeWindow(window.start, window.end, f"{window.label} ({days[day]})")


def _observed(holiday: str, day: date, country: str) -> date:
    """The day the user's country keeps a holiday Duckling dated: a lunar festival's date is
    set by each government's gazette ("Ganesh Chaturthi" 2027: Duckling's astronomical 3
    September, India's 4 September), which the `holidays` package lists, nationally or, when
    only regions keep it, as most of them do. Duckling's day when the list does not have it."""
    kept = _kept_days(country, day.year).get(holiday.casefold(), ())
    near = [other for other in kept if abs((other - day).days) <= 3]
    return near[0] if near else day


@cache
def _kept_days(country: str, year: int) -> dict[str, tuple[date, ...]]:
    """Each holiday's days in a country's lists, the national list's first, then the most
    regions' ("Ganesh Chaturthi / Vinayak Chaturthi" is "Ganesh Chaturthi")."""
    import holidays

    try:
        national = holidays.country_holidays(country, years=year)
        regions = [
            holidays.country_holidays(country, subdiv=region, years=year)
            for region in national.subdivisions
        ]
    except NotImplementedError:
        return {}
    votes: dict[str, Counter[date]] = {}
    for weight, lists in ((len(regions) + 1, [national]), (1, regions)):
        for kept in lists:
            for when, names in kept.items():
                for name in names.split("; "):
                    first = name.split(" / ")[0].casefold()
                    votes.setdefault(first, Counter())[when] += weight
    return {name: tuple(d for d, _ in days.most_common()) for name, days in votes.items()}


def _rewrite_numeric_dates(text: str, order: DateOrder) -> str:
    """ "3.1." / "14/12" / "12/14/2026" as "3 january" in the user's date order (or the only
    order that makes a date); a pair like "9.30" without a date's dot or slash is a clock time,
    unless it is said to be a day ("on 21.12") or no clock has it (see `_a_day_not_a_time`)."""

    def rewrite(match: re.Match[str]) -> str:
        first, second, year = int(match[1]), int(match[2]), match[3]
        day, month = (first, second) if order == "day-first" else (second, first)
        if not 1 <= month <= 12 and 1 <= day <= 12:
            day, month = month, day
        if not 1 <= month <= 12 or not 1 <= day <= 31:
            return match[0]
        year_text = f" {year if len(year) == 4 else 2000 + int(year)}" if year else ""
        return f"{day} {MONTHS[month - 1]}{year_text}"

    slashed = r"\b(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?\b"
    dotted = r"\b(\d{1,2})\.(\d{1,2})(?:\.(\d{4}|\d{2})\b|\.)"
    # "21.12" without the closing dot, and no amount ("25.5 km", "€12.50").
    undotted = rf"(?<![\d.,€$£])\b(\d{{1,2}})\.(\d{{1,2}})()\b(?!\.\d| ?(?:{_UNITS})\b|%)"
    text = re.sub(dotted, rewrite, re.sub(slashed, rewrite, text))
    return re.sub(
        undotted, lambda m: rewrite(m) if _a_day_not_a_time(m, text, order) else m[0], text
    )


# What makes "2.5" an amount ("2.5 km", "12.50 euros") or "9.30" a time ("9.30 am").
_UNITS = (
    r"km|kms|k|m|mi|miles?|kg|g|lbs?|h|hrs?|hours?|mins?|minutes?|secs?|am|pm|a\.m|p\.m|uhr|"
    r"eur|euros?|dollars?|bucks|pounds?|quid|francs?|l|litres?|liters?|x|times|percent|pct|"
    r"pages?|points?|stars?|degrees?|o'clock"
)
# Words before a clock time ("at 9.30", "by 8.10"), and words before either ("from 10.15",
# "from 18.12"), where the minutes decide.
_AT_A_CLOCK = re.compile(
    r"\b(?:at|by|before|after|around|(?<!what )(?<!how )about|past|approx|circa|ca)\s+$"
)
_ON_A_DAY = re.compile(
    rf"\b(?:on|am|of|for|since)\s+(?:the\s+)?$|\b(?:{_MONTH})\s+(?:and|to|till|until|-|–)\s*$"
)


def _a_day_not_a_time(match: re.Match[str], text: str, order: DateOrder) -> bool:
    """Whether "d.m" without its closing dot is a day: there is no hour 24 ("24.12"); or a date
    in the user's order said to be one ("on 21.12", "am 3.1", "18 december and 19.12"), or no
    clock time as people write them: minutes have two digits ("3.4") and, outside "at 10.05",
    seldom miss a multiple of five ("21.12")."""
    first, minutes = int(match[1]), match[2]
    if first > 23:
        return True
    day, month = (first, int(minutes)) if order == "day-first" else (int(minutes), first)
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(2024, month)[1]):
        return False  # in the user's own order only: "on 9.30" day-first is no date
    before = text[: match.start()]
    if _ON_A_DAY.search(before) or len(minutes) == 1:
        return True
    return not _AT_A_CLOCK.search(before) and int(minutes) % 5 != 0


_EXPLICIT = [
    re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"),
    re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})\b(?:,?\s+(\d{{1,4}})\b)?"),
    re.compile(rf"\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{1,4}})\b)?"),
]


def _check_explicit_dates(text: str) -> None:
    """Raise NoSuchDate for "31 February", "2027-02-29", "2026-13-01" or a year out of range."""
    for index, pattern in enumerate(_EXPLICIT):
        for match in pattern.finditer(text):
            if index == 0:
                year, month, day = match[1], match[2], match[3]
            elif index == 1:
                day, month, year = match[1], match[2], match[3]
            else:
                month, day, year = match[1], match[2], match[3]
            number = int(month) if month.isdigit() else _month_number(month)
            if not 1 <= number <= 12:
                raise NoSuchDate(f"There is no month {number}.")
            if year and int(year) not in YEARS:
                raise NoSuchDate(f"I can look up dates from {YEARS[0]} to {YEARS[-1]} only.")
            longest = calendar.monthrange(int(year) if year else 2000, number)[1]
            if not 1 <= int(day) <= longest:
                in_year = f" in {year}" if year and int(day) <= 29 else ""
                raise NoSuchDate(f"There is no {int(day)} {MONTHS[number - 1].title()}{in_year}.")


def _month_number(name: str) -> int:
    return next(i for i, month in enumerate(MONTHS, 1) if month.startswith(name[:3]))


def prepare(corrected: str, order: DateOrder, keep_meals: bool = False) -> str:
    """The text Duckling reads: numeric dates spelt out, meal words and the "up to" of "what am
    I up to" blanked, "first thing tomorrow" as "tomorrow morning", "between 2 and 4 tomorrow"
    as "tomorrow between 2 and 4" (Duckling reads it from today; same length)."""
    text = corrected if keep_meals else _MEALS.sub(_blank, corrected)
    text = _UP_TO.sub(lambda m: m[1] + _blank(m[2]), text)
    text = _FIRST_THING.sub(lambda m: f"{m[1]} morning".ljust(len(m[0])), text)
    text = _FIRST_EVENT.sub(_blank, text)
    text = _HOURS_THEN_DAY.sub(lambda m: f"{m[2]} {m[1]}", text)
    text = _BARE_ORDINAL.sub(lambda m: f"{m[1]} the {m[2]}", text)
    return _rewrite_numeric_dates(text, order)


def _blank(match: re.Match[str] | str) -> str:
    return " " * len(match if isinstance(match, str) else match[0])


def read_time(corrected: str, now: datetime, order: DateOrder, clock: str = "24h") -> TimeReading:
    """The time a question names, from text already lower-cased and corrected."""
    try:
        _check_explicit_dates(corrected)
        if (around := _WEEKDAY_AROUND.search(corrected)) and (
            reading := _weekday_around(around, now, order, clock)
        ):
            return reading
        for pattern, rule in _OWN_RULES:
            if match := pattern.search(corrected):
                found = rule(match, now)
                if isinstance(found, TimeReading):
                    return TimeReading(found.window, found.moment, match.span())
                return _from_now(TimeReading(found, span=match.span()), corrected, now, clock)
        text = prepare(corrected, order)
        found = _best(_duckling(text, now), prepare(corrected, order, keep_meals=True))
        if found is None and _THE_PART.search(text):
            # "My plans for the evening", no day named: this evening (same length).
            text = _THE_PART.sub(lambda m: f"{m[1]}this {m[2]}", text)
            found = _best(_duckling(text, now), text)
        reading = TimeReading(None)
        if found is not None:
            past, verb = bool(_PAST.search(corrected)), _PAST_VERB.search(corrected)
            if verb:
                found = _last_holiday(found, text, now)
            # "How many times did I play in October?", asked on the 26th: the whole month.
            whole = bool(_COUNTING.search(corrected))
            reading = _from_duckling(found, now, clock, past, verb[0] if verb else "", whole)
            if _OVER.search(text[: found.start]) and not found.body.endswith("day"):
                reading = _holiday_days(reading, now)
            if _SINCE.search(text[: found.start]):
                reading = _since(_from_duckling(found, now, clock, True, whole=True), now)
            reading = _from_now(reading, text, now, clock)
        elif my_day := _MY_DAY.search(corrected):
            reading = TimeReading(whole_day(now.date(), now), span=my_day.span())
        if meal := _MEAL_TIME.search(corrected):
            reading = _at_meal(reading, meal[1], now, clock)
        reading = _part_of_day(reading, text, now, clock)
        reading = _into_the_small_hours(reading, text, now)
    except NoSuchDate as no_such_date:
        return TimeReading(None, problem=str(no_such_date))
    except (ValueError, OverflowError):  # a date Python cannot hold (year 9999 + 1 day)
        return TimeReading(None, problem="I can't look that date up.")
    if reading.window and reading.window.start >= reading.window.end:
        return TimeReading(None)
    return reading


# "The Monday after Easter", "the Friday before Christmas", "the Sunday after the 14th": that
# weekday nearest after or before the day named (Duckling reads "after Easter" as from then on).
_WEEKDAY_AROUND = re.compile(rf"\b(?:the )?({_WEEKDAY}) (after|before) (.+?)[?!.]*$")


def _weekday_around(
    match: re.Match[str], now: datetime, order: DateOrder, clock: str
) -> TimeReading | None:
    named = read_time(match[3], now, order, clock)
    if named.window is None or named.window.end - named.window.start > DAY:
        return None
    step = timedelta(days=1 if match[2] == "after" else -1)
    day = named.window.start.date() + step
    while day.weekday() != WEEKDAYS.index(match[1]):
        day += step
    window = whole_day(day, now)
    end = match.start(3) + (named.span[1] if named.span else len(match[3]))
    return TimeReading(window, span=(match.start(), end), holiday=named.holiday)


def _holiday_days(reading: TimeReading, now: datetime) -> TimeReading:
    """ "Over Christmas", "during Easter": the days kept around the holiday (24 to 26 December,
    Good Friday to Easter Monday, New Year's Eve and Day), not its one date."""
    if reading.holiday not in _HOLIDAY_DAYS or reading.window is None:
        return reading
    name, before, after = _HOLIDAY_DAYS[reading.holiday]
    day = reading.window.start.date()
    first, last = day - timedelta(days=before), day + timedelta(days=after)
    start, end = at(first, 0, now.tzinfo), at(last + timedelta(days=1), 0, now.tzinfo)
    today = now.date()
    label = f"over {name} ({day_label(first, today)} to {day_label(last, today)})"
    return replace(reading, window=TimeWindow(start, end, label))


# "between now and the end of January", "until the end of the month": from now, not from the
# start of what is named (Duckling reads only "the end of January").
_FROM_NOW = re.compile(
    r"\b(?:between (?:now|today) and|from (?:now|today) (?:until|till|til|to|through|on to))"
    r"\s+(?:the\s+)?$"
)
# "until the end of January" (but "how many days till the weekend" counts to its start).
_UNTIL_THE_END = re.compile(r"\b(?:until|till|til|up to|up until|through|thru)\s+(?:the\s+)?$")


def _from_now(reading: TimeReading, text: str, now: datetime, clock: str) -> TimeReading:
    """The reading from now on when the words before the phrase say so."""
    window, span = reading.window, reading.span
    if window is None or span is None or window.start <= now:
        return reading
    before = text[: span[0]]
    to_the_end = _UNTIL_THE_END.search(before) and text[span[0] :].startswith("end")
    # "before the new year" (Duckling reads only "the new year"): from now to its start.
    end = window.start if _BEFORE.search(before) else window.end
    if not (_FROM_NOW.search(before) or to_the_end or end == window.start):
        return reading
    label = window_label(now, end, now, clock)
    return TimeReading(TimeWindow(now, end, label), span=span)


_COUNTING = re.compile(
    r"\bhow many\b(?! more\b)(?!.*\b(?:left|until|till|til|to go|before|since|remaining|still)\b)"
    r"|\bnumber of\b"
)
_BEFORE = re.compile(r"\b(?:before|ahead of|prior to)\s+(?:the\s+)?$")
_SINCE = re.compile(r"\bsince\s+(?:the\s+)?(?:(?:start|beginning) of\s+(?:the\s+)?)?$")


def _since(whole: TimeReading, now: datetime) -> TimeReading:
    """ "Since the start of December": from the start of what is named to now."""
    window = whole.window
    if window is None or window.start >= now:
        return whole
    label = f"since {day_label(window.start.date(), now.date())}"
    return TimeReading(TimeWindow(window.start, now, label), span=whole.span)


def _part_of_day(reading: TimeReading, text: str, now: datetime, clock: str) -> TimeReading:
    """ "Is my morning free tomorrow?": the part of the day said apart from the day itself
    (Duckling reads only "tomorrow") narrows the whole day to it."""
    window, span = reading.window, reading.span
    if window is None or span is None or reading.moment or window.end - window.start != DAY:
        return reading
    outside = text[: span[0]] + " " * (span[1] - span[0]) + text[span[1] :]
    part = re.search(r"\b(?:my|the) (morning|afternoon|evening)\b", outside)
    if not part or (window.start.hour, window.start.minute) != (0, 0):
        return reading
    first, last = next(hours for hours, name in _PARTS.items() if name == part[1])
    start, end = (
        at(window.start.date(), first, now.tzinfo),
        at(window.start.date(), last, now.tzinfo),
    )
    return TimeReading(TimeWindow(start, end, window_label(start, end, now, clock)), span=span)


# "Friday night" runs into Saturday's small hours (a 12:15 am pickup is Friday night's); an
# early start after them ("a 5 am flight") is the next morning's.
_SMALL_HOURS_END = 4
_NIGHT = re.compile(r"\b(?:to)?ni(?:ght|te)\b")


def _night_of(day: date, now: datetime, label: str) -> TimeWindow:
    """A day's night, as "Friday night" is read: its evening into the next day's small hours."""
    evening = PARTS_OF_DAY["evening"][0]
    return TimeWindow(
        at(day, evening, now.tzinfo), at(day + DAY, _SMALL_HOURS_END, now.tzinfo), label
    )


def _into_the_small_hours(reading: TimeReading, text: str, now: datetime) -> TimeReading:
    """A night named ("tonight", "Friday night"), read by Duckling as the evening, to the small
    hours."""
    window, span = reading.window, reading.span
    if window is None or span is None or reading.moment:
        return reading
    evening = window.start.hour >= 18 and window.end - window.start <= timedelta(hours=6)
    ends_at_midnight = (window.end.hour, window.end.minute) == (0, 0)
    if not (evening and ends_at_midnight and _NIGHT.search(text[span[0] : span[1]])):
        return reading
    end = at(window.end.date(), _SMALL_HOURS_END, now.tzinfo)
    label = "last night" if window.label == "yesterday evening" else window.label
    label = label.replace("evening", "night")
    return replace(reading, window=TimeWindow(window.start, end, label))


def _at_meal(reading: TimeReading, meal: str, now: datetime, clock: str) -> TimeReading:
    """ "Free for lunch on the 21st": the meal's hours of the day named (if none, the next)."""
    window = reading.window
    if reading.moment or (window and window.end - window.start > timedelta(days=1)):
        return reading
    first, last = MEAL_HOURS[meal.removesuffix("time")]
    day = window.start.date() if window else now.date() + timedelta(days=now.hour >= last)
    start, end = at(day, first, now.tzinfo), at(day, last, now.tzinfo)
    meal_window = TimeWindow(start, end, window_label(start, end, now, clock))
    return TimeReading(meal_window, span=reading.span, holiday=reading.holiday, meal=meal)


def _duckling(text: str, now: datetime) -> list[Found]:
    """Duckling's findings; if its native code fails, the question is read as naming no time."""
    try:
        return find_times(text, now, country_of(_zone_name(now)))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # a Rust panic is a BaseException; it must not cost the answer
        log.exception("Duckling could not read %r", text[:200])
        return []


def _last_holiday(found: Found, text: str, now: datetime) -> Found:
    """A holiday Duckling reads ahead, asked about in the past tense with no year or way
    forward ("what did I have on Mother's Day?", "when was Australia Day?"): the last one,
    as Duckling reads it from a year ago (a moving holiday keeps its own rule)."""
    if not found.value.get("holidayBeta") or _NAMES_A_YEAR_OR_RELATIVE.search(found.body):
        return found
    if found.value.get("type") != "value" or _moment(found.value, now.tzinfo) <= now:
        return found
    year_ago = now - timedelta(days=365)
    earlier = _best(_duckling(text, year_ago), text)
    if earlier is None or earlier.body != found.body or earlier.value.get("type") != "value":
        return found
    return earlier if _moment(earlier.value, now.tzinfo) <= now else found


def _zone_name(now: datetime) -> str:
    return getattr(now.tzinfo, "key", None) or "UTC"


def _best(found: list[Found], text: str) -> Found | None:
    """The longest phrase. "1:1" (as in "my 1:1 with Priya") is a name, not a clock time, and
    a holiday before a noun ("the Christmas party", "Easter egg hunt", "the Christmas dinner":
    `text` keeps its meal words) names an event."""
    found = [
        item
        for item in found
        if item.value.get("type") in ("value", "interval")
        and not re.fullmatch(r"\d{1,2}:\d", item.body)
        and not (item.value.get("holidayBeta") and _names_a_thing(text[item.end :]))
    ]
    return max(found, key=lambda item: item.end - item.start, default=None)


def _names_a_thing(after_holiday: str) -> bool:
    """Whether the word after a holiday makes it part of a name: "party", "market", not "day",
    "eve", "plans" or "this"."""
    following = re.match(r"(?:'s)?\s+([a-z]+)", after_holiday)
    return bool(following) and following[1] not in _NOT_A_NAME


def _moment(value: dict[str, Any], zone: Any) -> datetime:
    """Duckling's answer is a wall-clock time in the user's zone (see duckling.find_times)."""
    return datetime.fromisoformat(value["value"]).replace(tzinfo=zone)


def _afternoon(moment: datetime, body: str, grain: str | None = "hour") -> datetime:
    """A bare "2", "at 4" or "2 o'clock" means the afternoon; "2am", "02:00", "morning" do not.
    A bare "12" ("before 12 on Monday") is noon, which Duckling reads as midnight."""
    if grain not in ("hour", "minute"):
        return moment
    if 1 <= moment.hour <= 7 and not re.search(r"\b0\d|a\.?m\b|morning", body):
        return moment + timedelta(hours=12)
    if (moment.hour, moment.minute) == (0, 0) and _BARE_TWELVE.search(body):
        return moment + timedelta(hours=12)
    return moment


def _looking_back(day: date, body: str, now: datetime, verb: str) -> date:
    """A date Duckling reads ahead ("Nov 21", "the 3rd") as the last one, when the question is
    in the past tense and names no year or way forward: always after "did", "had", "went" or
    "happened"; after "was" or "were" ("what was on Dec 14 again?") if the last one is nearer."""
    if not verb or day <= now.date() or _NAMES_A_YEAR_OR_RELATIVE.search(body):
        return day
    try:
        if re.search(rf"\b(?:{_MONTH})\b", body):
            earlier = day.replace(year=day.year - 1)
        elif day.month == 1:
            earlier = day.replace(year=day.year - 1, month=12)
        else:
            earlier = day.replace(month=day.month - 1)
    except ValueError:  # no 29 February or 31st that month: as Duckling read it
        return day
    if earlier > now.date():
        return day
    nearer = now.date() - earlier < day - now.date()
    return earlier if nearer or verb not in ("was", "were") else day


def _from_duckling(
    found: Found, now: datetime, clock: str, past: bool, past_verb: str = "", whole: bool = False
) -> TimeReading:
    """Duckling's finding as a window; `whole`: a week, month or year from its start, not from
    now ("since the start of this month")."""
    zone, value, body = now.tzinfo, found.value, found.body
    holiday = value.get("holidayBeta", "")
    span = (found.start, found.end)
    if value["type"] == "interval":
        start = (
            _afternoon(_moment(value["from"], zone), body, value["from"].get("grain"))
            if "from" in value
            else None
        )
        end = (
            _afternoon(_moment(value["to"], zone), body, value["to"].get("grain"))
            if "to" in value
            else None
        )
        if start is not None and end is not None and value["from"].get("grain") == "day":
            start = _nearest_before(start, end, body)
        if end is not None and value["to"].get("grain") == "hour" and _BETWEEN.search(body):
            end -= timedelta(hours=1)  # Duckling's "between 2 and 4" runs to the end of 4:00
        if end is not None and value["to"].get("grain") == "day" and _UNTIL.search(body):
            end = at(end.date() + timedelta(days=1), 0, zone)  # "until Friday" includes Friday
        if start is None:
            assert end is not None
            day_start = at(end.date(), 0, zone)
            start = max(now, day_start) if end.date() == now.date() else day_start
            if _UNTIL.search(body) or value["to"].get("grain") == "day":
                start = now  # "before Christmas": from now, not from the day's start
        if end is None and value["from"].get("grain") not in ("hour", "minute", "second"):
            return _open_ended(start, value["from"].get("grain"), body, now, clock, span)
        if end is None:
            end = at(start.date() + timedelta(days=1), 0, zone)
        label = window_label(start, end, now, clock)
        if start < now < end and start.date() == now.date() and start.hour >= 18:
            start = now  # "tonight", asked at 21:00: what is left of it
        return TimeReading(TimeWindow(start, end, label), span=span)
    moment, grain = _moment(value, zone), value.get("grain", "day")
    if grain in ("hour", "minute", "second"):
        if re.fullmatch(
            r"(?:on )?in (?:\w+ )*(?:days?|weeks?|fortnights?|months?)(?:'s? time)?", body
        ):
            return TimeReading(whole_day(moment.date(), now), span=span)
        moment = _afternoon(moment, body)
        window = TimeWindow(moment, moment + MOMENT, moment_label(moment, now, clock))
        return TimeReading(window, moment=moment, span=span)
    day = moment.date()
    if grain == "day":
        bare_weekday = re.fullmatch(rf"(?:on )?(?:this )?(?:{_WEEKDAY})", body)
        if bare_weekday and (day - now.date()).days == 7:
            day = now.date()  # "on Wednesday", asked on a Wednesday: today
        if past and day > now.date() and bare_weekday:
            day -= timedelta(days=7)  # "what did I do on Monday?": the one just gone
        elif named := _WEEKDAY_AND_DAY.search(body):
            day = _weekday_and_day(WEEKDAYS.index(named[1]), int(named[2]), now.date(), past)
        elif not bare_weekday:
            day = _looking_back(day, body, now, past_verb)
        if holiday:
            day = _observed(holiday, day, country_of(_zone_name(now)))
        window = whole_day(day, now)
        if holiday:
            window = TimeWindow(window.start, window.end, f"{window.label} ({holiday})")
        return TimeReading(window, span=span, holiday=holiday)
    if grain == "week":
        day = _looking_back(day, body, now, past_verb)  # "what happened the week of Nov 23?"
        weeks = (_monday(day) - _monday(now.date())).days // 7
        if whole:
            monday = _monday(day)
            start, end = at(monday, 0, zone), at(monday + timedelta(days=7), 0, zone)
            return TimeReading(TimeWindow(start, end, body), span=span)
        return TimeReading(_week(now, weeks), span=span)
    if grain == "month":
        first = day.replace(day=1)
        earlier = _looking_back(first, body, now, past_verb)  # "what did I have in November?"
        first = earlier if earlier.month == first.month else first
        following = (first + timedelta(days=32)).replace(day=1)
        months_on = (first.year - now.year) * 12 + first.month - now.month
        start = now if months_on == 0 and not whole else at(first, 0, zone)
        label = {0: "this month", 1: "next month", -1: "last month"}.get(months_on)
        if label is None:
            label = MONTHS[first.month - 1].title()
            label += f" {first.year}" if first.year != now.year else ""
        return TimeReading(TimeWindow(start, at(following, 0, zone), label), span=span)
    # Quarters and years: the whole of it.
    following = day.replace(year=day.year + 1) if grain == "year" else day + timedelta(days=92)
    start = at(day, 0, zone) if whole else max(now, at(day, 0, zone))
    return TimeReading(TimeWindow(start, at(following, 0, zone), body), span=span)


# "Saturday the 12th", "fri 11th" with no month: Duckling takes the next month that has one.
_WEEKDAY_AND_DAY = re.compile(
    rf"\b({_WEEKDAY}),? (?:the )?(\d{{1,2}})(?:st|nd|rd|th)?\b(?!\s*(?:of\s+)?(?:{_MONTH})\b)"
)


def _weekday_and_day(weekday: int, number: int, today: date, past: bool) -> date:
    """The next date that is that weekday and that day of its month, or the last one when the
    question is in the past tense ("what did I do on Saturday the 12th?"), or when it was within
    a fortnight and the next is months away (asked on Monday the 14th, "Saturday the 12th" is
    two days ago, not in June)."""
    found = []
    for months_on in range(-14, 15):
        month = (today.month - 1 + months_on) % 12 + 1
        year = today.year + (today.month - 1 + months_on) // 12
        if number <= calendar.monthrange(year, month)[1]:
            day = date(year, month, number)
            if day.weekday() == weekday:
                found.append(day)
    last = max((day for day in found if day <= today), default=None)
    ahead = min((day for day in found if day >= today), default=None)
    far = ahead is None or ahead - today > timedelta(days=62)
    if last and (past or (far and today - last <= timedelta(days=14))):
        return last
    if ahead is None:
        raise NoSuchDate(f"No {WEEKDAYS[weekday].title()} has a {number}th near now.")
    return ahead


def _year_before(day: date, today: date) -> date:
    """The same date a year earlier, if that is not in the future (29 February aside)."""
    try:
        earlier = day.replace(year=day.year - 1)
    except ValueError:
        return day
    return earlier if earlier <= today else day


def _nearest_before(start: datetime, end: datetime, body: str) -> datetime:
    """ "From the 20th until Christmas": the 20th closest before the end. Duckling takes the
    20th of the month before when the end's month is not named before "until"."""
    named = re.split(r"\b(?:until|till|til|to|through|thru|and)\b|-", body)[0]
    if re.search(rf"\b(?:{_MONTH})\b|\d{{4}}", named):
        return start
    candidate = start
    for months_on in range(1, 13):
        month = (start.month - 1 + months_on) % 12 + 1
        year = start.year + (start.month - 1 + months_on) // 12
        try:
            later = start.replace(year=year, month=month)
        except ValueError:  # no 31st that month
            continue
        if later >= end:
            break
        candidate = later
    return candidate


def _open_ended(
    start: datetime, grain: str | None, body: str, now: datetime, clock: str, span: tuple[int, int]
) -> TimeReading:
    """ "After the 5th of January": from the day after it, OPEN_ENDED long ("from the 5th": from
    that day); "since Monday": from the last Monday to now."""
    zone, day = now.tzinfo, start.date()
    if body.startswith("since"):
        if day > now.date():
            weekly = grain == "day" and re.search(rf"\b(?:{_WEEKDAY})\b", body)
            day = day - timedelta(days=7) if weekly else _year_before(day, now.date())
        begin = at(day, 0, zone)
        return TimeReading(TimeWindow(begin, now, f"since {day_label(day, now.date())}"), span=span)
    if body.startswith("after"):
        if grain == "month":
            day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        else:
            day += timedelta(days=7 if grain == "week" else 1)
    begin = max(now, at(day, 0, zone))
    end = begin + OPEN_ENDED
    return TimeReading(TimeWindow(begin, end, window_label(begin, end, now, clock)), span=span)


def moment_label(moment: datetime, now: datetime, clock: str) -> str:
    return f"{day_label(moment.date(), now.date())} at {clock_label(moment, clock)}"


# The hours of each part of a day, as Duckling reads them, for "the mornings next week".
PartOfDay = Literal["morning", "afternoon", "evening", "night"]
PARTS_OF_DAY: dict[PartOfDay, tuple[int, int]] = {
    "morning": (0, 12),
    "afternoon": (12, 19),
    "evening": (18, 24),
    "night": (20, 24),  # later than the evening: a day shift to 7 pm is no night's work
}


def in_each(window: TimeWindow, part: PartOfDay) -> TimeWindow:
    """The window named as that part of each of its days ("next week, in the mornings")."""
    return TimeWindow(window.start, window.end, f"{window.label}, in the {part}s")


_PARTS = {(0, 12): "morning", (12, 19): "afternoon", (18, 24): "evening", (12, 18): "afternoon"}


def window_label(start: datetime, end: datetime, now: datetime, clock: str) -> str:
    """How a reply names a window: "tonight", "Tuesday 1 December afternoon", "after 19:00 …"."""
    today = now.date()
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    starts_at_midnight = (start.hour, start.minute) == (0, 0)
    ends_at_midnight = (end.hour, end.minute) == (0, 0)
    if first == last:
        day = day_label(first, today)
        hours = (start.hour, end.hour or 24)
        if hours == (18, 24) and first == today:
            return "tonight"
        if part := _PARTS.get(hours):
            return f"this {part}" if first == today else f"{day} {part}"
        if ends_at_midnight:
            return f"{day} after {clock_label(start, clock)}"
        if starts_at_midnight or start == now:
            return f"{day} before {clock_label(end, clock)}"
        return f"{day} {clock_label(start, clock)}–{clock_label(end, clock)}"
    if starts_at_midnight and ends_at_midnight:
        return f"{day_label(first, today)} to {day_label(last, today)}"
    return f"{day_label(first, today)} {clock_label(start, clock)} to {day_label(last, today)}"
