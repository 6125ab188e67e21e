"""How well words name an event: significance from the user's own events, fuzzy token matching.

A word's weight is its inverse document frequency over the user's distinct events (a series
counts once), so a word most events share ("meeting", "call") counts for little and a rare one
("dentist", "Omar") for much. Words match fuzzily ("dentists", "denist" → "dentist") and through
a few everyday synonyms ("fly" → "flight"). Title matches count more than place, place more than
notes.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer
from rapidfuzz import fuzz

from bot.understanding.words import FUNCTION_WORDS, VAGUE_WORDS
from integrations.calendar import Event

FIELD_WEIGHTS = (("title", 3.0), ("location", 1.5), ("description", 1.0))
SYNONYMS = {
    "fly": "flight", "flying": "flight", "flights": "flight", "plane": "flight",
    "flies": "flight", "flew": "flight", "doc": "doctor", "gp": "doctor", "docs": "doctor",
    "concert": "gig", "vets": "vet", "bday": "birthday", "b'day": "birthday",
    "birthdays": "birthday", "hair": "haircut", "dentist's": "dentist", "mom": "mum",
    "conf": "conference", "dr": "doctor", "land": "flight", "landing": "flight",
    "takeoff": "flight", "airport": "flight", "summit": "conference", "congress": "conference",
    "symposium": "conference", "convention": "conference", "conferences": "conference",
    "movie": "film", "movies": "film", "films": "film", "hols": "holidays", "hol": "holiday",
}  # fmt: skip


def _folded(text: str) -> str:
    """Lower case without accents, as people type: "Wühlischstraße" is "wuhlischstrasse"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def tokens(text: str, joined: bool = True, possessive: bool = False) -> list[str]:
    """Lower-case words, possessives dropped ("Sam's" → "sam") unless `possessive`, synonyms
    mapped; with `joined`, "stand-up" is also "standup", as people type it."""
    lowered = _folded(text).replace("’", "'")
    # Letters of any alphabet ("Neukölln" is one word); "1:1" is a word too.
    found = re.findall(r"[^\W_]+(?:'[^\W_]+|:\d+)?", lowered)
    if joined:
        found += [a + b for a, b in re.findall(r"\b([a-z]+)-([a-z]+)\b", lowered)]
    words = [SYNONYMS.get(word, word) for word in found]
    return words if possessive else [word.removesuffix("'s") for word in words]


# A flight number ("BA117", "UA 1234") makes an event a flight, whatever its title says.
_FLIGHT_NUMBER = re.compile(r"\b(?:[a-z]{2}|[a-z]\d|\d[a-z]) ?\d{2,4}\b")
# A name in a title: after "with" ("Dinner with Aoife"), or owning something ("Katrin's").
_PEOPLE = re.compile(
    r"\bwith (?:(?:Prof|Dr|Mr|Mrs|Ms|Miss)\.? )?([A-Z][^\W\d_]+)|\b([A-Z][^\W\d_]+)(?:'s|')(?!\w)"
)
VAGUE_SHARE = 0.3  # what a vague word counts for, next to a telling one
LAST_WORD = 1.25  # the last telling word usually names the event ("take to soccer")


def significant(text: str, joined: bool = True, possessive: bool = False) -> list[str]:
    """The words of a text that can name an event."""
    words = tokens(text, joined, possessive)
    return [w for w in words if w.removesuffix("'s") not in FUNCTION_WORDS and len(w) > 1]


def event_words(text: str) -> list[str]:
    """An event's words, with what its title implies ("UA 1234 to Chicago" is a flight)."""
    words = significant(text)
    if _FLIGHT_NUMBER.search(text.lower()) and "flight" not in words:
        words.append("flight")
    return words


_STEMMER = snowballstemmer.stemmer("english")


@lru_cache(maxsize=4096)
def _stem(word: str) -> str:
    """ "fasting" → "fast", "collection" and "collecting" → "collect" (Snowball's English)."""
    return str(_STEMMER.stemWord(word))


