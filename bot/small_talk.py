"""Small talk: a greeting, a thanks, an acknowledgement or a goodbye gets a one-line reply.

A message is small talk only when every word of it is: "hi", "thanks a lot!", "ok cool 👍",
"good morning Tandem". Anything else in it ("hi, what's on tomorrow?") makes it a question,
which goes on to the rules. Only the rules' path asks (bot/engine/modes.py): the agent answers
small talk itself, and there "ok" or "sure" may answer a question Claude asked.
"""

from __future__ import annotations

import re
from typing import Literal

Kind = Literal["thanks", "goodbye", "greeting", "about", "acknowledgement"]

PHRASES: dict[Kind, tuple[str, ...]] = {
    "thanks": (
        "thanks", "thank", "thank you", "thank u", "thankyou", "thx", "ty", "cheers", "ta",
        "many thanks", "much appreciated", "appreciated", "appreciate it", "good bot",
        "well done", "nice one", "love you", "you're great", "you're a star", "star",
        "you're a legend", "legend", "ta very much", "you're the best", "you rock",
        "you're awesome", "you're amazing", "lifesaver", "tysm", "that's kind", "that's very kind",
        "very kind", "how kind", "kind of you", "thank you kindly", "much obliged",
    ),
    "goodbye": (
        "bye", "goodbye", "bye bye", "see you", "see ya", "cya", "good night", "night", "gn",
        "later", "take care", "have a good day", "have a nice day", "that's all", "that's it",
        "that'll be all", "that'll do", "that's all for now",
        "that's it for now", "bye for now", "cheerio", "ta ta", "ka kite", "catch you later",
    ),
    "greeting": (
        "hi", "hello", "hey", "hiya", "heya", "howdy", "yo", "sup", "greetings", "morning",
        "good morning", "good afternoon", "good evening", "afternoon", "evening",
        "how are you", "how are you doing", "how's it going", "what's up", "kia ora", "g'day",
        "gday", "gidday", "good day", "how are you today", "how are you keeping", "how do you do",
    ),
    "about": ("who are you", "what are you", "what can you do", "help"),
    "acknowledgement": (
        "ok", "okay", "okey", "k", "kk", "cool", "great", "nice", "perfect", "got it",
        "alright", "all right", "fine", "good", "awesome", "sounds good", "makes sense",
        "understood", "noted", "excellent", "lovely", "brilliant", "no problem", "np", "sure",
        "that's great", "that's good", "that's perfect", "that's helpful", "helpful", "yes",
        "no", "yep", "nope", "lol", "haha", "sorry", "please", "never mind", "nevermind", "nvm",
        "bad bot", "grand", "sound", "spot on", "lovely stuff", "good to know", "nice to know",
        "great to know", "fair enough",
    ),
}  # fmt: skip
# Pleasantries made of parts, as people vary them: "that was really helpful", "you've been a
# great help", "have a lovely evening", "enjoy the rest of your weekend", "talk to you soon".
_IT_WAS = ("that's", "that is", "that was", "it's", "it is", "it was", "this is", "that",
           "you're", "you are", "you were", "you've been", "you have been")  # fmt: skip
_PRAISE = ("helpful", "useful", "great", "perfect", "brilliant", "amazing", "fantastic",
           "lovely", "wonderful", "excellent", "awesome", "super", "fab", "handy", "spot on",
           "a help", "a great help", "a big help", "a huge help", "a real help", "such a help",
           "a lifesaver", "a star", "a legend", "a gem", "exactly what i needed",
           "just what i needed", "what i needed", "all i needed", "everything i needed",
           "good to know", "nice to know", "great to know")  # fmt: skip
_WISHES = ("nice", "good", "great", "lovely", "wonderful", "fab", "fabulous", "fantastic",
           "pleasant", "relaxing", "restful", "brilliant", "happy", "safe", "super",
           "fun")  # fmt: skip
_SPELLS = ("day", "evening", "night", "weekend", "morning", "afternoon", "one", "time", "week",
           "holiday", "holidays", "christmas", "trip", "flight", "break", "rest of the day",
           "rest of your day", "rest of the week", "rest of your week", "rest of the evening",
           "rest of your evening", "rest of the weekend", "rest of your weekend")  # fmt: skip
_MUCH = ("", "really ", "very ", "so ", "super ", "most ", "truly ", "incredibly ", "extremely ")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SOON = ("soon", "later", "tomorrow", "then", "around", "next time", "in a bit", "again",
         "next week", *_WEEKDAYS, *(f"on {day}" for day in _WEEKDAYS))  # fmt: skip
