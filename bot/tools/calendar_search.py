"""The calendar search tool: events from every configured calendar, in a window, ranked by words.

Words rank events instead of filtering them: title matches above place and notes, rare words
(over the user's own events) above common ones. Words that match nothing never empty a window:
the window's events come back, marked as not matching, so the answer can say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal

from bot.config import UserSettings
from bot.formatting import (
    View,
    clock_time,
    day_name,
    describe,
    event_line,
    events_by_day,
    titled,
    when_text,
)
from bot.places import names_a_place
from bot.tools.context import ToolContext
from bot.tools.journeys import (
    ANY_TRAVEL,
    AWAY,
    AWAY_WORDS,
    BEING_IN,
    DEPART,
    LEAVING_FROM,
    RETURN,
    STAY,
    STAYING,
    TRANSPORT,
    TRIP,
    away,
    back_from,
    coming_back,
    destination,
    first_trip,
    from_place,
    is_journey,
    journey_to,
    time_in,
    towards,
    trip,
)
from bot.tools.untrusted import data_block
from bot.tools.workdays import first_day_off, is_work
from bot.understanding import Question, understand
from bot.understanding.matching import (
    Significance,
    coverage,
    heads,
    named_in,
    named_in_notes,
    owned_by_another,
    owners,
    score,
    significant,
    titled_mine,
)
from bot.understanding.times import PARTS_OF_DAY, PartOfDay, at
from bot.understanding.words import VAGUE_WORDS
from integrations.calendar import CalendarError, Event

# How far back the user's events count for word significance and recognition.
LOOK_BACK = timedelta(days=31)
# A match scoring under this share of the best one is a weaker event, left out.
RELATIVE_CUT = 0.75
SINGLE_CUT = 0.95  # for one event ("when is ...?"): the best-named, the earliest of them
# Under this a match rests on common words only ("day", "meeting" in most titles): no match.
MINIMUM_SCORE = 1.0
MINE = 2.0  # "my talk": a title that says "My talk" over "Tech talk"
# An event must have at least this share of the asked words the user's events use.
HALF = 0.5
_JOURNEYS = {"flight", "train", "bus", "coach", "ferry"}


@dataclass(frozen=True)
class CalendarFindings:
    events: list[Event]
    start: datetime
    end: datetime
    text: str
    more: int = 0  # events left out by the limit
    matched: bool = True  # False: the words matched nothing, these are the window's events
    elsewhere: Event | None = None  # then, what the words do name, outside the window
    notes: tuple[str, ...] = ()  # what could not be read or was cut short, said with the answer
    in_notes: bool = False  # the words name something in the first event's notes ("homework")
    cancelled: tuple[Event, ...] = ()  # called-off events the words name best, said as such
    during: Event | None = None  # the events listed are those while this one lasts
    part_of_day: PartOfDay | Literal[""] = ""  # the events listed take up this part of a day
    unread: tuple[str, ...] = ()  # calendars that could not be read (also among the notes)
    days_after: tuple[Event, ...] = ()  # the first event again on each following day (a refit)

    @property
    def missing(self) -> str:
        """What the answer lacks: the events of calendars that could not be read."""
        return " ".join(self.unread)

    @property
    def subject(self) -> str:
        """The words searched for, as a reply repeats them ("my birthday" → "birthday")."""
        return re.sub(r"\bmy\s+", "", self.text)

    @property
    def focus(self) -> Event | None:
        """The event a follow-up question ("what will the weather be?") is about: the first
        one held somewhere ("Online" and an all-day birthday are held nowhere), else the first.
        When the words matched nothing, the events listed are only the window's: the event the
        words name outside it, which the answer names, if any."""
        if not self.matched:
            return self.elsewhere
        placed = (event for event in self.events if names_a_place(event.location))
        return next(placed, self.events[0] if self.events else None)

    def for_model(self) -> str:
        """The findings as delimited, untrusted JSON for a language model."""
        payload = {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "matching": self.subject or None,
            "events": [_plain(event) for event in self.events],
        }
        # Only when they say something, so a plain search reads as it always has.
        if not self.matched:
            payload["words_matched_nothing"] = True
        if self.elsewhere:
            payload["what_the_words_name_elsewhere"] = _plain(self.elsewhere)
        if self.more:
            payload["more_not_shown"] = self.more
        if self.cancelled:
            payload["cancelled_events"] = [_plain(event) for event in self.cancelled]
        if self.notes:
            payload["reading_notes"] = list(self.notes)
        return data_block("calendar_data", payload, "the user's calendar content")

    def for_person(self, view: View) -> str:
        """A plain answer shaped by what was asked, with any reading notes; it says so when
        nothing was found."""
        called_off = [
            f"“{event.title}” on {day_name(event.start.date(), view)} is cancelled."
            for event in self.cancelled
        ]
        if called_off and not self.events:
            return "\n".join([*called_off, *(f"({note})" for note in self.notes)])
        listing = self._listing(view)
        return "\n".join([listing, *called_off, *(f"({note})" for note in self.notes)])

    def _listing(self, view: View) -> str:
        when = view.label or f"in the next {(self.end - self.start).days} days"
        # Same-zone subtraction counts wall-clock time, so a day across a DST change is one day.
        one_day = bool(view.window_label) and self.end - self.start <= timedelta(days=1)
        if (
            one_day
            and when != (day := day_name(self.start.date(), view))
            and (not when.startswith(day))
        ):
            when = f"{when}, {day}"
        if self.during is not None:  # "while I'm in Sydney": the stay is the window
            when = f"while {titled(self.during)} ({when_text(self.during, view)})"
        subject = self.subject
        # "Am I free for lunch on the 21st?": free or busy is over the window, whatever it holds.
        if view.asks in ("free", "busy") and (self.matched or not subject or self.events):
            return self._free(view, when, one_day)
        if subject and not self.matched:
            found = f"I found nothing matching “{subject}” {when}."
            if view.asks == "whether":  # "am I working on 3/18?"
                found = f"No, {found}"
            if self.elsewhere:
                # "What do I need for the tax appointment?" (gone by): its notes, as asked.
                asked = view.asks if view.asks in ("where", "duration", "notes", "who") else "when"
                found += f" {describe(self.elsewhere, view, asked)}"
            if not self.events:
                return found
            return self._listed(f"{found}\nEverything {when}:", one_day, view)
        if self.during is not None and view.asks in ("list", "count", "whether"):
            if not self.events:
                return f"Nothing else is on your calendar {when}."
            if view.asks == "count":
                count = len(self.events) + self.more
                return self._listed(
                    f"{count} event{'' if count == 1 else 's'} {when}:", False, view
                )
            return self._listed(f"{when[:1].upper()}{when[1:]}:", False, view)
        if view.asks == "count" and not subject:
            # "How many jobs today?": what takes up time; a period ("Half term") is only named.
            counted = replace(self, events=[e for e in self.events if e.busy or not e.all_day])
            count = len(counted.events) + self.more
            listed = counted._listed(f"{count} event{'s' * (count != 1)} {when}.", one_day, view)
            shown_free = _shown_free([e for e in self.events if e not in counted.events])
            return f"{listed}\n{shown_free.strip()}" if shown_free else listed
        if view.asks == "count":
            count = len(self.events) + self.more
            return self._listed(f"{count} “{subject}” {when}.", one_day, view)
        if view.asks == "until" and not subject and view.window_label:
            return self._until(view)
        if view.asks == "day_off":
            return self._day_off(view)
        if view.asks == "conflicts":
            return self._conflicts(view, when, one_day)
        if not self.events:
            if subject:
                return f"I found nothing matching “{subject}” {when}."
            return f"You have nothing on your calendar {when}."
        if view.asks == "until":
            return self._until(view)
        if view.asks == "last":
            return f"The last “{subject}”: {describe(self.events[-1], view, 'when')}"
        if self.in_notes and view.asks in ("list", "when", "whether"):
            return describe(self.events[0], view, "notes")
        if self.in_notes and view.asks == "where" and self.events[0].description:
            # "Where do we meet Anna at the market?": the place, and the notes that say where.
            event = self.events[0]
            return f"{describe(event, view, 'where')} Notes: {event.description.strip()}"
        if view.asks == "duration" and self.days_after:
            return self._days_running(view)
        if view.asks in ("where", "duration", "notes", "who"):
            return "\n".join(describe(event, view, view.asks) for event in self.events)
        if view.asks == "whether":
            heading = f"Yes, {when}:"
        elif subject and len(self.events) == 1 and not view.window_label:
            heading = f"Your next “{subject}”:"
        elif subject:
            heading = f"Matching “{subject}” {when}:"
        elif not view.window_label and len(self.events) == 1:
            heading = "Next on your calendar:"
        else:
            heading = f"{when[:1].upper()}{when[1:]}:"
        return self._listed(heading, one_day, view)

    def _until(self, view: View) -> str:
        """How long until the event asked about, or, with no event named ("how many days till
        Thanksgiving?"), until the day named: the first of a window named ("the weekend"), the
        last of one from now on ("till Christmas")."""
        if self.subject or not view.window_label:
            first = self.events[0]
            days = (first.start.date() - view.today).days
            return f"{titled(first)} is {_away(days)}: {describe(first, view, 'when')}"
        day = self.start.date()
        if day <= view.today:
            day = (self.end - timedelta(microseconds=1)).date()
        return f"{day_name(day, view)} is {_away((day - view.today).days)}."

    def _conflicts(self, view: View, when: str, one_day: bool) -> str:
        """Which events overlap another (all-day ones and those shown as free block nothing)."""
        timed = [event for event in self.events if event.busy and not event.all_day]
        clashing = [
            event
            for event in timed
            if any(other is not event and _overlap(event, other) for other in timed)
        ]
        if clashing:
            return replace(self, events=clashing, more=0)._listed(
                f"Yes, these overlap {when}:", one_day, view
            )
        if not self.events:
            return f"No conflicts {when}: nothing is on your calendar then."
        return self._listed(f"No conflicts {when}, nothing overlaps:", one_day, view)

    def _day_off(self, view: View) -> str:
        """The first day from tomorrow (or from the window asked about) with no work on it."""
        first = max(self.start.date(), view.today + timedelta(days=1))
        last = (self.end - timedelta(microseconds=1)).date()
        if not any(is_work(event) for event in self.events):
            return (
                "None of your events look like work (a shift, work, the office, on call…), so "
                "I can't tell your days off from the others."
            )
        day = first_day_off(self.events, first, last)
        if day is None:
            between = f"{day_name(first, view)} to {day_name(last, view)}"
            return f"I found no day without work from {between}."
        that_day = [
            e
            for e in self.events
            if e.start.date() <= day <= (e.end - timedelta(microseconds=1)).date()
        ]
        lines = [event_line(event, view, day) for event in that_day if not is_work(event)]
        said = f"Your next day off: {day_name(day, view)} (no work on your calendar that day)."
        return "\n".join([said, *lines])

    def _days_running(self, view: View) -> str:
        """ "How long will the Hendersons take?": a job on four days in a row takes four days."""
        first, last = self.events[0], self.days_after[-1]
        days = len(self.days_after) + 1
        hours = f"{clock_time(first.start, view.clock)}–{clock_time(first.end, view.clock)}"
        begins, ends = (day_name(e.start.date(), view) for e in (first, last))
        return f"{titled(first)} takes {days} days: {begins} to {ends}, {hours} each day."

    def _free(self, view: View, when: str, one_day: bool) -> str:
        """Free or busy, answered as asked ("am I free…?" no, "am I busy…?" yes). At a moment,
        only what runs at it counts; an event later in that hour is said as what comes next.
        Events shown as free ("Working remotely", a holiday) never make anyone busy."""
        no, yes = ("No", "Yes") if view.asks == "free" else ("Yes", "No")
        if view.moment:
            moment = self.start
            when = f"at {clock_time(moment, view.clock)} on {day_name(moment.date(), view)}"
            running = [event for event in self.events if event.start <= moment < event.end]
            if any(event.busy for event in running):
                lines = [event_line(event, view, moment.date()) for event in running]
                return "\n".join([f"{no}, {when} you have:", *lines])
            later = [event for event in self.events if event.start > moment and event.busy]
            after = ""
            if later:
                after = f" Next: {later[0].title} at {clock_time(later[0].start, view.clock)}."
            return f"{yes}, you're free {when}.{_shown_free(running)}{after}"
        if self.part_of_day and not one_day and view.asks == "free":
            return self._free_parts(view, when)
        if not any(event.busy for event in self.events):
            nothing = "nothing is on your calendar then" if not self.events else "nothing blocks it"
            return f"{yes}, you're free {when}: {nothing}.{_shown_free(self.events)}"
        # What makes them busy is listed; what is marked free is only named as such.
        busy = replace(self, events=[event for event in self.events if event.busy])
        listed = busy._listed(f"{no}, {when} you have:", one_day, view)
        shown_free = _shown_free([event for event in self.events if not event.busy])
        return f"{listed}\n{shown_free.strip()}" if shown_free else listed

    def _free_parts(self, view: View, when: str) -> str:
        """ "Am I free any afternoon next week?": the days whose afternoon nothing takes up."""
        assert self.part_of_day
        taken = {
            day
            for event in self.events
            if event.busy
            for day in _part_days(event, self.part_of_day)
        }
        last = (self.end - timedelta(microseconds=1)).date()
        days = [
            self.start.date() + timedelta(days=n)
            for n in range((last - self.start.date()).days + 1)
        ]
        free = [day_name(day, view) for day in days if day not in taken]
        # Only what takes the time up is listed ("Olivia's birthday", marked free, is not).
        busy = replace(self, events=[event for event in self.events if event.busy])
        if not free:
            return busy._listed(f"No, {when} you have:", False, view)
        said = f"Yes, {when} you're free on {', '.join(free)}."
        return busy._listed(f"{said}\nTaken:", False, view) if taken else said

    def _listed(self, heading: str, one_day: bool, view: View) -> str:
        if one_day:
            lines = [event_line(event, view, self.start.date()) for event in self.events]
        else:
            lines = events_by_day(self.events, view, self.start)
        more = [f"…and {self.more} more."] if self.more else []
        return "\n".join([heading, *lines, *more])


def _overlap(one: Event, other: Event) -> bool:
    return one.start < other.end and other.start < one.end


def _shown_free(events: list[Event]) -> str:
    """What is on the calendar but does not take up the time ("Bin day", "Working remotely")."""
    if not events:
        return ""
    return f" ({', '.join(event.title for event in events)}: not taking up the time.)"


def _away(days: int) -> str:
    return {0: "today", 1: "tomorrow"}.get(days, f"in {days} days")


def search_calendar(
    context: ToolContext,
    start: datetime | None = None,
    end: datetime | None = None,
    text: str = "",
    limit: int = 10,
    part_of_day: PartOfDay | Literal[""] = "",
    during: bool = False,
    after: str = "",
    before: str = "",
) -> CalendarFindings:
    """Look up events in the user's own calendars, between two times, ranked by words.

    Use it for any question about the user's plans: what is on a day, whether they are free,
    when something is. All-day events are included. Times come back in the user's time zone.

    Args:
        start: Start of the range, ISO 8601, e.g. "2026-12-03T00:00:00". Without an offset it is
            read in the user's time zone. Defaults to now.
        end: End of the range (exclusive), e.g. "2026-12-04T00:00:00" for the whole of 3 December.
            Defaults to the search horizon (about 90 days after start).
        text: Words naming the event, e.g. "dentist" or "lunch priya"; events whose title (then
            place, then notes) has the rarest of them come back. If no event matches, every
            event in the range comes back, marked as not matching. Leave empty to list the range.
        limit: At most this many events, the earliest first (1 for "when is my next ...").
        part_of_day: Only events in that part of each day, e.g. "evening" for "which evenings
            am I out next week?". Leave empty otherwise.
        during: True for every event while the one the words name lasts, e.g. for "what's on
            while I'm in Sydney?" (text "Sydney").
        after: Words naming an event the range starts after, e.g. "holidays" for "the next
            piano lesson after the holidays" (text "piano lesson"). Leave empty otherwise.
        before: Words naming an event the range ends before, e.g. "dentist" for "anything
            before the dentist?". Leave empty otherwise.
    """
    begin = context.localize(start) if start else context.now()
    finish = context.localize(end) if end else begin + timedelta(days=context.search.horizon_days)
    if after or before:
        begin, finish = _between_events(context, begin, finish, after, before)
    if finish <= begin:
        return CalendarFindings([], begin, finish, text)
    matched, elsewhere, in_notes, cancelled = True, None, False, ()
    known: list[Event] = []
    if not significant(text):
        events = context.calendar.events(begin, finish)
        notes, unread = tuple(getattr(events, "notes", ())), getattr(events, "unread", ())
        if limit == 1:  # "what's next?": an appointment, not the half term or a birthday under way
            events = [event for event in events if event.busy or not event.all_day] or events
    else:
        # One read serves the word weights, the window and what the words name elsewhere.
        known_from, known_to = _known_range(context)
        known = context.calendar.events(known_from, known_to)
        notes, unread = tuple(getattr(known, "notes", ())), getattr(known, "unread", ())
        significance = Significance.of(known)
        if known_from <= begin and finish <= known_to:
            events = [event for event in known if event.start < finish and event.end > begin]
        else:
            events = context.calendar.events(begin, finish)
            notes = tuple(dict.fromkeys((*notes, *getattr(events, "notes", ()))))
        # Called-off events are ranked with the others: "the Christmas party" that was
        # cancelled is said to be, not answered with "Christmas lunch".
        called_off = [e for e in _cancelled(known, events) if e.start < finish and e.end >= begin]
        ranked = _ranked(events + called_off, text, significance, context.user, limit == 1)
        cancelled = tuple(event for event in ranked if event.cancelled)
        ranked = [event for event in ranked if not event.cancelled]
        matched = bool(ranked)
        in_notes = matched and named_in_notes(ranked[0], significant(text))
        if not ranked:
            elsewhere = _nearest(_ranked(known, text, significance, context.user), begin)
        # Words that match nothing leave a window's events to list, unless one event was
        # wanted by name ("when is ...?", a rule's `limit: 1`).
        if ranked or start is None or limit == 1:
            events = ranked
    stay = _longest(events) if during and matched and significant(text) else None
    if stay is not None and is_journey(stay):  # "while I'm in Singapore": from landing to leaving
        stay = time_in(known, set(significant(text))) or stay
    if stay is not None:
        events = [e for e in context.calendar.events(stay.start, stay.end) if e != stay]
        # "Am I working while I'm in Puerto Rico?": what the other words name, during the stay.
        text = " ".join(w for w in significant(text) if not named_in(stay, [w]))
        if text:
            ranked = _ranked(events, text, significance, context.user)
            matched, events = bool(ranked), ranked or events
    if part_of_day:
        events = [event for event in events if _part_days(event, part_of_day)]
    limit = max(1, limit)
    # One event wanted from a time that is over ("where was the farewell lunch?"): the latest.
    # (Said here, not in the docstring above: Claude reads that, and its recordings with it.)
    if limit == 1 and finish <= context.now():
        events = events[-1:]
    days_after = _days_after(events) if limit == 1 and significant(text) else ()
    # One event wanted ("when is ...?"): the others are not "more" of an answer.
    more = max(0, len(events) - limit) if limit > 1 else 0
    return CalendarFindings(
        events[:limit],
        begin,
        finish,
        text,
        more=more,
        matched=matched,
        elsewhere=elsewhere,
        notes=notes,
        in_notes=in_notes,
        cancelled=cancelled,
        during=stay,
        part_of_day=part_of_day,
        unread=tuple(unread),
        days_after=days_after,
    )


def _days_after(events: list[Event]) -> tuple[Event, ...]:
    """The first event again on each day that follows, with no day missed, when that is all of
    it: a job over four days ends, a practice on Tuesdays and Wednesdays goes on."""
    if not events or events[0].all_day:
        return ()
    again = [e for e in events[1:] if e.title == events[0].title and not e.all_day]
    following: list[Event] = []
    for event in again:
        last = following[-1] if following else events[0]
        if (event.start.date() - last.start.date()).days != 1:
            return ()
        following.append(event)
    return tuple(following)


def _between_events(
    context: ToolContext, begin: datetime, finish: datetime, after: str, before: str
) -> tuple[datetime, datetime]:
    """The range cut at the events named: from the end of the first `after` names that ends in
    it ("after the dentist on Monday"), to the start of the first `before` names that starts in
    it. An event not found leaves the range as it was."""
    known = context.calendar.events(*_known_range(context))
    significance = Significance.of(known)
    if after:
        named = _ranked(known, after, significance, context.user)
        edge = next((e for e in named if begin < e.end <= finish), None)
        begin = edge.end if edge else begin
    if before:
        named = _ranked(known, before, significance, context.user)
        edge = next((e for e in named if begin <= e.start < finish), None)
        finish = edge.start if edge else finish
    return begin, finish


def _longest(events: list[Event]) -> Event | None:
    """The event the others happen during: the longest ("the stay in Sydney", not its flights)."""
    return max(events, key=lambda event: event.end - event.start, default=None)


def _part_days(event: Event, part: PartOfDay) -> set[date]:
    """The days whose part (their morning, evening…) a timed event takes up some of."""
    if event.all_day:
        return set()
    first, last = PARTS_OF_DAY[part]
    zone, day, days = event.start.tzinfo, event.start.date(), set()
    while day <= event.end.date():
        if event.start < at(day, last, zone) and event.end > at(day, first, zone):
            days.add(day)
        day += timedelta(days=1)
    return days


def _cancelled(*found: list[Event]) -> list[Event]:
    """The called-off events a calendar read set apart, each once."""
    both = (event for events in found for event in getattr(events, "cancelled", ()))
    return sorted(set(both), key=lambda event: event.start)


def _nearest(found: list[Event], moment: datetime) -> Event | None:
    """The first event from `moment` on, else the last before it."""
    after = [event for event in found if event.start >= moment]
    return after[0] if after else (found[-1] if found else None)


def _ranked(
    events: list[Event],
    text: str,
    significance: Significance,
    user: UserSettings,
    single: bool = False,
) -> list[Event]:
    """The events the words name best, in time order; none if only common words match.
    For a `single` answer ("when is ...?") only the best-named events are kept."""
    words = significant(text)
    if coming_back(text.lower()) and not _places(text.lower()):
        back = back_from(events, [], user.home.split(",")[0], anywhere=True)
        return [back] if back else []
    if words and set(words) <= ANY_TRAVEL:
        return [event for event in events if is_journey(event)]
    if RETURN.search(text.lower()) and set(words) & _JOURNEYS:
        # "our flight home": "home" says which flight, it names no event ("Working from home").
        words = [word for word in words if word != "home"]
    if AWAY.search(text.lower()) and not set(words) - AWAY_WORDS - VAGUE_WORDS:
        return first_trip(events, user.home.split(",")[0])
    owned = owners(text, user.name)
    # "The conference": DevConf, whose title is one, over "Conference dinner".
    headed = {word for word in words if any(heads(event, word) for event in events)}
    scores = []
    for event in events:
        disowned = any(owned_by_another(event, word, owner) for word, owner in owned.items())
        mine = any(
            owner == user.name.lower() and titled_mine(event, word) for word, owner in owned.items()
        )
        points = score(event, words, significance, headed)
        scores.append(0.0 if disowned else points * (MINE if mine else 1.0))
    best = max(scores, default=0.0)
    if best < MINIMUM_SCORE:
        return []
    # "Stephen's Day": if no telling word matches, "day" alone (in "Bin day") is no match.
    telling = [word for word in words if word not in VAGUE_WORDS]
    top = events[scores.index(best)]
    if telling and not score(top, telling, significance):
        return []
    # An event must have half the asked words the calendar knows: "Lily's piano" is not
    # "Sophie's party (Lily)".
    found = [e for e, s in zip(events, scores, strict=True) if s >= best * RELATIVE_CUT]
    # "Home for Christmas" names an event: its "home" is not the journey back, unless the
    # question names a place the event is not at ("when do I get home from Lisbon?").
    asked_back = {m[0] for m in RETURN.finditer(text.lower())}
    named_back = bool(asked_back & {m[0] for m in RETURN.finditer(top.title.lower())})
    places = _places(TRIP.sub(" ", text.lower()))
    named_back = named_back and (not places or named_in(top, places))
    if not named_back and (travelled := _travel(text.lower(), events, found, user)):
        return travelled
    covered = [coverage(event, words, significance) >= HALF for event in events]
    found = [e for e, c in zip(events, covered, strict=True) if c and e in found]
    if single:
        found = [
            e
            for e, s, c in zip(events, scores, covered, strict=True)
            if c and s >= best * SINGLE_CUT
        ]
    if coming_back(text.lower()) and len(found) > 1:
        # "When do I fly back?": the flight home, not the first flight of the trip.
        home = set(significant(user.home.split(",")[0]))
        homeward = [
            event
            for event in found[1:]
            if RETURN.search(event.title.lower()) or home & set(significant(event.title))
        ]
        found = homeward[:1] or found[1:]
    return found


def _travel(asked: str, events: list[Event], found: list[Event], user: UserSettings) -> list[Event]:
    """A question about a trip, coming back or setting off, answered from the journeys; none
    when the calendar has no journey that answers it."""
    home = user.home.split(",")[0]
    if STAYING.search(asked):
        # The longest event of a day or more at the place asked about, though a journey
        # there names the place better ("Flight to Maui" over "Maui vacation").
        place = [w for w in significant(STAYING.sub(" ", asked)) if w not in VAGUE_WORDS]
        stays = [
            e
            for e in events
            if not is_journey(e) and e.end - e.start >= STAY and place and named_in(e, place)
        ]
        if stays:
            return [max(stays, key=lambda e: e.end - e.start)]
    if TRIP.search(asked):
        # "The Byron trip": the words besides "trip" say which ("Holiday - Byron Bay").
        named = [w for w in significant(TRIP.sub(" ", asked)) if w not in VAGUE_WORDS]
        # Those words name it by its title or place, though notes saying "the Byron trip" rank
        # higher; with no other word, "the trip" is the first one away.
        if named:
            found = [e for e in found if named_in(e, named)] or [
                e for e in events if named_in(e, named)
            ]
        else:
            found = events
        return trip(events, found, home) or found
    # "The flight to Finland", "my flight home to Delhi": the journeys going there, when others
    # (the way back from there) are found as well.
    journeys = [event for event in found if is_journey(event)]
    there = set(significant(" ".join(_GOING_TO.findall(asked)))) - TRANSPORT - VAGUE_WORDS
    going = [event for event in journeys if destination(event) & there]
    if going and len(going) < len(journeys):
        return going
    if coming_back(asked):
        back = back_from(events, found, home, anywhere=not _places(asked))
        return [back] if back else []
    if BEING_IN.search(asked):
        # From landing to leaving; an event of a day or more there from the day of landing on
        # ("Home for Christmas (Cork)", a week's leave in Florida) is that time, one begun days
        # later (a conference while there) is not.
        place = [word for word in significant(asked) if word not in VAGUE_WORDS]
        landed = time_in(events, set(place))
        stays = [
            e
            for e in events
            if not is_journey(e)
            and e.end - e.start >= STAY
            and named_in(e, place)
            and (landed is None or e.start.date() <= landed.start.date())
        ]
        stay = stays[0] if stays else landed
        return [stay] if stay else []
    if source := LEAVING_FROM.search(asked):
        return from_place(events, set(significant(source[1])), set(significant(asked)))
    by_transport = bool(set(significant(asked)) & TRANSPORT)
    if DEPART.search(asked) or (by_transport and found and not is_journey(found[0])):
        if going := towards(found, significant(asked))[:1]:
            return going
        # "When do I fly to Puerto Rico?": the journey there, not the stay the words name best.
        anchor = away(events, found, home)
        there = journey_to(events, anchor, home) if anchor else None
        return [there] if there else []
    return []


_GOING_TO = re.compile(r"\b(?:to|into|for)\s+((?:[^\W\d_]+\s*){1,3})")


def _places(asked: str) -> list[str]:
    """What a question about coming back names besides going ("melbourne" in "fly back from
    Melbourne"); none in "when do I fly back?", where "back" is no event's word ("lower back")."""
    return [w for w in significant(RETURN.sub(" ", asked)) if w not in TRANSPORT | VAGUE_WORDS]


def _known_range(context: ToolContext) -> tuple[datetime, datetime]:
    """The user's own events that count: from a month back to the search horizon."""
    now = context.now()
    return now - LOOK_BACK, now + timedelta(days=context.search.horizon_days)


def significance_of(context: ToolContext) -> Significance:
    """Word weights over the user's own events."""
    try:
        events = context.calendar.events(*_known_range(context))
    except CalendarError:  # the search says what is wrong with the calendar
        events = []
    return Significance.of([*events, *_cancelled(events)])


def understand_for(context: ToolContext, text: str) -> Question:
    """Understand a message with what the user's own calendar knows (names, places, titles)."""
    user = context.user
    return understand(
        text,
        context.now(),
        significance=lambda: significance_of(context),
        date_order=user.numeric_date_order,
        clock=user.clock,
    )


def _plain(event: Event) -> dict[str, object]:
    plain: dict[str, object] = {
        "title": event.title,
        "weekday": event.start.strftime("%A"),
        "start": _iso(event.start, event.all_day),
        "end": _iso(event.end, event.all_day),
        "all_day": event.all_day,
        "location": event.location or None,
        "notes": event.description or None,
    }
    if event.attendees:  # only when there are some, so an event without reads as it always has
        plain["attendees"] = list(event.attendees)
    return plain


def _iso(moment: datetime, all_day: bool) -> str:
    return moment.date().isoformat() if all_day else moment.isoformat()
