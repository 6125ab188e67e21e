"""Understand a message without a model: what kind it is, its time, its subject, what it asks.

`understand` reads a message against the clock and, when it has them, the user's settings and
the words of their own events (titles, people, places). A message is about the calendar when it
names a time, a calendar word, or something in those events; a request to change the calendar
("cancel my haircut") is recognised as such, so it can be declined plainly; small talk and
general questions are neither.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Literal, cast

from bot.small_talk import small_talk
from bot.understanding.matching import Significance, significant, tokens
from bot.understanding.times import (
    PARTS_OF_DAY,
    DateOrder,
    PartOfDay,
    TimeReading,
    TimeWindow,
    date_order_for,
    in_each,
    prepare,
    read_time,
)
from bot.understanding.words import CATEGORY_WORDS, FUNCTION_WORDS, VAGUE_WORDS, correct

__all__ = ["Asks", "Kind", "Question", "TimeWindow", "past_year", "understand"]

Kind = Literal["calendar", "write", "small_talk", "other"]
Asks = Literal[
    "list",
    "count",
    "where",
    "when",
    "duration",
    "free",
    "busy",
    "notes",
    "last",
    "until",
    "who",
    "day_off",
    "whether",
    "conflicts",
]


@dataclass(frozen=True)
class Question:
    """The understood question handed to the tools."""

    text: str
    window: TimeWindow | None  # None when the question names no time
    subject: str  # words naming an event, "" if none
    next_only: bool  # only the next occurrence is wanted
    problem: str | None  # a kind sentence when the question names an impossible date
    kind: Kind = "calendar"
    asks: Asks = "list"  # what the answer must say
    moment: datetime | None = None  # "am I free at 3pm Friday?": the moment asked about
    part_of_day: PartOfDay | Literal[""] = ""  # "in the mornings next week": of each day
    during: bool = False  # "what's on while I'm in Sydney?": while the event named lasts
    after: str = ""  # "the next piano lesson after the holidays": words naming that event
    before: str = ""  # "anything before the dentist?": the window ends as that event starts
    knowledge: bool = False  # "how many calories in a hot dog?": no rule's keyword is about it


_POLITE = (
    r"^(?:(?:can|could|would|will) (?:you|u) |please |pls |plz |"
    r"i (?:want|need|would like|'d like) to |help me |let's |go ahead and |just |ok |okay |"
    r"kindly |possibly |and |also |then |so |"
    r"be (?:a dear|a love|so kind as to|kind enough to|good enough to)(?: and)? )*"
)
# Verbs that always ask for a change; verbs that do when an object follows ("move date night
# to Saturday", "add dinner with Sam"); and verbs that are also common nouns in titles ("book
# club on Friday?", "call with Jenny"), which do only before a determiner ("book a table").
_WRITE = re.compile(
    _POLITE + r"(?:(?:cancel|delete|remove|reschedule|postpone|prepone|rename|rsvp|decline|accept|"
    r"unsubscribe|snooze|remind(?! me,? (?:what|when|where|how|who|if|whether|of))|invite|"
    r"notify|e-?mail|text|message|whatsapp|add|swap|trade|pencil)\b"
    r"|(?:create|put|pop|stick|slot|schedule|make|set up|arrange|organi[sz]e|move|push|shift|"
    r"bring forward|send|forward|edit|buy|pay|enter|note down|jot down|log)\s+"
    r"(?:(?:a|an|the|my|me|it|this|that|him|her|them|us|some)\b|(?:[a-z0-9':]+ ){1,3}"
    r"(?:to|with|for|on|at|by|into|in|from|back|forward|an?|the|that|i'm|i'll|i am)\b)"
    r"|(?:book|call|ring|phone|change|update|block|clear|mark|share|order|plan)\s+"
    r"(?:a|an|the|my|me|it|this|that|him|her|them|us|some)\b"
    # "change choir to half past seven", "change yoga to 7pm": what to change, then to what.
    r"|(?:change|update|switch|alter)\s+(?:[a-z0-9':]+ ){1,3}(?:to|into)\b"
    # "write to Klara that…", "write back to Sam": a message to someone.
    r"|(?:write|reply|respond)\s+(?:back\s+)?to\s+(?!me\b)\w+)"
)
_WRITE_ANYWHERE = re.compile(
    r"\b(?:remind me(?!,? (?:what|when|where|how|who|if|whether|of))|"
    r"set (?:a|an|up a) (?:reminder|alarm|timer|meeting)|put (?:it|this|that) in|"
    r"(?:put|add|pop|stick|write|pencil|enter|note|jot)(?: .+)? (?:in|on|into|to) (?:my|the) "
    r"(?:calendar|diary|schedule|agenda)|"
    r"add (?:it|this|that) to|block (?:out|off)|can you (?:cancel|move|book|add|delete)|"
    r"i (?:need|want) to (?:cancel|move|reschedule|delete)|"
    r"^(?:please )?(?:tell|let) (?!me\b)\w+ (?:know )?(?:that|to|i'm|i'll|i am|we|i)\b|"
    r"\blet (?!me\b)\w+ know\b|\bgive (?!me\b)\w+ a (?:heads[- ]up|call|ring|bell|buzz)\b|"
    # "ring Mrs Patel and say I'll be late", "text Sam and tell him…": a message to send.
    r"^(?:please )?(?:call|ring|phone|text|message|email|e-mail|whatsapp|bell) (?!me\b).+ and "
    r"(?:say|tell|let|ask|explain|warn)\b)\b"
)
# Questions about the world, not the user's plans, even when they name a time or their events'
# words ("recommend a good book for my book club"): no rule's keyword makes them the user's.
_KNOWLEDGE = re.compile(
    r"^(?:who (?:won|is|was|were|invented|wrote|sang|played|discovered)\b(?! (?:i|me)\b)|"
    r"what(?: is| was| are|'s) the (?:capital|population|score|price|news|"
    r"meaning|height|distance|result)|how (?:tall|old|far|big|deep|do you|does a)|why |"
    r"translate|explain|define|calculate|write (?:me )?(?:a|an)|tell me a (?:joke|story)|"
    # Advice, not plans: "what's the best way to…", "what's a good recipe for…".
    r"what(?:'s|s| is| are) (?:a|an|the|some) (?:good|best|nice|easy|quick|simple|easiest|"
    r"quickest|simplest|right|proper) (?:way|ways|recipe|recipes|method|remedy|cure|trick|tip)s?\b|"
    # A recommendation, unless of a time: "suggest a slot for a call" is about the calendar.
    r"(?:(?:can|could) you )?(?:please )?(?:recommend|suggest)\b(?!.*\b(?:time|slot|day|date)s?\b)|"
    r"what(?:'s| is) \d|what does .* mean\b|"
    r"how many (?:kilometres|kilometers|kms?|miles|metres|meters|feet|inches|grams|kilos|"
    r"kilograms|pounds|ounces|cups|litres|liters|calories|people live)\b)"
)
_GENERAL = re.compile(
    _KNOWLEDGE.pattern + r"|^(?:what(?: is| was| are|'s) the (?:weather|temperature)|"
    # The clock, here or somewhere named ("what time is it in New York?"), not an event there.
    r"what (?:time|day) is it\b|what(?:'s| is) the (?:time|date)(?:$| now\b| today\b| in\b))"
)
# "When's the wedding?", "where's the gig?": one occasion asked for by name, in two words at most.
# Such a question is about the user's own events even when none has that name: the honest answer
# is that none is found, not that the question is out of scope.
_OCCASION = re.compile(
    r"^(?:when|where|what time)(?:'s|s| is| are| was| were) (?:the|our) "
    r"[a-z][\w'-]*(?: [a-z][\w'-]*)?$"
)
_LIST_ME = re.compile(
    r"^(?:(?:can|could|would|will) you )?(?:please )?(?:give|show|tell|send|read|run) me\b"
    r"|^(?:please )?list\b"
)
_ASKS_A_QUESTION = re.compile(
    r"^(?:\W*\w+ )?(?:when|where|what|how|who|which|is|are|am|do|does|did|will|have|has)\b"
)
# Words a question may open with before it asks: "so, is there…", "ok when is…".
_OPENING = r"^(?:\W*(?:so|and|but|also|oh|ok|okay|hey|um|btw|well)\W+)?"
# Questions whose answer is an event or its absence: "when is…", "is there…", "does X start…".
_ASKS_OF_A_TIME = re.compile(
    _OPENING + r"(?:when|is|are|am|do|does|did|will|have|has|got|any|anything|something)\b"
)
_HOW_TO = re.compile(r"^how (?:do|can|could|should|would|to) (?:i|you|we|one)?\b")
_CALENDAR_CUES = re.compile(
    r"\bmy\b|\b(?:what's|what is|whats|anything|something|nothing) on\b|\bon (?:for|at|in)\b"
    r"|\b(?:do|did|am|have|had|was|will|should|must|shall|can) i\b"
    r"|\bi(?:'m| am| have| had|'ve| got| meet| see| need to be)\b"
    r"|\b(?:meet|meeting|see|seeing) me\b|\bfree\b|\bbusy\b"
    r"|\b(?:schedule|calendar|agenda|plans?|diary|appointments?|appts?|meetings?|mtgs?|events?|"
    r"booked|rundown|line-?up|itinerary|timetable)\b"
    r"|\bwhat(?:'s| is) (?:next|coming up)\b|\bnext up\b|\bcoming up\b"
    r"|\bwhat time (?:is|are|does|do|'s)\b(?! it\b)|\bhow many\b|\bnumber of\b"
    r"|\b(?:happening|planned|going on|doing|up to|got on|have on|cooking|the plan|still on)\b"
    r"|\bwhat(?:'s| is) the (?:craic|crack|story|deal|lowdown|go)\b|\bgoing down\b"
    r"|\b(?:any|have i got|do i have) (?:\w+ )?(?:conflicts?|clash(?:es)?|overlaps?)\b"
    r"|\bdouble[- ]booked\b"
)
# Cues that a how-to or trivia question shares ("how do I convert…", "how many ounces…"): they
# make a question the calendar's only with a time or the user's own event words.
_WEAK_CUES = re.compile(r"\bhow many\b|\bhow (?:do|can|should|would) (?:i|you|we)\b")
_WEATHER = re.compile(
    r"\b(?:weather|forecast|temperature|rain|raining|rainy|snow|snowing|sunny|windy|umbrella)\b"
)
_UNTIL = re.compile(
    r"\bhow (?:many (?:days|weeks|sleeps)|long) (?:until|till|til|to go|before|left)\b"
    r"|\bdays (?:until|till|left)\b"
)
_UNTIL_WORD = re.compile(r"\b(?:until|till|til|to go (?:until|till|til)|before)\b")
# "How many days is the CE course?", "how many hours is my shift?": its length, not a count.
_HOW_MANY_LONG = re.compile(
    r"\bhow many (?:days|nights|hours|minutes|weeks) (?:is|are|was|will|does|do|did|'s)\b"
)
# "Any conflicts Tuesday?", "am I double-booked?": events that overlap each other.
_CONFLICTS = re.compile(r"\b(?:conflicts?|clash(?:es)?|overlap(?:s|ping)?|double[- ]booked)\b")
_COUNT = re.compile(r"\bhow many\b|\bnumber of\b|\bcount\b|\bhow (?:often|frequently)\b")
_DAY_OFF = re.compile(r"\bdays? off\b|\bday without (?:work|a shift|shifts)\b")
_WHERE = re.compile(
    r"\bwhere\b|\b(?:which|what) (?:place|venue|address|station|airport|terminal|room|building"
    r"|hall|platform|floor)\b|\bwhat(?:'s| is) the address\b"
)
_DURATION = re.compile(
    r"\bhow long\b|\bwhat(?:'s| is) the duration\b|\bwhen does .* (?:end|finish)\b|\buntil when\b"
)
_FREE = re.compile(
    r"\b(?:am|are|r|will) (?:i|we) (?:be )?(?:free|busy|available)\b"
    r"|\b(?:free|busy|available) (?:at|on|then|tonight|tomorrow)\b|\bis .* free\b"
    r"|^(?:free|busy|available)\b"
)
# Asking whether something fits at a time is asking whether they are free then.
_FITS = re.compile(
    r"\b(?:can|could) (?:i|we) (?:do|fit|squeeze|make|manage|take|join|attend)\b"
    r"|\b(?:do|will) (?:i|we) have time\b"
    r"|\b(?:does|would|will) .+ work(?: for\b|$)"
    # "Is Sunday good for a picnic?", "is friday ok for drinks?"
    r"|^(?:is|would|will) .+ (?:be )?(?:good|ok|okay|fine|alright|all right) for\b"
)
_AT_A_MOMENT = re.compile(
    r"\b(?:do|have|did) (?:i|we) (?:have |got )?(?:anything|something)\b"
    r"|\b(?:can|could) (?:i|we) do\b"
)
_NOTES = re.compile(
    r"\b(?:bring|bringing|take|pack|wear|wearing|prepare|notes?|details?|link|url|meet link|"
    r"(?<!\bmy )agenda for|gift|present|reading|(?:need|have|got) to be (?:at|there)|arrive|"
    r"get there|"
    r"reference|ref|booking|confirmation|code|password|passcode|pin|tickets?|numbers?|"
    r"park|parking|check[- ]?in|boarding|gate|"
    r"dial[- ]in|description|what do i need|anything i need|need (?:anything|something)|"
    r"what (?:should|do|must) i (?:ask|know|say)|what (?:does|do|will) (?:\w+ ){1,4}need\b|"
    r"need (?:for|to bring)|(?:to )?remember (?:for|about|to bring)|"
    # "what am I getting Anika?" (a gift), "what's the talk about?", "how much is the rent?"
    r"what (?:am i|are we|should i|shall i|do i) (?:getting|giving|buying|get|give|buy)|"
    r"what(?:'s| is| was| are) .+ about$|how much (?:is|are|was|does|do|will)\b)\b"
)
# Who is invited: "who's coming to the committee meeting?", "who else is at the dinner?"
_WHO = re.compile(
    r"\bwho(?:'s|s| is| are|'re| will be| else is| else)? (?:coming|going|attending|invited|joining"
    r"|in|at|there|on)\b|\bwho (?:am i|will i be|do i) (?:meeting|seeing|with)\b|\bwith whom\b"
    r"|\bguest list\b|\battendees\b"
)
_LAST = re.compile(
    r"\b(?:last|previous|most recent|latest) (?:time|one)?\b|\bwhen (?:was|did)\b"
    r"|\bwhen (?:my|the|our) (?:\S+ ){1,3}?(?:was|were)\b"  # "idk when my physical was"
)
_NEXT = re.compile(
    r"\bnext\b|\bwhen(?:'s| is| are|'re) (?:my|the|our)\b|\bwhen (?:do|am|will|does|is) \b"
    r"|\bwhen's\b|\bwhat time\b|\bwhere\b|\bhow long\b"
)
# "What's first tomorrow?", "where am I off to first?": the first event, in the window if named.
_FIRST = re.compile(
    r"^what(?:'s| is) (?:the )?first\b(?! of\b)"
    r"|^(?:where|when)\b.* first\b(?! (?:of|time|day|week)\b)"
)
_OWNED = re.compile(r"\bmy (\w+)")
# "My last shift before the trip", "the final practice before the game": the last of something
# ahead, before another event.
_LAST_BEFORE = re.compile(r"\b(?:last|final) .+? before\b")
_PAST_TENSE = re.compile(r"\b(?:was|were|did)\b")
# "While I'm in Sydney", "during my stay in Cork": every event while the one named lasts.
_DURING = re.compile(
    r"\b(?:while|whilst|when) (?:i'm|i am|i'll be|we're|we are|we'll be) (?:away |over |down |up )?"
    r"(?:in|at|on|staying|visiting)\b|\bduring (?:my|our|the)\b"
    r"|\bwhat (?:am i|are we|will i be|will we be) (?:doing|up to) in\b"  # "…in Puerto Rico?"
)
# "Am I working Saturday?", "is there practice Monday?": a yes or no, then what is on.
_YES_NO = re.compile(
    _OPENING + r"(?:am i|are we|do i|do we|is|are there|have i got|have i|will i be)\b"
)
_BEING_IN = re.compile(
    r"\b(?:when|how long) (?:am i|are we|will i be|will we be|do i stay|do we stay) in\b"
)
# "In the mornings next week", "every evening this week", "any afternoon", "a free morning":
# that part of each day, not a subject.
_EACH_PART = re.compile(
    r"\b(?:(?:every|each|any|an? (?:free|spare|clear)) "
    rf"({'|'.join(PARTS_OF_DAY)})|({'|'.join(PARTS_OF_DAY)})s)\b"
)


def understand(
    text: str,
    now: datetime,
    *,
    significance: Callable[[], Significance] | None = None,
    date_order: DateOrder | None = None,
    clock: str = "24h",
) -> Question:
    """Read a message's kind, time window, subject and what it asks.

    `significance` gives the words of the user's own events; it is called only when the words
    alone do not decide (reading the calendar may cost a request). Without it, recognition
    relies on time phrases and calendar words alone.
    """
    lowered = text.lower().replace("’", "'").replace("‘", "'").strip()
    order = date_order or date_order_for(getattr(now.tzinfo, "key", "UTC"))
    calendar = _Known(significance)
    corrected = correct(lowered, protected=calendar.uses)
    reading = read_time(corrected, now, order, clock)
    # An impossible date is explained before anything is looked up.
    # Small talk, a write request and an impossible date need no subject: the calendar is not read.
    plain = _plain_kind(lowered, corrected)
    # Nor does a question about the weather need it to tell a time from an event's name.
    named_by_time = reading.span and not (plain or _WEATHER.search(corrected))
    if named_by_time and (kept := _title_kept(corrected, reading, order, calendar)) != corrected:
        reading = read_time(kept, now, order, clock)
    subject_words = []
    if not (plain or reading.problem):
        subject_words = _subject(corrected, reading, order, text, calendar)
    if reading.window and all(w.lower() in CATEGORY_WORDS for w in subject_words):
        subject_words = []  # "what meetings are there today?": whatever is on today
    asks = _asks(corrected, reading)
    if asks in ("day_off", "conflicts"):  # "my next day off", "any clashes": no event named
        subject_words = []
    counted = re.search(r"\bhow many (\w+)", corrected)
    if asks == "count" and counted and calendar.noted(counted[1]) and not calendar.uses(counted[1]):
        asks = "notes"  # "how many pages is the Hofer contract?": the notes say how many
    kind = plain or ("calendar" if asks == "day_off" else None)
    kind = kind or _kind(corrected, reading, subject_words, calendar)
    # "After the dentist on Monday", "before the holidays": a time beside one of the user's
    # events, and words in the subject that name that event rather than what is asked about.
    # Not when the question asks about that event: "what do I need to do before the physical?"
    # "My last shift before the trip": the last one ahead, up to that event, not the past's.
    if asks in ("last", "when", "list") and not reading.window and _LAST_BEFORE.search(corrected):
        asks = "last"
    anchored = kind == "calendar" and asks in ("list", "count", "free", "busy", "when", "last")
    anchor = _anchor(corrected, reading, order, calendar) if anchored else None
    after = before = ""
    if anchor:
        relation, edge = anchor
        after, before = (edge, "") if relation == "after" else ("", edge)
        named = {*significant(edge), "final"}
        subject_words = [w for w in subject_words if w.lower().removesuffix("'s") not in named]
    # "Do we travel anywhere in the holidays?": what is on while that event lasts.
    in_event = asks in ("list", "count", "free", "busy") and kind in ("calendar", "other")
    in_event = in_event and _names_events(_IN_AN_EVENT.search(corrected), calendar)
    during = (bool(_DURING.search(corrected)) or in_event) and not reading.window
    if during and kind == "other":
        kind = "calendar"
    if during and asks not in ("count", "free", "busy"):
        asks = "list"
    if asks == "list" and subject_words and _YES_NO.match(corrected):
        asks = "whether"
    next_only = (
        asks in ("when", "where", "duration", "notes", "until", "who") and not reading.window
    )
    if _NEXT.search(corrected) and reading.window is None and asks not in ("last", "day_off"):
        next_only = not during
    if _FIRST.search(corrected.rstrip("?!. ")) and asks in ("list", "where", "when"):
        next_only = True
    window = reading.window
    if asks == "day_off":  # "my next day off": "next day" is not tomorrow
        window = read_time(_DAY_OFF.sub(lambda m: " " * len(m[0]), corrected), now, order).window
    if asks == "until" and window is not None:
        # "How many days until next month?" counts to the 1st, which "until next month" (the
        # window up to it) leaves out: the day counted to is the time named after "until".
        named = read_time(_UNTIL_WORD.sub(lambda m: " " * len(m[0]), corrected), now, order, clock)
        window = named.window or window
    if asks == "last" and window is None and not before:
        window = past_year(now)
    if asks in ("where", "duration", "who") and window is None and _PAST_TENSE.search(corrected):
        # "Where was the farewell lunch?", "how long was the call-out?": the last one, not the next.
        window, next_only = past_year(now), False
    if anchor and window:  # "Wednesday 16 December after the bowls": not all of that day
        window = TimeWindow(window.start, window.end, f"{window.label} {' the '.join(anchor)}")
    if asks in ("free", "busy") and window:
        # "Am I free for a coffee at 10?": what they would do is no event to look for.
        subject_words = []
    part_of_day: PartOfDay | Literal[""] = ""
    each_part = _EACH_PART.search(corrected)
    if each_part and asks == "duration":  # "how many nights is the trip?" asks its length
        subject_words = [w for w in subject_words if w.lower() != each_part[0]]
    elif each_part:
        part_of_day = cast(PartOfDay, each_part[1] or each_part[2])
        if asks == "list" and re.search(r"\b(?:free|spare|clear)\b", corrected):
            asks = "free"  # "have I got a free morning next week?"
        plural = {f"{part_of_day}s", part_of_day}
        subject_words = [w for w in subject_words if w.lower() not in plural]
        if window:
            window = in_each(window, part_of_day)
    # "my birthday" is the user's own: the search must not answer with "Sam's birthday".
    mine = {word for m in _OWNED.finditer(corrected) for word in significant(m[1])}
    # "The flight to Finland": where a journey goes keeps its "to", so the search can tell the
    # flight there from the flight back ("to" names no event: it weighs nothing).
    towards = _towards(corrected)
    subject = " ".join(
        f"my {w}" if w.lower() in mine else f"to {w}" if w.lower() in towards else w
        for w in subject_words
    )
    return Question(
        text=text,
        window=window,
        subject=subject,
        next_only=next_only,
        problem=reading.problem,
        kind=kind,
        asks=asks,
        moment=reading.moment,
        part_of_day=part_of_day,
        during=during,
        after=after,
        before=before,
        knowledge=kind == "other" and bool(_KNOWLEDGE.match(corrected)),
    )


# "After the holidays", "before my dentist": one of the user's events as the edge of a time.
_RELATIVE = re.compile(
    r"\b(after|before) (?:the |my |our |his |her |their )?((?:[a-z][\w'-]* ?){1,3})"
)
# "In the holidays", "over the conference": while an event of the user's lasts.
_IN_AN_EVENT = re.compile(
    r"\b(?:in|over|throughout) (?:the|my|our) ([a-z][\w'-]*(?: [a-z][\w'-]*)?)[?!.]*$"
)


def _anchor(
    corrected: str, reading: TimeReading, order: DateOrder, known: _Known
) -> tuple[str, str] | None:
    """ "after" or "before", and the words of the user's event it is said of; None when the
    words after it are a time ("after 7pm", "before Christmas") or name no event of theirs."""
    text = prepare(corrected, order)
    for match in _RELATIVE.finditer(text):
        if reading.span and reading.span[0] <= match.start(2) < reading.span[1]:
            continue  # a time phrase: "after the 5th", "before noon"
        named = []
        for word in significant(match[2], joined=False):
            # "Before the trip": a stay away, whatever its title says.
            if not (known.uses(word) or word == "trip"):
                break
            named.append(word)
        if any(word not in VAGUE_WORDS for word in named):
            return match[1], " ".join(named)
    return None


def _names_events(match: re.Match[str] | None, known: _Known) -> bool:
    """Whether "in the …" names one of the user's events ("in the holidays"), not a place or a
    time ("in the kitchen", "in the morning")."""
    if match is None:
        return False
    words = significant(match[1])
    return bool(words) and all(w not in VAGUE_WORDS and known.uses(w) for w in words)


def past_year(now: datetime) -> TimeWindow:
    """Where "when was my last …?" looks when it names no time."""
    return TimeWindow(now - timedelta(days=365), now, "in the past year")


class _Known:
    """The user's event words, read from the calendar on first need."""

    def __init__(self, significance: Callable[[], Significance] | None) -> None:
        self._significance = significance
        self._read: Significance | None = None

    def uses(self, word: str) -> bool:
        read = self._words()
        return read is not None and read.known(word)

    def noted(self, word: str) -> bool:
        read = self._words()
        return read is not None and read.noted(word)

    def names_a_person(self, word: str) -> bool:
        read = self._words()
        return read is not None and read.is_person(word)

    def _words(self) -> Significance | None:
        if self._read is None and self._significance is not None:
            self._read = self._significance()
        return self._read

    def together(self, words: list[str]) -> bool:
        """Whether a title of the user's has these words one after another ("Date night")."""
        read = self._words()
        return len(words) > 1 and read is not None and read.together(words)