@lru_cache(maxsize=4096)
def similar(asked: str, word: str) -> float:
    """1.0 for the same word, less for a plural or a misspelling, 0 for another word."""
    if asked == word:
        return 1.0
    if len(asked) < 4 or len(word) < 4 or asked[0] != word[0]:
        return 0.0  # a typo rarely changes the first letter: "cooking" is not "booking"
    same_stem = asked.rstrip("s") == word.rstrip("s") or _stem(asked) == _stem(word)
    # A place or name cut short, as people write them ("melbs", "brissie" aside): "Melb".
    cut = asked.rstrip("s")
    if not same_stem and len(cut) >= 4 and len(word) >= len(cut) + 3 and word.startswith(cut):
        return 0.7
    stem = 0.9 if same_stem else 0.0
    # A misspelling of a short word is often another word ("black" is not "back").
    ratio = fuzz.ratio(asked, word) if min(len(asked), len(word)) >= 6 else 0.0
    return max(stem, 0.8 if ratio >= 85 else 0.0)


@dataclass(frozen=True)
class Significance:
    """Word weights over a set of events."""

    weights: dict[str, float]
    default: float
    people: frozenset[str] = frozenset()  # who the titles name: "Katrin's leaving do", "with Aoife"

    @classmethod
    def of(cls, events: Iterable[Event]) -> Significance:
        series = {(event.title, event.location): event for event in events}
        counts: Counter[str] = Counter()
        people: set[str] = set()
        for event in series.values():
            counts.update(set(event_words(f"{event.title} {event.location}")))
            named = (a or b for a, b in _PEOPLE.findall(event.title.replace("’", "'")))
            people.update(_folded(word) for word in named if word.lower() not in VAGUE_WORDS)
        total = len(series) + 1
        weights = {word: math.log(total / count) + 0.1 for word, count in counts.items()}
        return cls(weights, math.log(total) + 0.1, frozenset(people))

    def is_person(self, word: str) -> bool:
        return word.removesuffix("'s") in self.people

    def weight(self, word: str) -> float:
        return self.weights.get(word, self.default)

    def known(self, word: str) -> bool:
        return any(similar(word, known) for known in self.weights)


def score(event: Event, asked: Sequence[str], significance: Significance) -> float:
    """How strongly the asked words name this event: weighted, title first."""
    telling = [word for word in asked if word not in VAGUE_WORDS]
    total = 0.0
    for word in asked:
        best = 0.0
        for name, field_weight in FIELD_WEIGHTS:
            field_words = event_words(getattr(event, name))
            match = max((similar(word, other) for other in field_words), default=0.0)
            best = max(best, match * field_weight)
        weight = significance.weight(word) * (VAGUE_SHARE if word in VAGUE_WORDS else 1.0)
        total += best * weight * (LAST_WORD if telling and word == telling[-1] else 1.0)
    return total


def named_in(event: Event, asked: Sequence[str]) -> bool:
    """Whether any of the words is in the event's title or place."""
    words = event_words(f"{event.title} {event.location}")
    return any(similar(word, other) for word in asked for other in words)


def named_in_notes(event: Event, asked: Sequence[str]) -> bool:
    """Whether a telling word of the question is in the event's notes and not its title or place
    ("the homework for German", "which seat on the train"): the notes hold the answer."""

    def has(field: str, word: str) -> bool:
        return any(similar(word, other) for other in event_words(getattr(event, field)))

    return any(
        has("description", word) and not (has("title", word) or has("location", word))
        for word in asked
        if word not in VAGUE_WORDS
    )


def owners(text: str, user: str) -> dict[str, str]:
    """Whose is what the words ask about: "my birthday" is the user's, "Priya's birthday"
    Priya's."""
    lowered = text.lower().replace("’", "'")
    found = {word: user.lower() for word in re.findall(r"\bmy (\w+)", lowered)}
    found |= {word: owner for owner, word in re.findall(r"\b(\w+)'s (\w+)", lowered)}
    return found


def owned_by_another(event: Event, word: str, owner: str) -> bool:
    """Whether the event's title gives the word to someone else: "Sam's birthday" is not
    "my birthday" nor "Priya's birthday"."""
    title = event.title.lower().replace("’", "'")
    return any(holder != owner for holder in re.findall(rf"\b(\w+)'s {re.escape(word)}", title))
