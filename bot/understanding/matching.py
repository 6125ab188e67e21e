"""How well words name an event: significance from the user's own events, fuzzy token matching.

A word's weight is its inverse document frequency over the user's distinct events (a series
counts once), so a word most events share ("meeting", "call") counts for little and a rare one
("dentist", "Omar") for much. Words match fuzzily ("dentists", "denist" → "dentist") and through
groups of everyday words for one thing ("mom" finds "Mami", "barber" finds "Salon"). Title
matches count more than place, place more than notes.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

import snowballstemmer
from rapidfuzz import fuzz

from bot.understanding.airports import places
from bot.understanding.words import FUNCTION_WORDS, VAGUE_WORDS, expand_shorthand
from integrations.calendar import Event

FIELD_WEIGHTS = (("title", 3.0), ("location", 1.5), ("description", 1.0))
# Ways of saying "flight" that the journey and trip logic reads as the one word "flight" ("when
# do I fly home?"), in questions and titles alike.
SPELLINGS = {
    "fly": "flight", "flying": "flight", "flights": "flight", "plane": "flight",
    "flies": "flight", "flew": "flight", "land": "flight", "landing": "flight",
    "takeoff": "flight", "airport": "flight",
}  # fmt: skip
# Words for one thing in everyday speech, across countries and families: a word matches its own
# spelling and the others of its group ("mom" finds "Call with Mami" and "Mum's birthday"), never
# instead of itself. A word of two meanings stays out ("service": a car's or a church's).
CONCEPTS = tuple(
    frozenset(group.split())
    for group in (
        "mom mum mother mama mami mommy mummy mam madre maman mamma",
        "dad father papa papi daddy padre pops",
        "grandma granny grandmother nan nana nanna abuela oma gran",
        "grandpa grandad granddad grandfather abuelo opa gramps",
        "hairdresser barber salon haircut hair hairstylist",
        "doctor doc gp physician dr",
        "dentist dental",
        "film movie cinema flick",
        "football soccer footy futbol",
        "gym workout fitness",
        "church mass worship",
        "physio physiotherapy physiotherapist pt",
        "concert gig",
        "vet veterinarian veterinary",
        "birthday bday b'day",
        "conference conf summit congress symposium convention",
        "work working shift",
        "appointment appt",
        "meeting mtg",
        "holiday hol vacation vacay",
        "tutorial tutorials tute tutes tut tuts",  # student shorthand (Australia, UK)
        "lecture lectures lec lecs",
        "practical practicals prac pracs",
        "call talk facetime skype",  # not "phone": "the plumber's phone number"
    )
)


def _folded(text: str) -> str:
    """Lower case without accents, as people type: "Wühlischstraße" is "wuhlischstrasse"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def tokens(text: str, joined: bool = True, possessive: bool = False) -> list[str]:
    """Lower-case words, possessives dropped ("Sam's" → "sam") unless `possessive`, the ways of
    saying "flight" as one; with `joined`, "stand-up" is also "standup", as people type it."""
    lowered = _folded(text).replace("’", "'")
    # Letters of any alphabet ("Neukölln" is one word); "1:1" is a word too.
    found = re.findall(r"[^\W_]+(?:'[^\W_]+|:\d+)?", lowered)
    if joined:
        found += [a + b for a, b in re.findall(r"\b([a-z]+)-([a-z]+)\b", lowered)]
    words = [SPELLINGS.get(word, word) for word in found]
    return words if possessive else [word.removesuffix("'s") for word in words]


# A flight number ("BA117", "UA 1234") makes an event a flight, whatever its title says.
_FLIGHT_NUMBER = re.compile(r"\b(?:[a-z]{2}|[a-z]\d|\d[a-z]) ?\d{2,4}\b")
# A name in a title: after "with" ("Dinner with Aoife"), or owning something ("Katrin's").
_PEOPLE = re.compile(
    r"\bwith (?:(?:Prof|Dr|Mr|Mrs|Ms|Miss)\.? )?([A-Z][^\W\d_]+)|\b([A-Z][^\W\d_]+)(?:'s|')(?!\w)"
)
_CAMEL_HEAD = re.compile(r"\b[A-Z]?[a-z]{2,}([A-Z][a-z]{2,})\b")  # not "McDonald", "iPhone"
# A title word that only describes another ("Conference dinner") names the event less than one
# that says what it is ("DevConf": a conference).
MODIFIER_SHARE = 0.5
# A title's phrases: "My talk: Scaling payments in Go", "Sangeet - Sneha & Karthik".
_PHRASES = re.compile(
    r"\s[-–—]\s|[:(),|/&+@→]|->|\b(?:with|at|for|in|on|and|to|from|of|by)\b", re.I
)
_WRITTEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
VAGUE_SHARE = 0.3  # what a vague word counts for, next to a telling one
LAST_WORD = 1.25  # the last telling word usually names the event ("take to soccer")


