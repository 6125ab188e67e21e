"""When a reply is also spoken, what of it, and the voice note itself."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.config import VoiceMode, VoiceSettings
from bot.engine.journal import Journal
from bot.messages import Reply, TraceStep
from integrations.speech import Speaker, SpeechError

log = logging.getLogger(__name__)

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


def speaks(voice_mode: VoiceMode, requested: bool, spoken_to: bool = False) -> bool:
    """Whether a reply gets a voice note: always, on request when it was asked for, or (inbound)
    also when the question came as a voice message."""
    return (
        voice_mode == "always"
        or (voice_mode in ("on_request", "inbound") and requested)
        or (voice_mode == "inbound" and spoken_to)
    )


@dataclass
class Voice:
    """Makes the voice note of a reply, as a journaled step."""

    settings: VoiceSettings
    speaker: Speaker
    journal: Journal

    async def add_to(self, reply: Reply, language: str) -> Reply:
        """The reply with a voice note of it; if speech fails, the text still goes out alone."""
        spoken = spoken_version(reply.spoken or reply.text, self.settings.max_spoken_chars)
        started = time.perf_counter()
        try:
            note = await self.journal.step("speech", self.speaker.speak, spoken, language)
        except SpeechError as exc:
            log.warning("the reply goes out as text only: %s", exc)
            failed = TraceStep("voice", "failed", {"error": str(exc)})
            return replace(reply, steps=(*reply.steps, failed))
        detail = {"audio_seconds": round(note.duration, 1)}
        spoke = TraceStep("voice", note.voice, detail, time.perf_counter() - started)
        return replace(
            reply,
            steps=(*reply.steps, spoke),
            voice=note,
            voice_only=self.settings.voice_only,
        )
