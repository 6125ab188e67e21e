"""The speak tool: the agent's way to answer with a voice note."""

from __future__ import annotations

from dataclasses import dataclass

from bot.formatting import View
from bot.tools.context import ToolContext


@dataclass(frozen=True)
class VoiceRequest:
    spoken: str

    def for_model(self) -> str:
        # The audio goes to the chat, never back into the model's context.
        return "Sent: the voice note goes to the chat together with your written reply."

    def for_person(self, view: View) -> str:
        return ""


def speak(context: ToolContext, text: str) -> VoiceRequest:
    """Send the user a voice note that reads `text` aloud, in their language.

    Use it when the user asks to hear the answer ("read it to me", "tell me out loud") or when
    a spoken answer clearly suits them. Call it at most once per question, after you know the
    answer; still write the answer as text too.

    Args:
        text: What to say, as a few plain spoken sentences without lists, symbols or links,
            e.g. "You have tennis with Sam at half past six at Regent's Park."
    """
    return VoiceRequest(text.strip())
