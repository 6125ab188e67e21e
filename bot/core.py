"""The one core behind every front end: a message in, a reply out, the chat remembered."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from bot.calendars import open_calendars
from bot.config import LoadedConfig, Secrets
from bot.memory import ChatMemory, Turn
from bot.messages import SORRY, Incoming, Reply
from bot.tools import TOOLS
from bot.tools.context import ToolContext
from bot.understanding import understand
from bot.workflow import Workflow
from integrations.calendar import CalendarSource
from integrations.llm import Claude

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Assistant:
    def __init__(
        self,
        config: LoadedConfig,
        calendar: CalendarSource,
        memory: ChatMemory,
        llm: Claude | None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = config.settings
        self.memory = memory
        self.context = ToolContext(self.settings.user, self.settings.search, calendar, clock)
        self.workflow = Workflow(self.settings, TOOLS, llm)

    @classmethod
    def from_config(cls, config: LoadedConfig, secrets: Secrets) -> Assistant:
        llm = None
        if secrets.anthropic_api_key:
            settings = config.settings.llm
            llm = Claude(
                secrets.anthropic_api_key,
                settings.model,
                settings.max_tokens,
                settings.timeout_seconds,
            )
        memory = ChatMemory(config.data_dir / "tandem.sqlite3", config.settings.memory.turns_kept)
        return cls(config, open_calendars(config), memory, llm)

    async def handle(self, message: Incoming) -> Reply:
        """Answer one message. Never raises: a failure becomes a kind reply."""
        text = message.text.strip()
        limit = self.settings.limits.max_message_chars
        if not text:
            return Reply(
                "Send me a question about your calendar, for example “what's on tomorrow?”"
            )
        if len(text) > limit:
            return Reply(
                f"That message is {len(text):,} characters long; I read up to {limit:,}. "
                "Could you ask in a shorter message?"
            )
        try:
            question = understand(text, self.context.now())
            history = self.memory.recent(message.chat_id)
            focus = self.memory.focus(message.chat_id)
            reply = await self.workflow.run(question, self.context, history, focus)
        except Exception:
            log.exception("a message could not be answered")
            return Reply(SORRY)
        self.memory.remember(message.chat_id, Turn("user", text), Turn("assistant", reply.text))
        if reply.focus is not None:
            self.memory.remember_focus(message.chat_id, reply.focus)
        return reply

    def help_text(self) -> str:
        rules = self.settings.rules
        covered = "\n".join(f"• {rule.description}" for rule in rules) or "• (no rules yet)"
        return (
            "I answer questions about your own calendar, following your rules.\n"
            f"My rules cover:\n{covered}\n\n"
            "Try: “what's on tomorrow?”, “anything this weekend?” or "
            "“when is my next dentist appointment?”"
        )