_WORD = re.compile(r"[a-z0-9']+")


def _title_kept(corrected: str, reading: TimeReading, order: DateOrder, known: _Known) -> str:
    """The text with time words blanked where, with the word beside the time phrase, they name
    one of the user's events: the whole phrase in "the New Year's Eve party", its last word in
    "the next day shift" or "tomorrow night shift"."""
    assert reading.span is not None
    text = prepare(corrected, order)
    start, end = reading.span
    inside = [m for m in _WORD.finditer(text, start, end) if significant(m[0])]
    after = significant(text[end:], joined=False)[:1]
    before = significant(text[:start], joined=False)[-1:]
    # A vague neighbour ("free at 3pm", "plans for friday") names nothing: the calendar is not read.
    after, before = (
        [w for w in after if w not in VAGUE_WORDS],
        [w for w in before if w not in VAGUE_WORDS],
    )
    if not inside or not (after or before):
        return corrected
    for blanked in (inside, inside[-1:] if after else inside[:1]):
        named = [significant(m[0], joined=False)[0] for m in blanked]
        if known.together(named + after if after else before + named):
            # Blanked in place: the text keeps its length, the subject keeps the words.
            for match in blanked:
                text = text[: match.start()] + "x" * len(match[0]) + text[match.end() :]
            return text
    return corrected


