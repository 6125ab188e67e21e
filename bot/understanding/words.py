"""Words: the user's misspellings and abbreviations of time words, and the words that mean little.

Misspelt weekdays, months and relative words are corrected with `rapidfuzz` (optimal string
alignment: a swapped pair of letters is one edit) before any parsing. Only long targets are
corrected, and never a word the user's own calendar uses, so "match" never becomes "March" and
a person called "Monda" stays herself.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rapidfuzz.distance import OSA
from rapidfuzz.process import extractOne

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
# Chat shorthand Duckling does not read.
ALIASES = {
    "tmw": "tomorrow", "tmrw": "tomorrow", "tmr": "tomorrow", "2moro": "tomorrow",
    "2morrow": "tomorrow", "tomoz": "tomorrow", "2day": "today", "2nite": "tonight",
    "2night": "tonight", "tonite": "tonight", "weds": "wednesday", "wed": "wednesday",
    "tues": "tuesday", "tue": "tuesday", "thur": "thursday", "thu": "thursday",
    "thurs": "thursday", "wknd": "weekend", "wkend": "weekend", "xmas": "christmas",
    "nye": "new year's eve", "yday": "yesterday", "yest": "yesterday", "wat": "what",
    "wot": "what", "wut": "what", "u": "you", "r": "are", "ur": "your", "wk": "week",
    "wks": "weeks", "mnth": "month", "hrs": "hours", "fri": "friday", "arvo": "afternoon",
    "arvos": "afternoons", "avvo": "afternoon",
    "abt": "about", "sched": "schedule", "aft": "afternoon", "goin": "going",
    "doin": "doing", "nothin": "nothing", "somethin": "something", "sm": "so much",
    "anythin": "anything", "owt": "anything", "nowt": "nothing",  # Northern English
    "wots": "what's", "wuts": "what's", "wats": "what's",
    # Contractions typed without the apostrophe, where no other word is spelt so.
    "whats": "what's", "whens": "when's", "wheres": "where's", "whos": "who's", "hows": "how's",
    "im": "i'm", "ive": "i've", "dont": "don't", "didnt": "didn't", "doesnt": "doesn't",
    "isnt": "isn't", "arent": "aren't", "cant": "can't", "wasnt": "wasn't", "havent": "haven't",
}  # fmt: skip
# "What's me day look like?", "any jobs in me diary?": "me" for "my" (Northern English, Irish,
# Australian), before what a question may ask about, unless a verb takes it ("show me next week").
_ME_AS_MY = re.compile(
    r"\b(?:(\w+) )?me (?=(?:day|week|weekend|month|diary|calendar|schedule|plans?|jobs?|work|"
    r"shifts?|appointments?|next|first|last|morning|afternoon|evening|night|mum|mam|dad|missus|"
    r"wife|husband|fella|kids?|lad|lass|birthday|holidays?|hols)\b)"
)
_TAKES_ME = {"show", "tell", "give", "send", "remind", "let", "help", "meet", "see", "ask",
             "call", "ring", "text", "for", "to", "with"}  # fmt: skip
# Short weekday names that are also words ("the sun", "sat down", "c'mon"): a weekday only
# before a part of the day or a time ("sun arvo", "sat morning", "mon at 9").
_SHORT_WEEKDAYS = {"mon": "monday", "sat": "saturday", "sun": "sunday"}
_SHORT_WEEKDAY = re.compile(
    r"(?<!')\b(mon|sat|sun)\b(?= (?:morning|afternoon|arvo|evening|night|at \d|(?:the )?\d"
    # "mon to wed", "sat thru sun": the first day of a span
    rf"|(?:to|through|thru|till|til|until) (?:{'|'.join(WEEKDAYS)}|tue|wed|thu|fri|sat|sun)\b))"
)
# "Fri eve", "tomorrow eve": the evening ("Christmas eve" is the day before).
_DAY_EVE = re.compile(rf"\b((?:{'|'.join(WEEKDAYS)}|today|tomorrow|sat|sun|mon)) eve\b")
# Chat phrases Duckling does not read, as it reads them.
PHRASES = {
    r"\bin the a\.?m\b\.?": "in the morning",
    r"\bin the p\.?m\b\.?": "in the afternoon",
    r"\bturkey day\b": "thanksgiving",  # American
    r"\bthis side of\b": "before",  # "anything on this side of Christmas?"
    # Holidays' other names, which Duckling's English lacks.
    r"\b(?:saint |st\.? )?stephen's day\b": "boxing day",  # Irish
    r"\bhogmanay\b": "new year's eve",  # Scottish
}
# What a misspelling may be corrected to: long enough that one or two edits stay unambiguous.
CORRECTABLE = (
    *WEEKDAYS, "january", "february", "august", "september", "october", "november", "december",
    "tomorrow", "yesterday", "tonight", "weekend", "morning", "afternoon", "evening",
    "fortnight", "christmas",
)  # fmt: skip
# What a word cut short may stand for ("frid", "morn", "wedn", "novem"): one target only.
TRUNCATED = (*WEEKDAYS, *MONTHS, "morning", "afternoon", "evening", "tomorrow", "tonight")
# Words that begin a time word but are words of their own, or another's shorthand.
_NOT_CUT_SHORT = {
    "sat", "sun", "mon", "mar", "may", "jun", "jul", "even", "eve", "after", "tom", "ton", "tone",
    "tom's", "aug", "dec", "sept", "wed", "thu", "tue", "fri", "mor", "more", "tomb",
}  # fmt: skip
# Ordinary words within an edit or two of a time word.
_LOOKALIKES = {
    "money", "mondays", "sundae", "sunday's", "morningside", "evenings", "mornings", "tonights",
    "fridays", "someday", "holiday", "holidays", "today", "birthday",
}  # fmt: skip

# Words that never name an event.
FUNCTION_WORDS = frozenset(
    """
    a about above after again all also am an and any anything anyone are around as at be
    been before being between both but by can could did do does doing done during each else
    for from get got gonna had has have having he her here hers him his how i i'd i'll i'm
    i've if in into is it it's its just know let me might mine more most much must my no nor
    not now of off on once one only or other our ours out over own please really same see
    she should so some something still such tell than that that's the their them then there
    there's these they this those through till to too under until up upon us very was we
    well were what what's whats when when's where where's whether which while who who's whom
    whose why will with would yet you your yours hows what're ok okay um uh hey like look
    looking looks whens wheres whos what've what'd what'll where'd when'd who'd how'd i'd've
    pls plz lol haha actually btw quick quickly anyway anyways though tho lemme gimme exactly
    interesting towards toward roughly chance craic lowdown everything mate mates buddy dude
    checking wondering idk dunno tbh ngl fyi imo lmk since often frequently supposed want wants
    wanted meant go goes went gone
    """.split()  # noqa: SIM905
)
# Words that name no event by themselves, though a title may use them ("Date night", "Vet
# appointment"): they count only when the user's own events have them, and then weakly.
VAGUE_WORDS = frozenset(
    """
    day days happening happen happens happened going coming upcoming scheduled booked event events
    thing things stuff calendar schedule agenda diary appointment appointments show list
    give find check time times date dates remind many long free busy available first last
    begin begins start starts starting end ends finish finishes take takes bring wear need
    plans planned plan next morning afternoon evening night tonight today tomorrow yesterday
    week weekend month year am pm noon midday midnight later earlier soon ago past following
    rest doing wanna gotta happen seeing visiting person days weeks until till left link
    links url notes note details address reference ref confirmation code password dial number
    count total meeting meetings story deal plate lined sleeps rundown lineup itinerary
    timetable overview summary breakdown period job jobs
    packed hectic full crazy mad manic quiet slammed swamped rammed jammed chocka
    lol lmao omg ugh hmm wut wat btw pls plz actually literally basically fun anyway
    """.split()  # noqa: SIM905
)

# Words for whatever is on a calendar ("my plans", "any meetings", "my agenda"): asked about a
# time with no other word, they list it rather than look for titles that have them ("Sprint
# planning", "Google Meet").
CATEGORY_WORDS = frozenset(
    """
    plan plans planned meeting meetings mtg mtgs agenda schedule schedules event events
    appointment appointments appt appts calendar diary program programs programme programmes
    engagement engagements commitment commitments stuff things
    """.split()  # noqa: SIM905
)


def expand_shorthand(text: str) -> str:
    """Chat shorthand in an event's own text read as in a question ("NYE fireworks")."""
    return re.sub(r"[a-z0-9]+", lambda m: ALIASES.get(m[0], m[0]), text)


