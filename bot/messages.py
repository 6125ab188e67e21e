"""What goes into the core and what comes out: the contract every front end speaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from integrations.calendar import Event

if TYPE_CHECKING:
    from bot.config import Mode
    from integrations.speech import VoiceNote

SORRY = "Sorry, something went wrong on my side. Please try again in a moment."
# Commands the core answers itself, so that every front end has them.
CORE_COMMANDS = ("voice", "say", "mode", "trace", "compare")


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
class Usage:
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.model_calls + other.model_calls,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )


@dataclass(frozen=True)
class Reply:
    """The answer to one message, with the path taken to reach it."""

    text: str
    steps: tuple[TraceStep, ...] = ()
    usage: Usage = Usage()
    focus: Event | None = None  # the event the reply was about, for follow-up questions
    speak: bool = False  # the rule that answered, or the agent, asks for a voice note
    spoken: str = ""  # what to say, when not the text itself
    voice: VoiceNote | None = None
    voice_only: bool = False  # send the voice note without the text
