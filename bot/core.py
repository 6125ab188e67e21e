"""The one core behind every front end: a message in, a reply out, the chat remembered."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot import telemetry
from bot.access import Access
from bot.agent import Agent
from bot.budget import Budgets
from bot.calendars import MergedCalendar, open_calendars
from bot.config import (
    ConfigError,
    LoadedConfig,
    Mode,
    Price,
    Rule,
    Secrets,
    VoiceMode,
    WeatherSettings,
)
from bot.journal import Immediate, Journal
from bot.memory import ChatMemory, Conversation, Run, Turn
from bot.messages import SORRY, Incoming, Reply, TraceStep
from bot.report import compare_report, trace_report
from bot.schedule import Scheduler, SlotLedger
from bot.tools import TOOLS
from bot.tools.context import ToolContext
from bot.understanding import understand
from bot.voice import MODE_LINES, VOICE_MODES, asks_for_voice, spoken_version
from bot.workflow import Workflow, covered
from integrations.calendar import CalendarSource, Event
from integrations.llm import Claude
from integrations.speech import Speaker, SpeechError
from integrations.weather import OpenMeteo

log = logging.getLogger(__name__)

NO_CALENDAR_YET = (
    "You're paired, but no calendar is set up for you yet: ask the owner to add you under "
    "'people:' in Tandem's config file."
)

MODES = {
    "workflow": "your rules decide the path: fixed steps, bounded cost; what no rule covers is "
    "out of scope",
    "agent": "Claude decides which tools to call, in what order, within hard limits",
    "hybrid": "your rules first; when no rule matches, the agent takes over",
}


@dataclass(frozen=True)
class Chat:
    """What a run reads of its chat before answering, in one journaled step."""

    mode: Mode
    history: list[Turn]
    focus: Event | None
    voice_mode: VoiceMode
    refusal: str | None = None  # why the person may not ask now (a budget reached)


@dataclass(frozen=True)
class Answered:
    reply: Reply
    record: Run


def utc_now() -> datetime:
    return datetime.now(UTC)


def _speaks(voice_mode: VoiceMode, requested: bool) -> bool:
    return voice_mode == "always" or (voice_mode == "on_request" and requested)


def open_speaker(config: LoadedConfig) -> Speaker:
    """The speaker for the configured voice; an unknown voice is a config error, not silence."""
    voice = config.settings.voice
    speaker = Speaker(voice.default_voice, voice.rate)
    if problem := speaker.validate_voice(voice.default_voice):
        raise ConfigError(config.path, [f"voice.default_voice: {problem}"])
    return speaker


def open_weather(
    settings: WeatherSettings, language: str, clock: Callable[[], datetime]
) -> OpenMeteo:
    return OpenMeteo(
        forecast_url=settings.forecast_url,
        geocoding_url=settings.geocoding_url,
        units=settings.units,
        language=language,
        timeout=settings.timeout_seconds,
        cache_minutes=settings.cache_minutes,
        clock=clock,
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
        journal: Journal | None = None,
    ) -> None:
        self.settings = config.settings
        self.memory = memory
        voice = self.settings.voice
        self.speaker = speaker or Speaker(voice.default_voice, voice.rate)
        weather = weather or open_weather(self.settings.weather, self.settings.user.language, clock)
        self.context = ToolContext(
            self.settings.user, self.settings.search, calendar, weather, clock
        )
        self.config = config
        self.access = Access(self.settings, memory.path)
        self.budgets = Budgets(self.settings.limits, self.price, memory.path)
        self._contexts: dict[int, ToolContext] = {}
        self.journal = journal or Immediate()
        self.workflow = Workflow(self.settings, TOOLS, llm, self.journal)
        self.agent = Agent(self.settings, TOOLS, llm, self.journal)

    @classmethod
    def from_config(
        cls,
        config: LoadedConfig,
        secrets: Secrets,
        clock: Callable[[], datetime] = utc_now,
        journal: Journal | None = None,
    ) -> Assistant:
        llm = None
        if secrets.anthropic_api_key:
            settings = config.settings.llm
            llm = Claude(
                secrets.anthropic_api_key,
                settings.model,
                settings.max_tokens,
                settings.timeout_seconds,
                settings.max_retries,
            )
        memory = ChatMemory(config.data_dir / "tandem.sqlite3", config.settings.memory.turns_kept)
        telemetry.setup_tracing(config.settings.telemetry)
        calendar = open_calendars(config)
        speaker = open_speaker(config)
        return cls(config, calendar, memory, llm, clock, speaker=speaker, journal=journal)

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
        key, user = message.conversation, message.user_id
        command, _, argument = text.partition(" ")
        name = command[1:].split("@")[0].lower() if command.startswith("/") else ""
        if name in ("voice", "mode", "trace", "compare", "usage"):
            return await self._command(name, key, user, argument.strip())
        if name == "say":
            if not argument.strip():
                return Reply("Tell me what to read out, e.g. “/say what's on tomorrow?”")
            text, wants_voice = argument.strip(), True
        asked, text = asks_for_voice(text, self.settings.voice.request_phrases)
        now = self.context_for(user).now()
        # Everything read from the store is journaled too, so that a resumed run takes the same
        # path; all in one step, as each step is a write to the journal.
        chat = await self.journal.step("read chat", self._read_chat, key, user, now)
        if chat.refusal:
            return Reply(chat.refusal)
        try:
            reply = (await self.answer(key, user, text, message.mode, chat)).reply
        except Exception:
            log.exception("a message could not be answered")
            return Reply(SORRY)
        if _speaks(chat.voice_mode, wants_voice or asked or reply.speak):
            reply = await self.with_voice(reply, message.language)
        return reply

    async def answer(
        self,
        key: Conversation,
        user_id: int,
        text: str,
        mode: Mode | None = None,
        chat: Chat | None = None,
    ) -> Answered:
        """Answer `text` (in `mode`, else the conversation's) and remember it."""
        if chat is None:
            chat = await self.journal.step("read chat", self._read_chat, key)
        answered = await self.run(chat, key, user_id, text, mode)
        turns = (Turn("user", text), Turn("assistant", answered.reply.text))
        reply, record = answered.reply, answered.record
        await self.journal.step("remember", self._keep, key, user_id, turns, reply, record)
        return answered

    async def run(
        self, chat: Chat, key: Conversation, user_id: int, text: str, mode: Mode | None = None
    ) -> Answered:
        """Answer `text` in a chat as read (`chat`: its history, ...), changing nothing in it."""
        started = time.perf_counter()
        context = self.context_for(user_id)
        history, focus = chat.history, chat.focus
        mode = mode or chat.mode
        rule = self.workflow.choose(text)
        if mode == "agent" or (mode == "hybrid" and rule is None):
            reply = await self.agent.run(text, context, history, key)
            ran = "agent" if mode == "agent" else "hybrid → agent"
        else:
            question = understand(text, context.now())
            reply = await self.workflow.run(question, context, history, focus, key)
            ran = "workflow" if mode == "workflow" else "hybrid → workflow"
        seconds = time.perf_counter() - started
        return Answered(reply, Run(ran, text, reply.text, reply.steps, reply.usage, seconds))

    def _read_chat(
        self, key: Conversation, user_id: int | None = None, now: datetime | None = None
    ) -> Chat:
        """What a run reads from the store; the budget only when given who asks and when."""
        refusal = self.budgets.refusal(user_id, now) if user_id is not None and now else None
        return Chat(
            self.mode(key),
            self.memory.recent(key),
            self.memory.focus(key),
            self.voice_mode(key),
            refusal,
        )

    def context_for(self, user_id: int) -> ToolContext:
        """The tools' view of one person: their settings and their calendars, no one else's.

        People listed under `people:` have their own; someone who only paired has none until
        the owner lists them; everyone else who reaches the core is the owner.
        """
        if user_id not in self._contexts:
            person = next((p for p in self.settings.people if p.telegram_id == user_id), None)
            if person is not None:
                calendar: CalendarSource = open_calendars(self.config, person.calendars)
                user = person.user
            elif self.access.paired_only(user_id):
                calendar, user = MergedCalendar([], NO_CALENDAR_YET), self.settings.user
            else:
                return self.context
            self._contexts[user_id] = replace(self.context, user=user, calendar=calendar)
        return self._contexts[user_id]

    async def _command(self, name: str, key: Conversation, user_id: int, argument: str) -> Reply:
        """The core's own commands, the same in every front end."""
        if name == "voice":
            return self.set_voice_mode(key, argument)
        if name == "mode":
            return self.set_mode(key, argument)
        if name == "trace":
            return Reply(trace_report(self.memory.last_run(key), self.price))
        if name == "usage":
            return Reply(self.budgets.report(user_id, self.context_for(user_id).now()))
        if not argument:
            return Reply("Ask it a question, e.g. “/compare what will the weather be?”")
        chat = await self.journal.step("read chat", self._read_chat, key)
        both = [self.run(chat, key, user_id, argument, mode) for mode in ("workflow", "agent")]
        runs = await asyncio.gather(*both)
        return Reply(compare_report([run.record for run in runs], self.price))

    def mode(self, chat_id: int) -> Mode:
        chosen = self.memory.setting(chat_id, "mode")
        return chosen if chosen in MODES else self.settings.mode  # type: ignore[return-value]

    def set_mode(self, chat_id: int, argument: str) -> Reply:
        """`/mode` shows the chat's mode and what each does; `/mode NAME` changes it."""
        wanted = argument.lower()
        if wanted in MODES:
            self.memory.set_setting(chat_id, "mode", wanted)
            return Reply(f"Mode: {wanted} — {MODES[wanted]}.")
        current = self.mode(chat_id)
        lines = "\n".join(
            f"{'•' if name == current else '◦'} {name} — {what}" for name, what in MODES.items()
        )
        unknown = f"I don't know the mode “{argument}”.\n" if wanted else ""
        change = "Change it with /mode workflow, /mode agent or /mode hybrid."
        return Reply(f"{unknown}Mode: {current}.\n{lines}\n{change}")

    @property
    def price(self) -> Price:
        return self.settings.llm.prices[self.settings.llm.model]

    def voice_mode(self, chat_id: int) -> VoiceMode:
        chosen = self.memory.setting(chat_id, "voice")
        return VOICE_MODES.get(chosen or "", self.settings.voice.mode)

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
        spoken = spoken_version(reply.spoken or reply.text, self.settings.voice.max_spoken_chars)
        started = time.perf_counter()
        try:
            language = language or self.settings.user.language
            note = await self.journal.step("speech", self.speaker.speak, spoken, language)
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

    def _keep(
        self,
        key: Conversation,
        user_id: int,
        turns: tuple[Turn, ...],
        reply: Reply,
        run: Run | None,
    ) -> None:
        """Remember an answered message: its turns, its event, its trace and what it cost."""
        self.memory.remember(key, *turns)
        if reply.focus is not None:
            self.memory.remember_focus(key, reply.focus)
        if run is not None:
            self.memory.record_run(key, run)
        self.budgets.add(user_id, self.context_for(user_id).now(), reply.usage)

    async def run_scheduled(self, rule: Rule, chat_id: int) -> Reply:
        """Answer a scheduled rule's question in a chat, as if its owner had just asked it."""
        assert rule.schedule is not None
        question = understand(rule.schedule.ask, self.context.now())
        chat = await self.journal.step("read chat", self._read_chat, chat_id)
        reply = await self.workflow.run_rule(
            rule, question, self.context, chat.history, None, chat_id
        )
        turns = (Turn("assistant", reply.text),)
        await self.journal.step("remember", self._keep, chat_id, chat_id, turns, reply, None)
        if _speaks(chat.voice_mode, reply.speak):
            reply = await self.with_voice(reply, None)
        return reply

    def scheduler(
        self,
        ledger: SlotLedger,
        fire: Callable[[Rule, datetime], Awaitable[None]],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> Scheduler:
        """The scheduled rules; `fire` runs once for each slot (see `answer_into`)."""
        grace = timedelta(minutes=self.settings.scheduler.grace_minutes)
        zone = self.settings.user.zone
        return Scheduler(
            self.settings.rules, zone, grace, ledger, fire, clock=self.context.clock, sleep=sleep
        )

    def answer_into(
        self, chat_id: int, send: Callable[[Reply], Awaitable[None]]
    ) -> Callable[[Rule, datetime], Awaitable[None]]:
        """A scheduler's `fire` that answers the rule in `chat_id` and hands the reply to `send`."""

        async def fire(rule: Rule, slot: datetime) -> None:
            await send(await self.run_scheduled(rule, chat_id))

        return fire

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
