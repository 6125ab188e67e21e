"""Follow-up questions: a message that says only what changed, read against the chat's last one.

People chain questions: "what's on tomorrow?" → "and friday?"; "when's the dentist?" → "where is
it?"; "am I free at 3 tomorrow?" → "what about 4?"; "when's my next swim?" → "and the one
after?". Such a message names a new time, or a new thing to know (where, how long, the notes, how
many), or "the one after / before", or starts "and… / what about…", and leaves the rest as it
was. `follow_up` fills in what it leaves from the chat's last calendar question (`Asked`, kept per
chat in the store). A message that is a whole question on its own is read as it stands.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.understanding import Asks, Question, TimeWindow
from bot.understanding.times import (
    MOMENT,
    DateOrder,
    TimeReading,
    day_label,
    moment_label,
    prepare,
    read_time,
    whole_day,
    window_label,
)
from bot.understanding.words import correct
from integrations.calendar import Event

__all__ = ["Asked", "follow_up"]


@dataclass(frozen=True)
class Asked:
    """A chat's last calendar question as it was answered: its reading (follow-ups filled in)
    and the event the answer was about, if it named one."""

    question: Question
    event: Event | None = None
    rule: str = ""  # the rule that answered it, which answers a follow-up to it too
    at: datetime | None = None  # when it was asked, by the user's clock


# "and friday?", "ok, what about 4?", "how about the weekend", "same for Thursday".
_CONTINUES = re.compile(
    r"^(?:(?:and|or|but|also|ok|okay|so|then|hmm|oh|right)\b[\s,]*)*"
    r"(?:(?:what|how|wat|wht)(?:'s| is)? (?:about|abt)\b|same (?:for|on|at|with|again)\b)?"
)
# What stands for the event just talked about: "where is it?", "is that in the morning?".
_PRONOUN = re.compile(
    r"\b(?:it|it's|its|that one|this one|that|they|them)\b|\b(?<!is )(?<!are )there\b(?!'s)"
)
# "The one after", "the next one", "and after that?"; "the one before", "the previous one".
_LATER = re.compile(
    r"\b(?:(?:the )?one after(?: (?:that|this|it))?|(?:the )?(?:next|following) one"
    r"|(?<!day )(?<!week )(?<!weekend )after that(?: one)?)\b"
)
_EARLIER = re.compile(
    r"\b(?:(?:the )?one before(?: (?:that|this|it))?|(?:the )?(?:previous|last) one"
    r"|(?<!day )(?<!week )(?<!weekend )before that(?: one)?)\b"
)
# "The day after", "the week before that", "the next day": relative to the last window asked
# about, not to today. "The day after tomorrow" is a time of its own (nothing may follow).
_SHIFT = re.compile(
    r"\bthe (?:(?P<unit>day|week|weekend) (?P<way>after|before)|(?P<way2>next|following|previous)"
    r" (?P<unit2>day)|(?P<way3>following|previous) (?P<unit3>week|weekend))(?: (?:that|then|it))?$"
)
# A question that asks for a listing in its own words is a whole question ("what's on friday?").
_LISTING = re.compile(
    r"\bwhat(?:'s|s| is| was) (?:on|happening|up)\b|\b(?:anything|everything|something)\b"
    r"|\bplans?\b|\bschedule\b|\bagenda\b|\bdiary\b|\bcalendar\b|\blook(?:s|ing)?\b"
    r"|\bwhat (?:do|did) (?:i|we) (?:have|got)\b|\bwhat(?:'ve| have) i\b"
)
# A new lookup, not the last one again: "what's next?", "when's my first…".
_NEW_LOOKUP = re.compile(r"\b(?:next|first|last|latest|previous)\b")
# A time phrase that names no day: the day stays the one asked about ("what about 4?").
_NO_DAY = re.compile(
    r"(?:(?:at|around|about|by|from|after|before|in|for|say|the|this|like|,|\s)+)?"
    r"(?:\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.|o'?clock|h)?|noon|midday|midnight"
    r"|half (?:past )?\w+|quarter (?:past|to) \w+|morning|afternoon|evening|night|lunch(?:time)?"
    r"|(?:\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm)?\s*(?:-|to|and|till|until)\s*)\d{1,2}(?:[:.]\d{2})?"
    r"\s*(?:am|pm)?)(?:ish)?"
)
_FILLER = re.compile(r"\b(?:on|at|in|for|then|the|instead|please|pls)\b|[^\w\s']")
# What is asked of an event: "room" in "which room?", "booking" in "what's the booking ref?".
_ASKED_FOR = re.compile(r"\b(?:which|what)(?:'s| is| are| was)? (?:the |my |our )?([a-z]+)")
_ABOUT_AN_EVENT = ("where", "duration", "notes", "when")
# A chat quiet this long has moved on: "friday?" the next morning is a question of its own.
LAPSE = timedelta(hours=1)
YEAR = timedelta(days=366)  # how far "the one after / before" looks
_DAY = timedelta(days=1)
_INSTANT = timedelta(microseconds=1)


def follow_up(
    question: Question, asked: Asked | None, now: datetime, clock: str, order: DateOrder
) -> Question:
    """`question` with what it leaves unsaid taken from `asked`, the chat's last calendar
    question, when it is a follow-up to it; else `question` as it is."""
    if asked is None or question.kind in ("write", "small_talk") or question.problem:
        return question
    if asked.question.kind != "calendar" or (asked.at and now - asked.at > LAPSE):
        return question
    text = question.text.lower().replace("’", "'").strip().rstrip("?!. ")
    previous, event = asked.question, asked.event
    continues = bool((opening := _CONTINUES.match(text)) and opening[0])
    if question.subject and not _names_something(question, text):
        question = dataclasses.replace(question, subject="")  # "which room?": no new event
    later, earlier = _LATER.search(text), _EARLIER.search(text)
    if not question.subject and (later or earlier) and (event or previous.subject):
        if event is None:  # the last one was not found: neither is another
            return _new_subject(dataclasses.replace(question, subject=previous.subject), previous)
        return _another(question, previous, event, now, later=bool(later))
    window, moment = question.window, question.moment
    shift = _SHIFT.search(text)
    if shift and (base := _base(previous, event, now)) is not None:
        window, moment = _shifted(base, previous.moment, shift, now, clock)
    else:
        shift = None
    question = dataclasses.replace(question, window=window, moment=moment)
    if question.subject:
        # "And the vet?" asks again about something of the user's; "how about a poem?" does not.
        followed = continues and question.kind == "calendar"
        return _new_subject(question, previous) if followed else question
    rest = _CONTINUES.sub("", _SHIFT.sub("", text), count=1)
    pronoun = _PRONOUN.search(rest) and question.asks not in ("free", "busy")
    listing = bool(_LISTING.search(text))
    if pronoun and not listing:
        return _about_the_event(question, previous, event, now)
    if window is not None:
        reading = read_time(correct(text), now, order, clock)
        if not (continues or shift or _only_a_time(text, reading, order)) or listing:
            return question
        if not shift and reading.span and _names_no_day(text, reading, order):
            window, moment = _on_the_day_asked(window, moment, previous, event, now, clock)
        return _new_time(question, previous, window, moment, now, clock)
    if question.asks != "list" and not listing and not _NEW_LOOKUP.search(text):
        return _about_the_event(question, previous, event, now)
    return question


def _names_something(question: Question, text: str) -> bool:
    """Whether the subject names an event, not only what is asked of one ("which room?",
    "what's the booking reference?")."""
    if question.asks not in _ABOUT_AN_EVENT:
        return True
    asked_for = {match[1] for match in _ASKED_FOR.finditer(text)}
    return any(word.lower() not in asked_for | {"my"} for word in question.subject.split())


def _another(
    question: Question, previous: Question, event: Event, now: datetime, *, later: bool
) -> Question:
    """The next (or previous) event of the same kind as the one just talked about."""
    subject = previous.subject or event.title
    day = day_label(event.start.date(), now.date())
    if later:
        window = TimeWindow(event.end, event.end + YEAR, f"after {day}")
        asks = question.asks if question.asks != "list" else _kept_asks(previous, "when")
    else:
        window = TimeWindow(event.start - YEAR, event.start, f"before {day}")
        asks = question.asks if question.asks not in ("list", "when") else "last"
    return dataclasses.replace(
        question,
        window=window,
        subject=subject,
        asks=asks,
        next_only=later,
        kind="calendar",
        moment=None,
    )


def _kept_asks(previous: Question, otherwise: Asks) -> Asks:
    return previous.asks if previous.asks in _ABOUT_AN_EVENT else otherwise


def _about_the_event(
    question: Question, previous: Question, event: Event | None, now: datetime
) -> Question:
    """ "Where is it?", "how long?", "is it in the morning?": the event the last answer was about;
    if it named none, what the last question asked about, asked the new way."""
    asks = question.asks if question.asks != "list" else "when"
    if event is not None and (previous.subject or previous.next_only):
        window = TimeWindow(event.start, event.end, day_label(event.start.date(), now.date()))
        subject = previous.subject or event.title
        return dataclasses.replace(
            question,
            window=window,
            subject=subject,
            asks=asks,
            next_only=True,
            kind="calendar",
            moment=None,
        )
    # After a list ("what's on tomorrow?" → "where is it?"): the events of that list.
    return dataclasses.replace(
        question,
        window=previous.window,
        subject=previous.subject,
        asks=question.asks if question.asks != "list" else previous.asks,
        next_only=previous.next_only,
        kind="calendar",
        moment=previous.moment,
    )


def _new_time(
    question: Question,
    previous: Question,
    window: TimeWindow,
    moment: datetime | None,
    now: datetime,
    clock: str,
) -> Question:
    """ "And friday?", "next week?": the last question again, at the new time; a moment asked
    about ("am I free at 3 tomorrow?") at the same time of the new day ("and friday?")."""
    asks = question.asks if question.asks != "list" else previous.asks
    one_day = window.end - window.start == timedelta(days=1) and window.start.time() == time(0)
    if previous.moment is not None and moment is None and one_day:
        moment = _on(window.start.date(), previous.moment.astimezone(now.tzinfo).timetz())
        window = TimeWindow(moment, moment + MOMENT, moment_label(moment, now, clock))
    return dataclasses.replace(
        question,
        # "Am I free…?" looks for no event: whatever is on makes one busy.
        subject="" if asks in ("free", "busy") else previous.subject,
        asks=asks,
        next_only=False,
        kind="calendar",
        window=window,
        moment=moment,
    )


def _new_subject(question: Question, previous: Question) -> Question:
    """ "And the vet?", "what about calls?": the last question again, about something else."""
    asks = question.asks
    if asks == "list" and previous.asks not in ("free", "busy"):
        asks = previous.asks
    if question.window is not None:
        return dataclasses.replace(question, asks=asks, kind="calendar")
    # The time of the last question, unless it was one event's own ("where is it?").
    return dataclasses.replace(
        question,
        asks=asks,
        window=None if previous.next_only else previous.window,
        next_only=previous.next_only or question.next_only,
        kind="calendar",
    )


def _base(previous: Question, event: Event | None, now: datetime) -> TimeWindow | None:
    """What "the day after" is after: the day(s) of the one event the last question was about,
    else the last window asked about."""
    if event is not None and (previous.window is None or previous.next_only):
        zone = now.tzinfo
        start, end = event.start.astimezone(zone), event.end.astimezone(zone)
        last = max(start.date(), (end - _INSTANT).date())
        return TimeWindow(_midnight(start.date(), now), _midnight(last + _DAY, now), "")
    return previous.window


def _shifted(
    base: TimeWindow, moment: datetime | None, shift: re.Match[str], now: datetime, clock: str
) -> tuple[TimeWindow, datetime | None]:
    """The day, week or weekend after (or before) the one last asked about; a moment asked
    about at the same time of that day."""
    unit = shift["unit"] or shift["unit2"] or shift["unit3"]
    way = shift["way"] or shift["way2"] or shift["way3"]
    ahead = way not in ("before", "previous")
    zone = now.tzinfo
    if moment is not None and unit == "day":
        local = moment.astimezone(zone)
        moved = _on(local.date() + (_DAY if ahead else -_DAY), local.timetz())
        return TimeWindow(moved, moved + MOMENT, moment_label(moved, now, clock)), moved
    start, end = base.start.astimezone(zone), base.end.astimezone(zone)
    first, last = start.date(), (end - _INSTANT).date()
    if unit == "day":
        day = last + _DAY if ahead else first - _DAY
        if start.time() == time(0) and end.time() == time(0):
            return whole_day(day, now), None
        # "Friday evening" → "and the day after?": Saturday evening.
        moved_start = _on(day, start.timetz())
        moved_end = _on(day + (end.date() - start.date()), end.timetz())
        label = window_label(moved_start, moved_end, now, clock)
        return TimeWindow(moved_start, moved_end, label), None
    if unit == "week":  # the whole week, Monday to Sunday
        monday = (last if ahead else first) - timedelta(days=(last if ahead else first).weekday())
        first = monday + (timedelta(days=7) if ahead else -timedelta(days=7))
        last = first + timedelta(days=6)
    elif ahead:  # the weekend after the last day asked about
        first = last + timedelta(days=(5 - last.weekday()) % 7 or 7)
        last = first + _DAY
    else:  # the weekend before the first day asked about
        last = first - timedelta(days=(first.weekday() + 1) % 7 or 7)
        first = last - _DAY
    moved_start, moved_end = _midnight(first, now), _midnight(last + _DAY, now)
    return TimeWindow(
        moved_start, moved_end, window_label(moved_start, moved_end, now, clock)
    ), None


def _on(day: date, clock_time: time) -> datetime:
    return datetime.combine(day, clock_time.replace(tzinfo=None), tzinfo=clock_time.tzinfo)


def _midnight(day: date, now: datetime) -> datetime:
    return datetime.combine(day, time(0), tzinfo=now.tzinfo)


def _names_no_day(text: str, reading: TimeReading, order: DateOrder) -> bool:
    """Whether the time phrase is only a time of day ("4", "at 5pm", "in the evening")."""
    assert reading.span is not None
    phrase = prepare(correct(text), order)[reading.span[0] : reading.span[1]].strip()
    return bool(_NO_DAY.fullmatch(phrase))


def _only_a_time(text: str, reading: TimeReading, order: DateOrder) -> bool:
    """Whether the message is nothing but a time phrase ("friday?", "next week?", "4pm?")."""
    if reading.span is None:
        return False
    prepared = prepare(correct(text), order)
    rest = prepared[: reading.span[0]] + " " + prepared[reading.span[1] :]
    return not _FILLER.sub(" ", rest).strip()


def _on_the_day_asked(
    window: TimeWindow,
    moment: datetime | None,
    previous: Question,
    event: Event | None,
    now: datetime,
    clock: str,
) -> tuple[TimeWindow, datetime | None]:
    """A time of day alone ("what about 4?", "and in the evening?") on the day last asked about:
    the day of the last moment, of the last window if it was one day, else of the event."""
    zone = now.tzinfo
    if previous.moment is not None:
        day = previous.moment.astimezone(zone).date()
    elif previous.window is not None and previous.window.end - previous.window.start <= timedelta(
        days=1
    ):
        day = previous.window.start.astimezone(zone).date()
    elif event is not None and previous.window is None:
        day = event.start.astimezone(zone).date()
    else:
        return window, moment
    step = day - window.start.date()
    start, end = (
        _on(window.start.date() + step, window.start.timetz()),
        _on(window.end.date() + step, window.end.timetz()),
    )
    if moment is not None:
        return TimeWindow(start, end, moment_label(start, now, clock)), start
    return TimeWindow(start, end, window_label(start, end, now, clock)), None