def _subject(
    corrected: str, reading: TimeReading, order: DateOrder, original: str, known: _Known
) -> list[str]:
    """The words naming an event: what the time phrase and the filler words leave; a vague
    word ("date", "night") only when the user's own events use it ("Date night")."""
    rest = _REQUEST.sub(lambda m: " " * len(m[0]), prepare(corrected, order))
    if reading.span:
        rest = rest[: reading.span[0]] + " " + rest[reading.span[1] :]
    meals = re.findall(r"\b(?:breakfast|brunch|lunch|dinner|supper)\b", corrected)
    meals = [meal for meal in meals if meal != reading.meal.removesuffix("time")]
    holiday = set(tokens(reading.holiday))
    words = [
        w
        for w in significant(rest, joined=False, possessive=True)
        if not w.isdigit() and w.removesuffix("'s") not in holiday
    ]
    words += [meal for meal in meals if meal not in words]
    # "When am I off to Cork?": "off" says it is the journey there, not the stay; "when am I in
    # Singapore?" asks for the time there, "from Singapore" where a journey sets off.
    words = ["off"] * bool(re.search(r"\boff (?:to|for)\b", corrected)) + words
    if _BEING_IN.search(corrected) and not _DURING.search(corrected):
        words = ["in", *words]
    setting_off = {m[1] for m in re.finditer(r"\bfrom ([a-z][\w'-]*)", corrected)}
    words = [part for w in words for part in (["from", w] if w in setting_off else [w])]
    # The subject keeps the user's capitals: it may be a place to look up ("Dorking").
    as_written = {word.lower(): word for word in re.findall(r"\w+", original)}
    # "gazs do": a name's possessive typed without its apostrophe ("Gaz's 40th").
    words = [
        f"{w[:-1]}'s" if w.endswith("s") and known.names_a_person(w[:-1]) else w for w in words
    ]
    # A vague word an event's notes have stays beside a telling word only notes have: "door
    # code" in "what's the door code for the school?", as the notes may say it.
    beside_noted = {
        word
        for pair in pairwise(words)
        # The words alone first: the calendar is read only for a vague word beside another.
        if any(w in VAGUE_WORDS for w in pair)
        and any(w not in VAGUE_WORDS for w in pair)
        and all(known.noted(w) for w in pair)
        and any(w not in VAGUE_WORDS and not known.uses(w) for w in pair)
        for word in pair
    }
    kept = [
        w
        for w in words
        if w.removesuffix("'s") not in VAGUE_WORDS or known.uses(w) or w in beside_noted
    ]
    # "Priya's birthday" keeps its owner: the search must not answer with "Mom's birthday".
    return [_as_written(word, as_written) for word in kept if word not in _ORDINAL_ENDS]


