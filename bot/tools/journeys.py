"""Journeys and trips in a calendar: which events are travel, where they go, and a trip's span.

A journey is an event whose title names a way to travel ("Flight TP 537 Berlin → Lisbon",
"Train to Porto", "BA117"). Where it goes is what its title names after the last arrow or
"to". Questions about going ("when do I leave for Cork?"), coming back ("when am I back from
Lisbon?") and a whole trip ("what does my Lisbon trip look like?") are answered from these.
"""

from __future__ import annotations

import re

from bot.understanding.matching import event_words, significant
from integrations.calendar import Event

TRANSPORT = frozenset({"flight", "train", "bus", "coach", "ferry", "eurostar", "rail", "boat"})
RETURN = re.compile(r"\b(?:back|home|return|returning)\b")
# Words of setting off, as they stay in a question's subject ("when do I leave for Cork?").
DEPART = re.compile(
    r"\b(?:leave|leaving|head|heading|travel|travelling|traveling|depart|departing|departure)\b"
)
TRIP = re.compile(r"\btrip\b")
_TOWARDS = re.compile(r"→|->|–>|\bto\b")


def is_journey(event: Event) -> bool:
    return bool(TRANSPORT & set(event_words(event.title)))


def destination(event: Event) -> set[str]:
    """The words of where a journey goes: after its last arrow or "to", else its whole title."""
    parts = _TOWARDS.split(event.title.lower())
    return set(significant(parts[-1]))


def homeward(events: list[Event], since: Event, home: str) -> Event | None:
    """The first journey from `since` on that goes home (or says it returns)."""
    home_words = set(significant(home))
    for event in events:
        if event.start < since.start or not is_journey(event):
            continue
        if home_words & destination(event) or RETURN.search(event.title.lower()):
            return event
    return None


def towards(found: list[Event], words: list[str]) -> list[Event]:
    """The journeys among `found`, those going where the words name first."""
    journeys = [event for event in found if is_journey(event)]
    going = [event for event in journeys if destination(event) & set(words)]
    return going + [event for event in journeys if event not in going]


def trip(events: list[Event], found: list[Event], home: str) -> list[Event]:
    """Everything from the first event the words name until the journey home after it."""
    if not found or not (back := homeward(events, found[0], home)):
        return []
    start, end = found[0].start, back.end
    return [event for event in events if event.start < end and event.end > start]
