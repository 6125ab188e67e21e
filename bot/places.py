"""Whether an event's location is a place on a map, or says how people meet ("Online")."""

from __future__ import annotations

import re

# A calendar location made only of these words, links and phone numbers says how or whether
# people meet, not where ("Online", "Microsoft Teams Meeting", "Zoom: https://...", "TBD",
# "Home"): the weather for it is the weather at the user's home, and a follow-up about the
# weather after a day's list is about an event that has a place.
_NOT_A_PLACE = frozenset({
    "online", "virtual", "remote", "remotely", "video", "call", "calls", "phone", "conference",
    "meeting", "meetings", "link", "zoom", "teams", "microsoft", "google", "meet", "hangouts",
    "skype", "webex", "slack", "discord", "whatsapp", "facetime", "jitsi",
    "tbd", "tba", "tbc", "to", "be", "determined", "confirmed", "announced", "none",
    "see", "details", "description", "below", "dial", "join",
    "home", "at", "my", "the", "on", "via", "by", "in",
})  # fmt: skip
_LINK = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+|\bwww\.\S+|\b[\w-]+(?:\.[\w-]+)+/\S*", re.I)
_PHONE_NUMBER = re.compile(r"\+?\d[\d\s()./-]{4,}\d")


def names_a_place(location: str) -> bool:
    """Whether a location could be looked up as a place: not only links, phone numbers and words
    like "Online", "Zoom", "TBD" or "Home"."""
    rest = _PHONE_NUMBER.sub(" ", _LINK.sub(" ", location))
    words = re.findall(r"[^\W\d_]{2,}", rest.casefold())
    return any(word not in _NOT_A_PLACE for word in words)