def _towards(corrected: str) -> set[str]:
    """Where a journey asked about goes: "finland" in "the flight to Finland"."""
    if not _JOURNEY.search(corrected):
        return set()
    return {word for to in _GOING_TO.findall(corrected) for word in significant(to)}


_JOURNEY = re.compile(
    r"\b(?:fly|flying|flight|flights|plane|train|trains|bus|coach|ferry|eurostar|boat|drive)\b"
)
_GOING_TO = re.compile(r"\b(?:to|into) (?:the )?([a-z][\w'-]*)")


def _as_written(word: str, as_written: dict[str, str]) -> str:
    base = word.removesuffix("'s")
    return as_written.get(base, base) + word[len(base) :]


# "Can you check what I've got…": the asking, not what is asked about (same length, so the time
# phrase's place in the text stays right).
_REQUEST = re.compile(
    r"\b(?:(?:can|could|would|will) (?:you|u) (?:please |pls )?|^(?:please |pls )?)"
    r"(?:check|see|look up|look|find|tell me|show me|let me know)\b"
    # Idioms that ask "what is happening": "what's going down", "what's the go with Sunday".
    r"|\bgoing down\b|\bthe go (?:with|for|on)\b|\btell me about\b|\bany chance\b"
    r"|\bin store(?: for (?:me|us))?\b"
    # Courtesies around a question: "would you mind telling me…", "sorry to bother you, but…",
    # "if it's not too much trouble", "I'd be ever so grateful if you could tell me…".
    r"|\b(?:would|do) you mind (?:telling|letting|showing) (?:me|us)(?: know)?\b"
    r"|\b(?:would|could) you be (?:so kind as|kind enough|good enough) to\b"
    r"|\b(?:i'd|i would|we'd|we would) be (?:\w+ )?(?:so |very |most )?"
    r"(?:grateful|obliged|thankful)"
    r"(?: if you (?:could|would|can|might)(?: (?:tell|let|show) (?:me|us)(?: know)?)?)?"
    r"|\b(?:(?:i'm |i am )?sorry )?to (?:bother|trouble|pester|disturb) you(?:,? but)?"
    r"|\bif (?:it's|it is|it isn't|it's not) (?:not )?too much (?:trouble|bother)\b"
    r"|\bif you (?:don't|do not) mind(?: me asking| my asking)?\b"
    r"|\b(?:(?:could|would|can) you )?(?:possibly|kindly) (?:tell|let|remind|show) (?:me|us)"
    r"(?: know)?\b"
    r"|\bdo you (?:happen to )?know\b|^any idea\b"
)
_ORDINAL_ENDS = {"st", "nd", "rd", "th", "o'clock"}