def significant(text: str, joined: bool = True, possessive: bool = False) -> list[str]:
    """The words of a text that can name an event."""
    words = tokens(text, joined, possessive)
    return [w for w in words if w.removesuffix("'s") not in FUNCTION_WORDS and len(w) > 1]


@lru_cache(maxsize=4096)
def event_words(text: str) -> tuple[str, ...]:
    """An event's words, with what its title implies ("UA 1234 to Chicago" is a flight, "DEL" is
    Delhi). Kept:
    the same titles, places and notes are read for every question."""
    # The question's shorthand was expanded ("nye" is "new year's eve"): so is the title's.
    words = significant(expand_shorthand(_folded(text)))
    # A name run together says what it is by its last part: "DevConf" is a conference,
    # "TechSummit" a summit.
    words += [
        part for part in significant(" ".join(_CAMEL_HEAD.findall(text))) if part not in words
    ]
    if _FLIGHT_NUMBER.search(text.lower()) and "flight" not in words:
        words.append("flight")
    if "flight" in words:  # "YYZ → DEL" is Toronto to Delhi
        words += [word for word in significant(places(text)) if word not in words]
    words += [word for word in _initials(text) if word not in words]
    return tuple(words)


# A name of capitalised words ("Puerto Rico", "Human Resources"), as people shorten it.
_NAME_WORD = re.compile(r"[A-Z][^\W\d_A-Z]+")


def _initials(text: str) -> list[str]:
    """ "pr" for "Puerto Rico", "lmc" for "Lakeshore Medical Center": the initials of two or
    three capitalised words in a row, as a question may write them ("my PR trip")."""
    found = []
    for run in re.findall(r"[A-Z][^\W\d_A-Z]+(?:[ -][A-Z][^\W\d_A-Z]+)+", text):
        names = _NAME_WORD.findall(run)
        for size in (2, 3):
            found += [
                "".join(n[0] for n in names[at : at + size]).lower()
                for at in range(len(names) - size + 1)
            ]
    return found


_STEMMER = snowballstemmer.stemmer("english")


@lru_cache(maxsize=4096)
def _stem(word: str) -> str:
    """ "fasting" → "fast", "collection" and "collecting" → "collect" (Snowball's English)."""
    return str(_STEMMER.stemWord(word))


# By stem too: "meet" and "meeting", "haircuts" and "haircut" are of one group.
_CONCEPT_OF = {_stem(word): group for group in CONCEPTS for word in group}


def same_concept(asked: str, word: str) -> bool:
    """Whether two words are said for one thing ("mom" and "mami", "barber" and "salon")."""
    group = _CONCEPT_OF.get(_stem(asked))
    return group is not None and _CONCEPT_OF.get(_stem(word)) is group


@lru_cache(maxsize=4096)
def similar(asked: str, word: str) -> float:
    """1.0 for the same word, less for a plural, a misspelling or another word for the same
    thing, 0 for another word."""
    if asked == word:
        return 1.0
    # Below the word itself ("the talk" is a talk before it is a call), and the same for every
    # word of the group: "work" is no nearer "Working from home" than "Night shift".
    return 0.9 if same_concept(asked, word) else _spelt_alike(asked, word)


def _spelt_alike(asked: str, word: str) -> float:
    if len(asked) < 4 or len(word) < 4 or asked[0] != word[0]:
        return 0.0  # a typo rarely changes the first letter: "cooking" is not "booking"
    same_stem = asked.rstrip("s") == word.rstrip("s") or _stem(asked) == _stem(word)
    # A place or name cut short, as people write them ("melbs", "brissie" aside): "Melb".
    cut = asked.rstrip("s")
    if not same_stem and len(cut) >= 4 and len(word) >= len(cut) + 3 and word.startswith(cut):
        return 0.7
    stem = 0.9 if same_stem else 0.0
    # Four letters and one changed are often another word ("back", "black"): a typo counts
    # from five.
    ratio = fuzz.ratio(asked, word) if min(len(asked), len(word)) >= 5 else 0.0
    return max(stem, 0.8 if ratio >= 85 else 0.0)


