"""What goes into the core and what comes out: the contract every front end speaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bot.engine.usage import Usage
from integrations.calendar import Event

if TYPE_CHECKING:
    from bot.config import Mode
    from integrations.speech import VoiceNote

SORRY = "Sorry, something went wrong on my side. Please try again in a moment."
UNKNOWN_COMMAND = "I don't know that command. Send /help to see what I can do."

# What became of a message, for a front end that reports more than text (`tandem ask`'s exit
# status): answered; incomplete (a service it needed failed or the agent stopped short: the
# reply says what is missing); out of scope (no rule covers it); no model (agent mode without a
# key); refused (a limit was reached); failed (something broke and the reply apologises).
Outcome = Literal["answered", "incomplete", "out of scope", "no model", "refused", "failed"]


@dataclass(frozen=True)
class Incoming:
    """One message from a person, whatever front end it came through."""

    chat_id: int
    user_id: int
    text: str
    language: str | None = None
    wants_voice: bool = False  # the front end was asked for a spoken reply (/say, --voice-out)
    mode: Mode | None = None  # this message only (tandem ask --mode); else the chat's mode
    group: bool = False  # sent in a group chat
    paced: bool = True  # the per-minute message limit applies (not in the owner's own terminal)
    heard: str | None = None  # the text was heard in a voice message (shown first in the reply)

    @property
    def conversation(self) -> int | str:
        """Whose history this message belongs to: the chat, or in a group this person in it."""
        return f"{self.chat_id}:{self.user_id}" if self.group else self.chat_id

    def __post_init__(self) -> None:
        # Undecodable bytes (argv, a terminal) arrive as lone surrogates, which SQLite, JSON
        # and Telegram cannot encode: pairs are joined, lone ones become U+FFFD, once, here.
        try:
            self.text.encode("utf-8")
        except UnicodeEncodeError:
            clean = self.text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            object.__setattr__(self, "text", clean)


@dataclass(frozen=True)
class TraceStep:
    """One thing a run did: a rule matched, a tool called, a model called, an answer written."""

    kind: str
    name: str
    detail: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class Reply:
    """The answer to one message, with the path taken to reach it."""

    text: str
    steps: tuple[TraceStep, ...] = ()
    usage: Usage = field(default_factory=Usage)
    focus: Event | None = None  # the event the reply was about, for follow-up questions
    speak: bool = False  # the rule that answered, or the agent, asks for a voice note
    spoken: str = ""  # what to say, when not the text itself
    voice: VoiceNote | None = None
    # A voice note is to follow, spoken in this language: the front end sends the text at once
    # and then asks the core for the note (`Assistant.add_voice`), which takes a while to make.
    voice_language: str | None = None
    voice_only: bool = False  # send the voice note without the text (the text if it fails)
    outcome: Outcome = "answered"
