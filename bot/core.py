"""The one core behind every front end: a message in, a reply out, the chat remembered."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot.calendars import open_calendars
from bot.config import LoadedConfig, Rule, Secrets, WeatherSettings
from bot.memory import ChatMemory, Turn
from bot.messages import SORRY, Incoming, Reply
from bot.schedule import Scheduler, SlotLedger
from bot.tools import TOOLS
from bot.tools.context import ToolContext
from bot.understanding import understand
from bot.workflow import Workflow, covered
from integrations.calendar import CalendarSource
from integrations.llm import Claude
from integrations.weather import OpenMeteo

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def open_weather(settings: WeatherSettings, language: str) -> OpenMeteo:
    return OpenMeteo(
        forecast_url=settings.forecast_url,
        geocoding_url=settings.geocoding_url,
        units=settings.units,
        language=language,
        timeout=settings.timeout_seconds,
        cache_minutes=settings.cache_minutes,
    )


class Assistant:
    def __init__(
        self,
        config: LoadedConfig,
        calendar: CalendarSource,
        memory: ChatMemory,
        llm: Claude | None,
        clock: Callable[[], datetime] = utc_now,
        weather: OpenMeteo | None = None,
    ) -> None:
        self.settings = config.settings
        self.memory = memory
        weather = weather or open_weather(self.settings.weather, self.settings.user.language)
        self.context = ToolContext(
            self.settings.user, self.settings.search, calendar, weather, clock
        )
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

    async def run_scheduled(self, rule: Rule, chat_id: int) -> Reply:
        """Answer a scheduled rule's question in a chat, as if its owner had just asked it."""
        assert rule.schedule is not None
        question = understand(rule.schedule.ask, self.context.now())
        history = self.memory.recent(chat_id)
        reply = await self.workflow.run_rule(rule, question, self.context, history)
        self.memory.remember(chat_id, Turn("assistant", reply.text))
        if reply.focus is not None:
            self.memory.remember_focus(chat_id, reply.focus)
        return reply

    def scheduler(
        self,
        ledger: SlotLedger,
        chat_id: int,
        send: Callable[[Reply], Awaitable[None]],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> Scheduler:
        """The scheduled rules, each slot answered once and handed to `send` for `chat_id`."""

        async def fire(rule: Rule, slot: datetime) -> None:
            await send(await self.run_scheduled(rule, chat_id))

        grace = timedelta(minutes=self.settings.scheduler.grace_minutes)
        zone = self.settings.user.zone
        return Scheduler(
            self.settings.rules, zone, grace, ledger, fire, clock=self.context.clock, sleep=sleep
        )

    def help_text(self) -> str:
        rules = self.settings.rules
        scheduled = "".join(f"\n• {rule.description}" for rule in rules if rule.schedule)
        return (
            "I answer questions about your own calendar, following your rules.\n"
            f"My rules cover:\n{covered(rules) or '• (no rules yet)'}\n"
            + (f"\nOn a schedule:{scheduled}\n" if scheduled else "")
            + "\nTry: “what's on tomorrow?”, “what will the weather be?” or "
            "“when is my next dentist appointment?”"
        )
