"""When a reply is also spoken, and what of it: the choices, not the speech itself."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.config import VoiceMode

VOICE_MODES: dict[str, VoiceMode] = {
    "off": "never",
    "never": "never",
    "always": "always",
    "on_request": "on_request",
    "on": "on_request",
    "inbound": "inbound",
}
MODE_LINES = {
    "never": "off — replies are text only",
    "always": "always — every reply also comes as a voice note",
    "on_request": "on request — a voice note when you use /say or ask me to read it out",
    "inbound": "inbound — a voice note when you asked by voice (or on request)",
}


def asks_for_voice(text: str, phrases: Sequence[str]) -> tuple[bool, str]:
    """Whether the message asks to hear the reply, and the message without that request."""
    lowered = text.lower()
    for phrase in phrases:
        at = lowered.find(phrase.lower())
        if at >= 0:
            rest = (text[:at] + text[at + len(phrase) :]).strip(" ,.;:!-—")
            return True, rest
    return False, text


def spoken_version(text: str, limit: int) -> str:
    """The reply as it is read out: whole, or its first sentences within `limit` characters."""
    plain = re.sub(r"[•]", "", text)
    if len(plain) <= limit:
        return plain
    spoken = ""
    for sentence in re.split(r"(?<=[.!?:])\s+|\n+", plain):
        if spoken and len(spoken) + len(sentence) + 1 > limit:
            break
        spoken = f"{spoken} {sentence}".strip()
    return spoken[:limit] + " The full answer is in the message."