def correct(text: str, protected: Callable[[str], bool] = lambda word: False) -> str:
    """The text with chat shorthand expanded and misspelt time words corrected.

    A correction keeps the first letter (typos rarely change it: "Dorking" is not "morning")
    and is never made to a word `protected` says the user's calendar uses.
    """

    for phrase, meaning in PHRASES.items():
        text = re.sub(phrase, meaning, text)

    def fix(match: re.Match[str]) -> str:
        word = match[0]
        if word in ALIASES:
            return ALIASES[word]
        cut_short = [t for t in TRUNCATED if t.startswith(word) and t != word]
        if len(word) >= 3 and len(cut_short) == 1 and word not in _NOT_CUT_SHORT:
            return word if protected(word) else cut_short[0]
        if len(word) < 5 or word in CORRECTABLE or word in _LOOKALIKES:
            return word
        allowed = 1 if len(word) <= 6 else 2
        choices = [target for target in CORRECTABLE if target[0] == word[0]]
        best = extractOne(word, choices, scorer=OSA.distance, score_cutoff=allowed)
        return best[0] if best and not protected(word) else word

    text = _ME_AS_MY.sub(
        lambda m: m[0] if m[1] in _TAKES_ME else m[0].removesuffix("me ") + "my ", text
    )
    text = re.sub(r"[a-z0-9]+", fix, text)
    text = _DAY_EVE.sub(r"\1 evening", text)
    return _SHORT_WEEKDAY.sub(lambda m: _SHORT_WEEKDAYS[m[1]], text)