@dataclass(frozen=True)
class Significance:
    """Word weights over a set of events, and their titles' words in order: words that stand
    together in a title ("date night", "day shift", "New Year's Eve party") name an event."""

    weights: dict[str, float]
    default: float
    people: frozenset[str] = frozenset()  # who the titles name: "Katrin's leaving do", "with Aoife"
    titles: frozenset[tuple[str, ...]] = frozenset()
    notes: frozenset[str] = frozenset()  # the words of their notes: recognition only, no weight
    # The home town, in most addresses, counts by its rarity among titles: "Leeds" in one title
    # ("Leeds v Villa") names that event.
    title_weights: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, events: Iterable[Event]) -> Significance:
        series = {(event.title, event.location): event for event in events}
        counts: Counter[str] = Counter()
        in_titles: Counter[str] = Counter()
        in_places: Counter[str] = Counter()
        people: set[str] = set()
        titles = frozenset(tuple(significant(title, joined=False)) for title, _ in series)
        for event in series.values():
            counts.update(set(event_words(f"{event.title} {event.location}")))
            in_titles.update(set(event_words(event.title)))
            in_places.update(set(event_words(event.location)))
            named = (a or b for a, b in _PEOPLE.findall(event.title.replace("’", "'")))
            people.update(_folded(word) for word in named if word.lower() not in VAGUE_WORDS)
        total = len(series) + 1
        weights = {word: math.log(total / count) + 0.1 for word, count in counts.items()}
        notes = frozenset(w for event in series.values() for w in event_words(event.description))
        title_weights = {
            word: math.log(total / count) + 0.1
            for word, count in in_titles.items()
            if in_places[word] * 2 >= len(series)
        }
        return cls(weights, math.log(total) + 0.1, frozenset(people), titles, notes, title_weights)

    def is_person(self, word: str) -> bool:
        return word.removesuffix("'s") in self.people

    def weight(self, word: str) -> float:
        return self.weights.get(word, self.default)

    def title_weight(self, word: str) -> float:
        return max(self.weight(word), self.title_weights.get(word, 0.0))

    def known(self, word: str) -> bool:
        return any(similar(word, known) for known in self.weights)

    def noted(self, word: str) -> bool:
        """Whether an event's notes have the word ("fees" in "Green fees $5")."""
        return any(similar(word, noted) for noted in self.notes)

    def together(self, words: Sequence[str]) -> bool:
        """Whether a title has these words one after another."""
        size = len(words)
        return any(
            tuple(words) == title[at : at + size]
            for title in self.titles
            for at in range(len(title) - size + 1)
        )


def score(
    event: Event, asked: Sequence[str], significance: Significance, headed: Iterable[str] = ()
) -> float:
    """How strongly the asked words name this event: weighted, title first. Two asked words
    side by side in the title ("night shift") count in full, vague or not: "night shifts" is
    not every shift. An event with none of the telling words asked for is no match. A word
    `headed` (another event's title says it is one: "DevConf") counts less in a title where it
    only describes ("Conference dinner")."""
    telling = [word for word in asked if word not in VAGUE_WORDS]
    title_words = significant(event.title, joined=False)
    in_pair = {
        word for pair in pairwise(asked) if _side_by_side(pair, title_words) for word in pair
    }
    in_notes = paired_in_notes(event, asked, significance)
    fields = [(name, event_words(getattr(event, name)), weight) for name, weight in FIELD_WEIGHTS]
    describes = {word for word, following in modifiers(event.title) if not _asked(following, asked)}
    total, told = 0.0, False
    for word in asked:
        best = 0.0
        for name, field_words, field_weight in fields:
            match = max((similar(word, other) for other in field_words), default=0.0)
            rarity = (
                significance.title_weight(word) if name == "title" else significance.weight(word)
            )
            best = max(best, match * field_weight * rarity)
        if word in headed and _asked(word, describes) and not heads(event, word):
            best *= MODIFIER_SHARE
        if word in in_notes:  # "door code" as the notes say it weighs as a title would
            best = max(best, FIELD_WEIGHTS[0][1] * significance.weight(word))
        vague = word in VAGUE_WORDS and word not in in_pair
        told = told or (best > 0 and not vague)
        total += (
            best
            * (VAGUE_SHARE if vague else 1.0)
            * (LAST_WORD if telling and word == telling[-1] else 1.0)
        )
    # Asked for something ("turkey day"), an event that has only the vague word is not it.
    return total if told or not telling else 0.0


