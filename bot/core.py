"""The one core behind every front end: a message in, a reply out, the chat remembered.

`handle` is the front ends' door. A command is looked up in the command table (bot/commands.py,
handed in by bot/wiring.py) and a question goes to `ask`; whatever spends model calls passes
the person's allowances first. Nothing escapes it: any failure becomes a kind reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from textwrap import shorten
from typing import TYPE_CHECKING

from bot.config import Mode, Rule, Settings, VoiceMode
from bot.engine.journal import Journal
from bot.engine.modes import MODES, NO_KEY_EFFECT, NO_KEY_WARNING, Answered, Engine
from bot.engine.usage import Usage, price_of
from bot.engine.workflow import covered
from bot.hearing import hear
from bot.messages import SORRY, UNKNOWN_COMMAND, Incoming, Reply
from bot.report import compare_report
from bot.store import Stores
from bot.store.memory import Conversation, RunRecord, Turn
from bot.tools.context import ToolContext
from bot.understanding.followups import Asked
from bot.voice import MODE_LINES, VOICE_MODES, Voice, asks_for_voice, speaks
from integrations.calendar import Event
from integrations.listen import Listener

if TYPE_CHECKING:
    from bot.commands import Command
    from bot.wiring import People

log = logging.getLogger(__name__)

HEARD_SHOWN = 200  # characters of a voice message's text shown atop the reply


@dataclass(frozen=True)
class Chat:
    """What a run reads of its chat before answering, in one journaled read."""

    mode: Mode
    history: list[Turn]
    focus: Event | None
    voice_mode: VoiceMode
    refusal: str | None = None  # why the person may not ask now, if their budget was read
    asked: Asked | None = None  # the last calendar question, which a follow-up leaves unsaid


class Assistant:
    def __init__(
        self,
        settings: Settings,
        stores: Stores,
        people: People,
        engine: Engine,
        voice: Voice,
        commands: Mapping[str, Command],
        journal: Journal,
        listener: Listener,
    ) -> None:
        self.settings = settings
        self.stores = stores
        self.memory = stores.memory
        self.access = stores.access
        self.people = people
        self.context = people.owner  # the owner's tools: their settings and calendars
        self.engine = engine
        self.voice = voice
        self.commands = commands
        self.journal = journal
        self.listener = listener

    async def hear(self, audio: bytes, user_id: int) -> str:
        """What a voice message says; ListenError, with a kind message, if nothing usable."""
        return await hear(self.listener, audio, self.context_for(user_id), self.settings.rules)

    async def handle(self, message: Incoming) -> Reply:
        """Answer one message. Never raises: a failure becomes a kind reply."""
        try:
            reply = await self._handle(message)
        except Exception:
            log.exception("a message could not be answered")
            reply = Reply(SORRY, outcome="failed")
        if message.heard is None:
            return reply
        heard = shorten(message.heard, HEARD_SHOWN, placeholder="…")
        return replace(reply, text=f"🎙 {heard}\n\n{reply.text}")

    async def _handle(self, message: Incoming) -> Reply:
        text = message.text.strip()
        limit = self.settings.limits.max_message_chars
        if not text:
            return Reply("Send me a question about your calendar, like “what's on tomorrow?”")
        if len(text) > limit:
            return Reply(
                f"That message is {len(text):,} characters long; I read up to {limit:,}. "
                "Could you ask in a shorter message?"
            )
        word, _, argument = text.partition(" ")
        if not word.startswith("/"):
            return await self.ask(message, text, check_budget=True)
        command = self.commands.get(word[1:].split("@")[0].lower())
        if command is None:
            return Reply(UNKNOWN_COMMAND)
        if command.spends:
            now = self.context_for(message.user_id).now()
            allowances = self.stores.allowances
            # Everything read from the store is journaled: a resumed run takes the same path.
            refusal = await self.journal.read(
                "check budget", allowances.refusal, message.user_id, now, message.paced
            )
            if refusal:
                return Reply(refusal, outcome="refused")
        return await command.handler(self, message, argument.strip())

    async def ask(
        self, message: Incoming, text: str, wants_voice: bool = False, check_budget: bool = False
    ) -> Reply:
        """Answer a question in the chat's mode (or the message's), remember it, maybe speak it.

        `check_budget`: see first whether the person may ask now (a command that spends saw
        to it before calling this).
        """
        asked, text = asks_for_voice(text, self.settings.voice.request_phrases)
        conversation, user_id = message.conversation, message.user_id
        budget = None
        if check_budget:
            budget = (user_id, self.context_for(user_id).now(), message.paced)
        # Everything read from the store is journaled, so that a resumed run takes the same
        # path; all in one read, as each read is a part of the next step's journal record.
        chat = await self.journal.read("read chat", self._read_chat, conversation, budget)
        if chat.refusal:
            return Reply(chat.refusal, outcome="refused")
        reply = (await self.answer(conversation, user_id, text, message.mode, chat)).reply
        requested = message.wants_voice or wants_voice or asked or reply.speak
        if speaks(chat.voice_mode, requested, spoken_to=message.heard is not None):
            return self._voice_follows(reply, message.language or self.settings.user.language)
        return reply

    async def answer(
        self,
        conversation: Conversation,
        user_id: int,
        text: str,
        mode: Mode | None = None,
        chat: Chat | None = None,
    ) -> Answered:
        """Answer `text` (in `mode`, else the conversation's) and remember it; `chat` is the
        conversation as already read, if it was."""
        context = self.context_for(user_id)
        if chat is None:
            chat = await self.journal.read("read chat", self._read_chat, conversation)
        run = self.engine.start(conversation, context, chat.history, chat.focus, chat.asked)
        answered = await self.engine.answer(text, mode or chat.mode, run)
        turns = (Turn("user", text), Turn("assistant", answered.reply.text))
        await self._remember(
            conversation, user_id, context, turns, answered.reply, answered.record, answered.asked
        )
        return answered

    async def compare(self, message: Incoming, text: str) -> Reply:
        """`text` answered as a workflow and as an agent from the same inputs, side by side.

        The chat's history is left as it was; what the two answers cost counts as one message.
        """
        conversation, user_id = message.conversation, message.user_id
        context = self.context_for(user_id)
        chat = await self.journal.read("read chat", self._read_chat, conversation)
        both = [
            self.engine.answer(
                text,
                mode,
                self.engine.start(conversation, context, chat.history, chat.focus, chat.asked),
            )
            for mode in ("workflow", "agent")
        ]
        records = [answered.record for answered in await asyncio.gather(*both)]
        used = sum((record.usage for record in records), Usage())
        allowances = self.stores.allowances
        await self.journal.step("count usage", allowances.add, user_id, context.now(), used)
        return Reply(compare_report(records, price_of(self.settings.llm)))

    async def run_scheduled(self, rule: Rule, chat_id: int) -> Reply:
        """Answer a scheduled rule's question in a chat, as if its owner had just asked it."""
        chat = await self.journal.read("read chat", self._read_chat, chat_id)
        reply = await self.engine.answer_scheduled(
            rule, self.engine.start(chat_id, self.context, chat.history, None)
        )
        turns = (Turn("assistant", reply.text),)
        await self._remember(chat_id, chat_id, self.context, turns, reply, None)
        if speaks(chat.voice_mode, reply.speak):
            return self._voice_follows(reply, self.settings.user.language)
        return reply

    def _voice_follows(self, reply: Reply, language: str) -> Reply:
        # What is spoken is fixed now: the text may yet be prefixed (what a voice message said).
        spoken = reply.spoken or reply.text
        voice_only = self.settings.voice.voice_only
        return replace(reply, voice_language=language, voice_only=voice_only, spoken=spoken)

    async def add_voice(self, reply: Reply) -> Reply:
        """The reply with the voice note it is to have (a journaled step); if speech fails, the
        reply as it was, its trace saying why. Front ends send the text first, then this."""
        if reply.voice_language is None or reply.voice is not None:
            return reply
        return await self.voice.add_to(reply, reply.voice_language)

    def context_for(self, user_id: int) -> ToolContext:
        """The tools' view of one person: their settings and calendars, no one else's."""
        return self.people.context_for(user_id, self.access)

    def _read_chat(
        self, conversation: Conversation, budget: tuple[int, datetime, bool] | None = None
    ) -> Chat:
        """What a run reads from the store; with `budget` (who asks, when, and whether the
        per-minute limit applies to them there), whether they may ask now."""
        allowances = self.stores.allowances
        # One transaction for the six reads: each its own took 2.0 ms of CPU, together 1.2.
        with self.memory.database.transaction():
            return Chat(
                self.mode(conversation),
                self.memory.recent(conversation),
                self.memory.focus(conversation),
                self.voice_mode(conversation),
                allowances.refusal(*budget) if budget is not None else None,
                self.memory.asked(conversation),
            )

    async def _remember(
        self,
        conversation: Conversation,
        user_id: int,
        context: ToolContext,
        turns: tuple[Turn, ...],
        reply: Reply,
        record: RunRecord | None,
        asked: Asked | None = None,
    ) -> None:
        """Remember an answered message: its turns, its event, the calendar question it was,
        its trace and what it cost.

        A store that cannot be written (a data folder turned read-only, a full disk) is logged
        and the answer still goes out: it is what the person is waiting for."""
        now = context.now()
        try:
            # Done once per run (the store keeps the run's id with the turns): it needs no
            # journal record of its own, a resumed run doing it again changes nothing.
            await self.journal.once(
                "remember",
                self.stores.remember,
                conversation,
                user_id,
                now,
                turns,
                reply,
                record,
                asked,
            )
        except Exception as exc:
            log.error("Could not save the chat (%s: %s); answering anyway", type(exc).__name__, exc)

    def mode(self, conversation: Conversation) -> Mode:
        chosen = self.memory.setting(conversation, "mode")
        return chosen if chosen in MODES else self.settings.mode  # type: ignore[return-value]

    def set_mode(self, conversation: Conversation, argument: str) -> Reply:
        """`/mode` shows the chat's mode and what each does; `/mode NAME` changes it."""
        wanted = argument.lower()
        if wanted in MODES:
            self.memory.set_setting(conversation, "mode", wanted)
            changed = f"Mode: {wanted} — {MODES[wanted]}."  # type: ignore[index]
            if self.engine.llm is None and wanted in NO_KEY_EFFECT:
                warning = NO_KEY_WARNING.format(effect=NO_KEY_EFFECT[wanted])  # type: ignore[index]
                return Reply(f"{changed}\n{warning}")
            return Reply(changed)
        current = self.mode(conversation)
        lines = "\n".join(
            f"{'•' if name == current else '◦'} {name} — {what}" for name, what in MODES.items()
        )
        unknown = f"I don't know the mode “{argument}”.\n" if wanted else ""
        change = "Change it with /mode workflow, /mode agent or /mode hybrid."
        return Reply(f"{unknown}Mode: {current}.\n{lines}\n{change}")

    def voice_mode(self, conversation: Conversation) -> VoiceMode:
        chosen = self.memory.setting(conversation, "voice")
        return VOICE_MODES.get(chosen or "", self.settings.voice.mode)

    def set_voice_mode(self, conversation: Conversation, argument: str) -> Reply:
        """`/voice` shows the chat's voice mode; `/voice MODE` changes it."""
        wanted = argument.strip().lower()
        usage = "Change it with /voice off, /voice always, /voice on_request or /voice inbound."
        if not wanted:
            return Reply(f"Voice replies: {MODE_LINES[self.voice_mode(conversation)]}.\n{usage}")
        if wanted not in VOICE_MODES:
            return Reply(f"I don't know the voice mode “{wanted}”. {usage}")
        self.memory.set_setting(conversation, "voice", VOICE_MODES[wanted])
        return Reply(f"Voice replies: {MODE_LINES[VOICE_MODES[wanted]]}.")

    def help_text(self) -> str:
        """What the rules cover, what runs on a schedule, and the commands."""
        rules = self.settings.rules
        scheduled = "".join(f"\n• {rule.description}" for rule in rules if rule.schedule)
        commands = "\n".join(
            f"/{command.name} — {command.help}" for command in self.commands.values()
        )
        return (
            "I answer questions about your own calendar, following your rules.\n"
            f"My rules cover:\n{covered(rules) or '• (no rules yet)'}\n"
            + (f"\nOn a schedule:{scheduled}\n" if scheduled else "")
            + "\nTry: “what's on tomorrow?”, “what will the weather be?” or "
            "“when is my next dentist appointment?”" + f"\n\nCommands:\n{commands}"
        )