def _plain_kind(lowered: str, corrected: str) -> Kind | None:
    """Small talk or a write request, told by the words alone."""
    if small_talk(lowered) is not None:
        return "small_talk"
    if _WRITE.match(corrected) or _WRITE_ANYWHERE.search(corrected):
        return "write"
    return None


def _kind(corrected: str, reading: TimeReading, subject: list[str], known: _Known) -> Kind:
    # "Who is at the potluck?" may be about an event: its words decide, below; so does "who is
    # Jonas's piano teacher?", when every word of it is in the user's events or their notes
    # (not "who is the president of Austria?").
    if _GENERAL.match(corrected) and not _WHO.search(corrected):
        telling = [w.lower().removesuffix("'s") for w in subject if w.lower() not in VAGUE_WORDS]
        who = re.match(r"who (?:is|was)\b", corrected)
        if not (who and telling and all(known.uses(w) or known.noted(w) for w in telling)):
            return "other"
    # "How do I make mulled wine?" asks how to do something: about the calendar only when what
    # it names is in the user's events ("how do I get to the flat viewing?").
    if not _HOW_TO.match(corrected) and _CALENDAR_CUES.search(_WEAK_CUES.sub(" ", corrected)):
        return "calendar"
    if reading.window and _FITS.search(corrected.rstrip("?!. ")):
        return "calendar"
    # "What's the number for the taxi on New Year's Eve?": what an event's notes hold, that day;
    # "give me a rundown of the next three weeks": a time asked to be listed.
    if reading.window and (_NOTES.search(corrected) or _LIST_ME.match(corrected)):
        return "calendar"
    if _WEATHER.search(corrected):  # "will it rain tomorrow?" is not about an event
        return "other"
    if _OCCASION.match(corrected.rstrip("?!. ")):
        return "calendar"
    # Words that name no event and are no calendar word: "pizza" in "the best pizza place in
    # Brooklyn". The question is about the calendar if most of them are in the user's events
    # ("where's the gig?"), not if one is ("the best pizza place in Brooklyn").
    # The "from" and "in" a subject keeps to say where a journey sets off count for nothing here.
    unknown = [
        w.lower().removesuffix("'s")
        for w in subject
        if w.lower() not in VAGUE_WORDS and w.lower() not in FUNCTION_WORDS
    ]
    if not unknown:
        # Vague words stay in a subject only when the user's events use them: two of them
        # name an event ("date night"), so does one after "the" or "my" ("how long is the
        # night out?" of "Night out with the girls").
        named = len(subject) >= 2 or any(
            re.search(rf"\b(?:the|my|our) {re.escape(w.lower())}\b", corrected) for w in subject
        )
        return "calendar" if reading.window or reading.problem or named else "other"
    # "When is the plumber coming Friday?", "is there school on Monday?": a question that names
    # a time asks about the user's time, even when no event has its words; the honest answer is
    # what is on then, and that nothing matches.
    # "What is the Sensex at today?", "how is the traffic right now?" ask about the world.
    if reading.window and _ASKS_OF_A_TIME.match(corrected):
        return "calendar"
    if any(known.names_a_person(word) for word in unknown):  # "who's collecting for Katrin?"
        return "calendar"
    # A word only an event's notes have counts too: "the green fees at bowls".
    in_calendar = sum(known.uses(word) or known.noted(word) for word in unknown)
    if in_calendar * 2 >= len(unknown):
        return "calendar"
    # "When is the dentist thing, I totally forgot": a question, then an aside. The question's
    # own clause decides.
    asked, *aside = re.split(r"[,;!?]|\s[-–—]\s", corrected, maxsplit=1)
    asked_words = set(significant(asked, possessive=True)) if "".join(aside).strip() else set()
    first = [word for word in unknown if word in asked_words]
    in_first = sum(known.uses(word) for word in first)
    return (
        "calendar"
        if first and _ASKS_A_QUESTION.match(asked) and in_first * 2 >= len(first)
        else "other"
    )