@lru_cache(maxsize=4096)
def modifiers(title: str) -> tuple[tuple[str, str], ...]:
    """The words of a title that describe the common noun after them, with that noun:
    "conference" in "Conference dinner" (the event is a dinner), "wedding" in "Sneha's wedding
    ceremony". Not an owner ("Sneha's"), a code ("CSC108 final"), nor a word before a name
    ("Train Lisbon → Porto", "Yoga @ Hart House"), a code ("Flight QF419") or a vague word
    ("Dentist appointment" is the dentist)."""
    found = []
    for phrase in _PHRASES.split(title):
        words = [w for w in _WRITTEN.findall(phrase) if tokens(w) and significant(w)]
        for word, following in pairwise(words):
            plain = not any(char.isdigit() for char in word + following)
            common = following[0].islower() and following not in VAGUE_WORDS
            if plain and common and not word.lower().endswith(("'s", "’s")):
                found.append((tokens(word)[0], tokens(following)[0]))
    return tuple(found)


def _asked(word: str, asked: Iterable[str]) -> bool:
    return any(similar(word, other) for other in asked)


def heads(event: Event, word: str) -> bool:
    """Whether the event's title has the word as what it is, not only describing another word:
    "DevConf Asia" and "Sneha's wedding" do, "Conference dinner" and "wedding ceremony" do not."""
    describes = {describer for describer, _ in modifiers(event.title)}
    return any(similar(word, other) for other in event_words(event.title) if other not in describes)


def coverage(event: Event, asked: Sequence[str], significance: Significance) -> float:
    """The share, by weight, of the asked words the user's events use that this event has:
    "Lily's piano" is not "Sophie's party (Lily)", which has only the commoner of its words.
    Words no event uses ("confirmed", "leave") are not counted: they never empty a search."""
    # Words the notes say together ("door code") count too, though no title or place has them.
    in_notes = paired_in_notes(event, asked, significance)
    known = [word for word in asked if significance.known(word) or word in in_notes]
    if not known:
        return 1.0
    fields = [word for name, _ in FIELD_WEIGHTS for word in event_words(getattr(event, name))]

    def weight(word: str) -> float:
        return significance.weight(word) * (VAGUE_SHARE if word in VAGUE_WORDS else 1.0)

    had = sum(weight(word) for word in known if any(similar(word, other) for other in fields))
    return had / sum(weight(word) for word in known)


def paired_in_notes(event: Event, asked: Sequence[str], significance: Significance) -> set[str]:
    """The asked words that stand side by side in the event's notes as in the question, one of
    them a telling word no title or place has ("door code" in "Door code 4711#"): what the
    question asks about is in these notes."""
    notes = significant(event.description, joined=False)
    return {
        word
        for pair in pairwise(asked)
        if any(w not in VAGUE_WORDS and not significance.known(w) for w in pair)
        and _side_by_side(pair, notes)
        for word in pair
    }


def _side_by_side(pair: tuple[str, str], words: Sequence[str]) -> bool:
    return any(
        similar(pair[0], first) and similar(pair[1], second) for first, second in pairwise(words)
    )


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


def titled_mine(event: Event, word: str) -> bool:
    """Whether the title gives the word to the user: "My talk: Scaling payments" is "my talk",
    where "Tech talk: Kafka" is anyone's."""
    words = tokens(event.title, joined=False)
    return any(mine == "my" and similar(word, after) for mine, after in pairwise(words))


def owned_by_another(event: Event, word: str, owner: str) -> bool:
    """Whether the event's title gives the word to someone else: "Sam's birthday" is not
    "my birthday" nor "Priya's birthday"."""
    words = tokens(event.title, joined=False, possessive=True)
    wanted = tokens(word)[:1]
    return any(
        holder.endswith("'s")
        and owner not in (holder.removesuffix("'s"), named_before)
        and wanted
        and (after == wanted[0] or same_concept(wanted[0], after))
        # "Kavya didi's wedding", "Aunt Mary's party": the name before a title is the owner.
        for named_before, holder, after in zip(["", *words], words, words[1:], strict=False)
    )
