"""Journeys and trips in a calendar: which events are travel, where they go, and a trip's span.

A journey is an event whose title names a way to travel ("Flight TP 537 Berlin → Lisbon",
"Train to Porto", "BA117"). Where it goes is what its title names after the last arrow or
"to". Questions about going ("when do I leave for Cork?"), coming back ("when am I back from
Lisbon?") and a whole trip ("what does my Lisbon trip look like?") are answered from these.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from bot.understanding.airports import places
from bot.understanding.matching import event_words, significant
from integrations.calendar import Event

TRANSPORT = frozenset({"flight", "train", "bus", "coach", "ferry", "eurostar", "rail", "boat"})
RETURN = re.compile(r"\b(?:back|home|return|returning)\b")
# Giving something back is no journey home: "when do I drop the hire car back?"
RETURNING_A_THING = re.compile(r"\b(?:drop|bring|take|give|hand|pay|send|put)\b.*\bback\b")


# Words of setting off, as they stay in a question's subject ("when do I leave for Cork?").
DEPART = re.compile(
    r"\b(?:leave|leaving|head|heading|travel|travelling|traveling|depart|departing|departure|"
    r"off)\b"
)
TRIP = re.compile(r"\btrip\b")
# Being or going away names no event: it asks for a trip ("am I away next month?").
AWAY = re.compile(r"\b(?:away|abroad)\b")
AWAY_WORDS = frozenset({"away", "abroad", "go", "going", "trip", "trips"})
# Going anywhere at all ("am I travelling anywhere this month?", "any trips coming up?"): every
# journey, whatever its title names.
ANY_TRAVEL = frozenset(
    ["travel", "travelling", "traveling", "travels", "trips", "journeys", "anywhere", "somewhere"]
)
# "When am I in Singapore?", "how long will we be in Cork?": the time there, not one event (the
# subject the understanding gives is "in Singapore").
BEING_IN = re.compile(r"^in\b")
# "From Singapore": where a journey sets off.
LEAVING_FROM = re.compile(r"\bfrom ([a-z][\w'-]*(?: [a-z][\w'-]*)?)")
STAY = timedelta(days=1)  # an event this long or longer can be a stay away
# "Where am I staying in Maui?": the stay there, not the flight that names the place too.
STAYING = re.compile(r"\b(?:staying|stay|accommodation|lodging)\b")
_TOWARDS = re.compile(r"→|->|–>|\bto\b", re.IGNORECASE)
_ARROW = re.compile(r"→|->|–>")
_NAMED_TO = re.compile(r"\bto\b([^(]*)", re.IGNORECASE)


def coming_back(asked: str) -> bool:
    """Whether a question (lower case) asks about the user coming back or going home."""
    return bool(RETURN.search(asked)) and not RETURNING_A_THING.search(asked)


def is_journey(event: Event) -> bool:
    return bool(TRANSPORT & set(event_words(event.title)))


def destination(event: Event, countries: bool = True) -> set[str]:
    """The words of where a journey goes: after its last arrow or "to", else its whole title;
    an airport code with the place it serves ("DEL": Delhi), a city with its country."""
    parts = _TOWARDS.split(event.title)
    return _place_words(f"{parts[-1]} {_named_to(event.title)}", countries)


def origin(event: Event, countries: bool = True) -> set[str]:
    """The words of where a journey leaves from: before its last arrow or "to" ("Sydney")."""
    parts = _TOWARDS.split(event.title)
    if len(parts) < 2:
        return set()
    named = set(significant(_named_to(event.title)))
    return _place_words(parts[-2], countries) - TRANSPORT - named


def _named_to(title: str) -> str:
    """Where a "to" before an arrow names ("Flight to Maui (HA 33) LAX → OGG": Maui, where the
    arrow's code is); "" without one."""
    if not _ARROW.search(title):
        return ""
    named = _NAMED_TO.search(_ARROW.split(title)[0])
    return named[1] if named else ""


def _place_words(part: str, countries: bool) -> set[str]:
    return set(significant(f"{part} {places(part, countries)}"))


def journeys_home(events: list[Event], home: str) -> list[Event]:
    """The journeys that go home: to where the user lives, or back to where the trip they end
    started ("Melbourne → Sydney" after "Sydney → Melbourne", for someone living in a suburb)."""
    homes = set(significant(home))
    started_from: set[str] = set()
    found = []
    for journey in sorted((e for e in events if is_journey(e)), key=lambda e: e.start):
        # Cities, not countries: Sydney → Melbourne → Sydney stays in Australia throughout.
        going_to = destination(journey, countries=False)
        if RETURN.search(journey.title.lower()) or going_to & (homes | started_from):
            found.append(journey)
            started_from = set()
        elif not started_from:
            started_from = origin(journey, countries=False)
    return found


def away(events: list[Event], found: list[Event], home: str) -> Event | None:
    """The first event the words name that is away from home: a journey away, an event at a
    place a journey away goes to ("the conference" in Lisbon; never "the gym" at home), or a
    stay of a day or more that a journey away sets off in (a week off in Florida, flown to MCO)."""
    going_home = journeys_home(events, home)
    going = [(j, destination(j)) for j in events if is_journey(j) and j not in going_home]
    for event in found:
        if is_journey(event) and event not in going_home:
            return event
        words = set(significant(f"{event.title} {event.location}"))
        if any(journey.start < event.end and place & words for journey, place in going):
            return event
        if event.end - event.start >= STAY and any(
            event.start <= journey.start < event.end for journey, _ in going
        ):
            return event
    return None


def journey_to(events: list[Event], stay: Event, home: str) -> Event | None:
    """The journey away that takes the user to `stay`: the last one setting off by its start
    (the flight the day before a conference), else the first within it (on the trip's first
    day), going where it is held or not said."""
    place = set(significant(f"{stay.title} {stay.location}"))
    going_home = journeys_home(events, home)
    journeys = [
        e
        for e in events
        if is_journey(e) and e not in going_home and e.start < stay.end and e is not stay
    ]
    to_it = [e for e in journeys if destination(e) & place] or journeys
    before = [e for e in to_it if e.start <= stay.start and stay.start - e.start < STAY]
    within = [e for e in to_it if e.start >= stay.start]
    return (before[-1:] or within[:1] or [None])[0]


def homeward(events: list[Event], since: Event, home: str) -> Event | None:
    """The first journey home from `since` on."""
    return next((e for e in journeys_home(events, home) if e.start >= since.start), None)


def towards(found: list[Event], words: list[str]) -> list[Event]:
    """The journeys among `found`, those going where the words name first."""
    journeys = [event for event in found if is_journey(event)]
    going = [event for event in journeys if destination(event) & set(words)]
    return going + [event for event in journeys if event not in going]


def back_from(
    events: list[Event], found: list[Event], home: str, anywhere: bool = False
) -> Event | None:
    """The journey home from where the words name ("back from Lisbon"), if that is away; when
    the words name no place (`anywhere`: "when do I fly back?"), the next journey home."""
    anchor = away(events, found, home)
    if anchor:
        return homeward(events, anchor, home)
    return next(iter(journeys_home(events, home)), None) if anywhere else None


def trip(events: list[Event], found: list[Event], home: str) -> list[Event]:
    """Everything from the first event away that the words name until the journey home. An
    event begun before it (school holidays around a week's skiing) is not part of the trip."""
    anchor = away(events, found, home)
    back = homeward(events, anchor, home) if anchor else None
    if not (anchor and back):
        return []
    return [event for event in events if anchor.start <= event.start < back.end]


def first_trip(events: list[Event], home: str) -> list[Event]:
    """The first trip away among the events, from setting off to the journey home (or its
    stay alone when no journey home is on the calendar)."""
    anchor = away(events, events, home)
    if anchor is None:
        return []
    return trip(events, [anchor], home) or [anchor]


def sets_off_from(journey: Event, words: set[str]) -> bool:
    """Whether a journey leaves from where the words name: its title's origin ("Sydney →
    Melbourne") or its place ("Changi Airport, Singapore")."""
    return bool((origin(journey) | _place_words(journey.location, True)) & words)


def from_place(events: list[Event], source: set[str], asked: set[str]) -> list[Event]:
    """The journeys leaving from `source`, those going where the other asked words name first
    ("when do I reach Bengaluru from Singapore?": the flight back, not the one out)."""
    leaving = [
        event
        for event in events
        if is_journey(event) and sets_off_from(event, source) and not destination(event) & source
    ]
    going = [event for event in leaving if destination(event) & (asked - source)]
    return going + [event for event in leaving if event not in going]


def time_in(events: list[Event], words: set[str]) -> Event | None:
    """The time spent where the words name, from the journey there to the next one leaving it:
    one event, named for the place ("In Singapore"); none without a journey there."""
    journeys = sorted((e for e in events if is_journey(e)), key=lambda e: e.start)
    there = next((j for j in journeys if destination(j) & words), None)
    if there is None:
        return None
    leaving = next((j for j in journeys if j.start >= there.end and sets_off_from(j, words)), None)
    place = (_named_to(there.title) or _TOWARDS.split(there.title)[-1]).split("(")[0].strip()
    end = leaving.start if leaving else there.end + STAY
    return replace(
        there, title=f"In {place}", start=there.end, end=end, location="", description=""
    )
