"""The one core behind every front end: a message in, a reply out, the chat remembered."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.calendars import open_calendars
from bot.config import (
    ConfigError,
    LoadedConfig,
    Rule,
    Secrets,
    VoiceMode,
    WeatherSettings,
)
from bot.memory import ChatMemory, Turn
from bot.messages import SORRY, Incoming, Reply, TraceStep
from bot.schedule import Scheduler, SlotLedger
from bot.tools import TOOLS
from bot.tools.context import ToolContext
from bot.understanding import understand
from bot.voice import MODE_LINES, VOICE_MODES, asks_for_voice, spoken_version
from bot.workflow import Workflow, covered
from integrations.calendar import CalendarSource
from integrations.llm import Claude
from integrations.speech import Speaker, SpeechError
from integrations.weather import OpenMeteo

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def open_speaker(config: LoadedConfig) -> Speaker:
    """The speaker for the configured voice; an unknown voice is a config error, not silence."""
    voice = config.settings.voice
    speaker = Speaker(voice.default_voice, voice.rate)
    if problem := speaker.validate_voice(voice.default_voice):
        raise ConfigError(config.path, [f"voice.default_voice: {problem}"])
    return speaker


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
        speaker: Speaker | None = None,
    ) -> None:
        self.settings = config.settings
        self.memory = memory
        voice = self.settings.voice
        self.speaker = speaker or Speaker(voice.default_voice, voice.rate)
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
        return cls(config, open_calendars(config), memory, llm, speaker=open_speaker(config))

    async def handle(self, message: Incoming) -> Reply:
        """Answer one message. Never raises: a failure becomes a kind reply."""
        text = message.text.strip()
        limit = self.settings.limits.max_message_chars
        if not text:
            return Reply("Send me a question about your calendar, like “what's on tomorrow?”")
        if len(text) > limit:
            return Reply(
                f"That message is {len(text):,} characters long; I read up to {limit:,}. "
                "Could you ask in a shorter message?"
            )
        wants_voice = message.wants_voice
        command, _, argument = text.partition(" ")
        name = command[1:].split("@")[0].lower() if command.startswith("/") else ""
        if name == "voice":
            return self.set_voice_mode(message.chat_id, argument)
        if name == "say":
            if not argument.strip():
                return Reply("Tell me what to read out, e.g. “/say what's on tomorrow?”")
            text, wants_voice = argument.strip(), True
        asked, text = asks_for_voice(text, self.settings.voice.request_phrases)
        try:
            reply = await self._answer(message.chat_id, text)
        except Exception:
            log.exception("a message could not be answered")
            return Reply(SORRY)
        if self._speaks(message.chat_id, wants_voice or asked or reply.speak):
            reply = await self.with_voice(reply, message.language)
        return reply

    async def _answer(self, chat_id: int, text: str) -> Reply:
        question = understand(text, self.context.now())
        history = self.memory.recent(chat_id)
        focus = self.memory.focus(chat_id)
        reply = await self.workflow.run(question, self.context, history, focus)
        self.memory.remember(chat_id, Turn("user", text), Turn("assistant", reply.text))
        if reply.focus is not None:
            self.memory.remember_focus(chat_id, reply.focus)
        return reply

    def voice_mode(self, chat_id: int) -> VoiceMode:
        chosen = self.memory.setting(chat_id, "voice")
        return VOICE_MODES.get(chosen or "", self.settings.voice.mode)

    def _speaks(self, chat_id: int, requested: bool) -> bool:
        mode = self.voice_mode(chat_id)
        return mode == "always" or (mode == "on_request" and requested)

    def set_voice_mode(self, chat_id: int, argument: str) -> Reply:
        """`/voice` shows the chat's voice mode; `/voice off|always|on_request` changes it."""
        wanted = argument.strip().lower()
        usage = "Change it with /voice off, /voice always or /voice on_request."
        if not wanted:
            return Reply(f"Voice replies: {MODE_LINES[self.voice_mode(chat_id)]}.\n{usage}")
        if wanted not in VOICE_MODES:
            return Reply(f"I don't know the voice mode “{wanted}”. {usage}")
        self.memory.set_setting(chat_id, "voice", VOICE_MODES[wanted])
        return Reply(f"Voice replies: {MODE_LINES[VOICE_MODES[wanted]]}.")

    async def with_voice(self, reply: Reply, language: str | None) -> Reply:
        """The reply with a voice note of it; if speech fails, the text still goes out alone."""
        spoken = spoken_version(reply.text, self.settings.voice.max_spoken_chars)
        started = time.perf_counter()
        try:
            note = await self.speaker.speak(spoken, language or self.settings.user.language)
        except SpeechError as exc:
            log.warning("the reply goes out as text only: %s", exc)
            failed = TraceStep("voice", "failed", {"error": str(exc)})
            return replace(reply, steps=(*reply.steps, failed))
        spoke = TraceStep(
            "voice",
            note.voice,
            {"audio_seconds": round(note.duration, 1)},
            time.perf_counter() - started,
        )
        return replace(
            reply,
            steps=(*reply.steps, spoke),
            voice=note,
            voice_only=self.settings.voice.voice_only,
        )

    async def run_scheduled(self, rule: Rule, chat_id: int) -> Reply:
        """Answer a scheduled rule's question in a chat, as if its owner had just asked it."""
        assert rule.schedule is not None
        question = understand(rule.schedule.ask, self.context.now())
        history = self.memory.recent(chat_id)
        reply = await self.workflow.run_rule(rule, question, self.context, history)
        self.memory.remember(chat_id, Turn("assistant", reply.text))
        if reply.focus is not None:
            self.memory.remember_focus(chat_id, reply.focus)
        if self._speaks(chat_id, reply.speak):
            reply = await self.with_voice(reply, None)
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