def _asks(corrected: str, reading: TimeReading) -> Asks:
    if _DAY_OFF.search(corrected) and not _COUNT.search(corrected):
        return "day_off"
    if _CONFLICTS.search(corrected):
        return "conflicts"
    if _UNTIL.search(corrected):
        return "until"
    if _HOW_MANY_LONG.search(corrected):
        return "duration"
    if _COUNT.search(corrected):
        return "count"
    if reading.window and _FITS.search(corrected.rstrip("?!. ")):
        return "free"
    if _FREE.search(corrected) or (reading.moment and re.search(r"\b(?:free|busy)\b", corrected)):
        return "busy" if re.search(r"\bbusy\b", corrected) else "free"
    if reading.moment and _AT_A_MOMENT.search(corrected):
        # "Do I have anything at 8?" is answered as "am I busy?"; "can I do 7:30?" as "free?".
        return "busy" if re.search(r"\b(?:anything|something)\b", corrected) else "free"
    if _DURATION.search(corrected):
        return "duration"
    if _WHO.search(corrected):
        return "who"
    if re.match(r"who(?:'s| is| was)\b", corrected):
        return "notes"  # "who is Jonas's piano teacher?": a name the notes give
    # "Where do I need to be at 10?" asks for the place, though "need to be at" asks for notes;
    # "where do I park?" and "where did I put the present?" ask for the notes still.
    cues = [cue[0] for cue in _NOTES.finditer(corrected.rstrip("?!. "))]
    if re.match(r"where\b", corrected):
        cues = [
            cue for cue in cues if not re.match(r"(?:need|have|got) to be|arrive|get|take", cue)
        ]
    if cues:
        return "notes"
    if _WHERE.search(corrected):
        return "where"
    if _LAST.search(corrected) and not reading.window:
        return "last"
    if re.search(r"\bwhen\b|\bwhat time\b|\bwhat day\b", corrected):
        return "when"
    return "list"