PLEASANTRIES: dict[Kind, tuple[str, ...]] = {
    "thanks": (
        *(f"{it} {much}{praise}" for it in _IT_WAS for much in _MUCH for praise in _PRAISE),
        "helps", "helped", "that helps", "that helped", "it helps", "it helped", "this helps",
        "thanks a million", "thanks a bunch", "thanks heaps", "thanks loads", "ta muchly",
        "i appreciate it", "i appreciate that", "i appreciate you", "you're a gem",
    ),
    "goodbye": (
        *(f"have a {much}{wish} {spell}" for much in _MUCH for wish in _WISHES
          for spell in _SPELLS),
        *(f"{enjoy} {spell}" for enjoy in ("enjoy your", "enjoy the") for spell in _SPELLS),
        *(f"{meet} {soon}" for meet in ("see you", "see ya", "talk to you", "talk", "speak",
                                        "speak to you", "catch you", "chat") for soon in _SOON),
        "night night", "nighty night", "nite", "sleep well", "sleep tight", "sweet dreams",
        "all the best", "best wishes", "take it easy", "have fun", "until next time",
        "till next time", "laters", "ciao", "bye now", "over and out", "i'm off", "i'm done",
    ),
    "greeting": (
        *(f"{happy} {day}" for happy in ("happy", "merry") for day in (
            "christmas", "new year", "holidays", "easter", "weekend", *_WEEKDAYS)),
        "season's greetings",
    ),
}  # fmt: skip
# Words that may come with small talk without making it a question.
FILLERS = frozenset((
    "tandem", "bot", "there", "again", "so", "much", "very", "a", "lot", "lots", "you", "too",
    "mate", "really", "for", "that", "the", "help", "it", "all", "just", "oh", "ah", "well",
    "and", "then", "now", "buddy", "dear", "love", "darling", "friend",
))  # fmt: skip
EMOJI_WORDS = {"👍": " ok ", "👌": " ok ", "✅": " ok ", "🙏": " thanks ", "👋": " hi "}
MOST_WORDS = 14  # longer than this, it is saying something more
PHRASE_KIND: dict[tuple[str, ...], Kind] = {
    tuple(phrase.split()): kind
    for table in (PLEASANTRIES, PHRASES)  # a phrase of both is what PHRASES says
    for kind, phrases in table.items()
    for phrase in phrases
}
LONGEST_PHRASE = max(len(phrase) for phrase in PHRASE_KIND)
# What a question may open with and lose ("hi, what's on?"): not a pleasantry, which would take
# the start of "have a nice evening planned?".
OPENERS = frozenset(tuple(phrase.split()) for phrases in PHRASES.values() for phrase in phrases)
# When a message mixes kinds ("ok thanks, bye"), the reply answers the one first here.
PRIORITY: tuple[Kind, ...] = ("thanks", "goodbye", "about", "greeting", "acknowledgement")

INVITATION = "Ask me about your calendar, like “what's on tomorrow?”"


def small_talk(text: str) -> tuple[Kind, str] | None:
    """The kind of small talk the message is, and its greeting words; None if it is not."""
    lowered = text.lower().replace("’", "'")
    for emoji, word in EMOJI_WORDS.items():
        lowered = lowered.replace(emoji, word)
    from bot.understanding.words import ALIASES  # here: the understanding imports this module

    # Chat spellings as questions have them: "what can u do", "how r u".
    words = " ".join(ALIASES.get(word, word) for word in re.findall(r"[a-z']+", lowered)).split()
    if not words or len(words) > MOST_WORDS:
        return None
    found: list[tuple[Kind, str]] = []
    at = 0
    while at < len(words):
        for size in range(min(LONGEST_PHRASE, len(words) - at), 0, -1):
            kind = PHRASE_KIND.get(tuple(words[at : at + size]))
            if kind is not None:
                found.append((kind, " ".join(words[at : at + size])))
                at += size
                break
        else:
            if words[at] not in FILLERS:
                return None
            at += 1
    if not found:
        return None
    return min(found, key=lambda kind_words: PRIORITY.index(kind_words[0]))


def without_small_talk(text: str) -> str:
    """The question without the small talk it opens with: "hi, what's on tomorrow?" is
    "what's on tomorrow?", so a greeting is not taken for part of what to look up."""
    words = list(re.finditer(r"[a-z']+", text.lower().replace("’", "'")))
    at, cut = 0, 0
    while at < len(words):
        for size in range(min(LONGEST_PHRASE, len(words) - at), 0, -1):
            if tuple(word[0] for word in words[at : at + size]) in OPENERS:
                at += size
                cut = words[at - 1].end()
                break
        else:
            if words[at][0] not in FILLERS:
                break
            if text[words[at].end() : words[at].end() + 1] in tuple(",.!;:—"):
                cut = words[at].end()  # "hi there, ..." / "thanks Tandem! ..."
            at += 1
    rest = text[cut:].lstrip(" ,.!;:-—")
    return rest if at < len(words) and rest else text


def small_talk_reply(text: str) -> str | None:
    """A one-line friendly reply to small talk; None if the message is not small talk."""
    talk = small_talk(text)
    if talk is None:
        return None
    kind, words = talk
    if kind == "thanks":
        return "You're welcome!"
    if kind == "goodbye":
        return "Bye for now! I'm here whenever you need your calendar."
    if kind == "about":
        return "I'm Tandem: I answer questions about your own calendar. /help shows what I can do."
    if kind == "acknowledgement":
        return "Okay! Just ask whenever you need something from your calendar."
    if words.startswith("how") or words == "what's up":
        return f"All well here, thank you! {INVITATION}"
    part_of_day = words.removeprefix("good ")
    hello = f"Good {part_of_day}" if part_of_day in ("morning", "afternoon", "evening") else "Hello"
    return f"{hello}! {INVITATION}"
