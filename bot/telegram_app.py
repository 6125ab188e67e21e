"""Tandem in Telegram: a thin front end that turns chat messages into calls of the core.

Only the user ids listed under `telegram.allowed_user_ids` are served; anyone else is told their
numeric id (so the owner can add it) and nothing reaches the core. Text messages go to
`core.handle`, `/help` shows `core.help_text()`, and anything else (stickers, photos, voice, ...)
gets a short note that Tandem reads text only. Replies are sent as escaped HTML, split to fit
Telegram's message limit, while a "typing..." indicator runs.

`build_application` gives the bot with these handlers; bot/durable.py feeds it updates, each
inside a durable run, and every message sent goes through the run's journal (`Outbox`).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from telegram import Bot, Chat, InputFile, Message, Update
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest
from telegram.warnings import PTBDeprecationWarning

from bot.access import Access
from bot.config import TelegramSettings
from bot.journal import Immediate, Journal
from bot.messages import CORE_COMMANDS, SORRY, Incoming, Reply

logger = logging.getLogger(__name__)

TELEGRAM_MESSAGE_LIMIT = 4096
TYPING_RENEW_SECONDS = 4.0  # Telegram shows "typing..." for about 5 s per chat action.
FLOOD_RETRIES = 3

GREETING = (
    "Hi{name}! I'm Tandem, your personal assistant for your own calendar. "
    "Ask me in plain words about your day, your week, or when something is happening."
)
NOT_TEXT = (
    "Sorry, I can only read text messages, so I can't look at stickers, photos, voice notes, "
    "files or locations. Please type your question instead, for example "
    '"What\'s on my calendar tomorrow?"'
)
UNKNOWN_COMMAND = "I don't know that command. Send /help to see what I can do."
REFUSAL = (
    "Sorry, this is a private assistant. Your Telegram user id is {user_id}; the owner can add "
    "it to allowed_user_ids, or give you a pairing code to send as /pair CODE."
)

# Edited messages, channel posts and the like are left alone: only new messages are answered.
NEW_MESSAGE = filters.UpdateType.MESSAGE

# Whether a reply went out for the update being handled (reset for each by `guard`). When
# something fails after that — a full disk that lets a message go but not its journal entry —
# the user already has an answer, or the core's own apology, and gets no second apology.
_replied: ContextVar[bool] = ContextVar("tandem_replied", default=False)


class Core(Protocol):
    """What the front end needs from Tandem's core (`bot.core.Assistant`)."""

    access: Access

    async def handle(self, message: Incoming) -> Reply: ...

    def help_text(self) -> str: ...


def split_message(text: str, limit: int = TELEGRAM_MESSAGE_LIMIT) -> list[str]:
    """Split plain text into pieces that each still fit in `limit` once HTML-escaped.

    Pieces break after a newline where possible; a line too long on its own is cut hard.
    Joining the pieces gives back `text` exactly (newlines are kept at the end of pieces).
    """
    units = [
        part
        for line in text.splitlines(keepends=True)
        for part in (_pack(line, limit) if _sent_length(line) > limit else [line])
    ]
    return _pack(units, limit)


def _pack(units: Iterable[str], limit: int) -> list[str]:
    """Join units (lines, or the characters of one line) greedily into pieces within `limit`."""
    pieces: list[str] = []
    current, size = "", 0
    for unit in units:
        cost = _sent_length(unit)
        if current and size + cost > limit:
            pieces.append(current)
            current, size = "", 0
        current += unit
        size += cost
    if current:
        pieces.append(current)
    return pieces


def _sent_length(text: str) -> int:
    """Length as Telegram may count it: escaped, in UTF-16 code units (an emoji counts 2)."""
    return len(_escape(text).encode("utf-16-le")) // 2


def _escape(text: str) -> str:
    # Telegram's HTML needs only <, > and & escaped in text; quotes stay readable and short.
    return html.escape(text, quote=False)


@dataclass(frozen=True)
class Outbox:
    """Everything Tandem sends: each message is one journaled step, and flood control is obeyed.

    In a durable run a message already sent before a crash is not sent again on recovery.
    """

    bot: Bot
    journal: Journal

    async def text(self, chat_id: int, text: str) -> None:
        """Send plain text as one or more HTML messages, each within Telegram's limit."""
        pieces = [piece for piece in split_message(text) if piece.strip()]
        if not pieces:
            raise ValueError("the reply to send is empty")  # the error handler apologises
        _replied.set(True)
        for piece in pieces:
            await self.journal.step("send message", self._message, chat_id, _escape(piece))

    async def deliver(self, chat_id: int, reply: Reply) -> None:
        """A reply: its text, then its voice note as a voice bubble (OGG/Opus with duration)."""
        if not (reply.voice and reply.voice_only):
            await self.text(chat_id, reply.text)
        if reply.voice is not None:
            _replied.set(True)
            note = reply.voice
            await self.journal.step(
                "send voice", self._voice, chat_id, note.ogg_opus, note.duration
            )

    async def _message(self, chat_id: int, html_text: str) -> None:
        await _obeying_flood_control(
            self.bot.send_message, chat_id, html_text, parse_mode=ParseMode.HTML
        )

    async def _voice(self, chat_id: int, ogg_opus: bytes, duration: float) -> None:
        with contextlib.suppress(TelegramError):
            await self.bot.send_chat_action(chat_id, ChatAction.UPLOAD_VOICE)
        voice = InputFile(ogg_opus, filename="reply.ogg")
        try:
            await _obeying_flood_control(
                self.bot.send_voice, chat_id, voice, duration=max(1, round(duration))
            )
        except TelegramError as exc:  # the text already went out: that is the answer
            logger.warning("Telegram did not take the voice note: %s", exc)


async def _obeying_flood_control(
    send: Callable[..., Awaitable[object]], *args: Any, **kw: Any
) -> None:
    """Send, waiting as long as Telegram's flood control asks (RetryAfter), up to three times."""
    for _ in range(FLOOD_RETRIES):
        try:
            await send(*args, **kw)
            return
        except RetryAfter as exc:
            seconds = retry_seconds(exc)
            logger.warning("Telegram flood control: waiting %.0f s before sending again", seconds)
            await asyncio.sleep(seconds)
    await send(*args, **kw)


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB 22 warns that `retry_after` becomes a timedelta one day; both are read here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


def _addressed(message: Message, bot: Bot) -> bool:
    """In a group: a command, a mention of Tandem, or a reply to one of its messages."""
    text = message.text or ""
    replied = message.reply_to_message
    return (
        text.startswith("/")
        or f"@{bot.username}".lower() in text.lower()
        or (
            replied is not None and replied.from_user is not None and replied.from_user.id == bot.id
        )
    )


async def _keep_typing(chat: Chat) -> None:
    while True:
        with contextlib.suppress(TelegramError):
            await chat.send_action(ChatAction.TYPING)
        await asyncio.sleep(TYPING_RENEW_SECONDS)


@contextlib.asynccontextmanager
async def _typing(chat: Chat) -> AsyncIterator[None]:
    """Show "typing..." in `chat`, renewed until the block ends."""
    task = asyncio.create_task(_keep_typing(chat))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class _Handlers:
    """The callbacks, sharing the core and the settings."""

    def __init__(self, core: Core, outbox: Outbox) -> None:
        self.core = core
        self.outbox = outbox

    async def guard(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Runs first for every update. Groups not allowed, group talk not addressed to Tandem,
        and strangers stop here: a stranger is told their id (now and then) and may pair."""
        _replied.set(False)
        message, user, access = update.message, update.effective_user, self.core.access
        if message is None or user is None:
            raise ApplicationHandlerStop
        if message.chat.type != ChatType.PRIVATE and not (
            access.allows_group(message.chat_id) and _addressed(message, context.bot)
        ):
            raise ApplicationHandlerStop
        if access.allows(user.id):
            return
        command, _, code = (message.text or "").partition(" ")
        if command.split("@")[0] == "/pair" and code.strip():
            pairing = access.pair(user.id, code)
            logger.info("Pairing for Telegram user id %s: %s", user.id, pairing.paired)
            if pairing.message is not None:
                await self.outbox.text(message.chat_id, pairing.message)
        elif access.should_tell(user.id):
            logger.info("Refused a message from Telegram user id %s", user.id)
            await self.outbox.text(message.chat_id, REFUSAL.format(user_id=user.id))
        raise ApplicationHandlerStop

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.message is None:
            return
        user = update.effective_user
        name = f" {user.first_name}" if user is not None and user.first_name else ""
        text = f"{GREETING.format(name=name)}\n\n{self.core.help_text()}"
        await self.outbox.text(update.message.chat_id, text)

    async def show_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.message is not None:
            await self.outbox.text(update.message.chat_id, self.core.help_text())

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.message, update.effective_user
        if message is None or message.text is None or user is None:
            return
        incoming = Incoming(
            chat_id=message.chat_id,
            user_id=user.id,
            text=message.text.replace(f"@{context.bot.username}", "").strip(),
            language=user.language_code,
            group=message.chat.type != ChatType.PRIVATE,
        )
        async with _typing(message.chat):
            reply = await self.core.handle(incoming)
        await self.outbox.deliver(message.chat_id, reply)

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.message is not None:
            await self.outbox.text(update.message.chat_id, UNKNOWN_COMMAND)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the failure (without the message's content) and apologise in the chat, if any,
        unless a reply already went out for this update."""
        update_id = update.update_id if isinstance(update, Update) else None
        logger.error("Handling Telegram update %s failed", update_id, exc_info=context.error)
        if _replied.get():
            return
        if isinstance(update, Update) and update.effective_chat is not None:
            with contextlib.suppress(TelegramError):
                await self.outbox.text(update.effective_chat.id, SORRY)

    async def not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.message is not None:
            await self.outbox.text(update.message.chat_id, NOT_TEXT)


def build_application(
    core: Core,
    settings: TelegramSettings,
    token: str,
    *,
    journal: Journal | None = None,
    request: BaseRequest | None = None,
) -> Application:
    """The Telegram bot with Tandem's handlers. Updates reach it through `process_update`
    (bot/durable.py feeds it); `request` replaces the HTTP layer (tests use a fake)."""
    builder = (
        Application.builder()
        .token(token)
        .base_url(settings.base_url)
        .base_file_url(settings.base_file_url)
        .concurrent_updates(True)  # one slow answer must not hold up other chats
    )
    if request is not None:
        builder = builder.request(request)
    application = builder.build()

    handlers = _Handlers(core, Outbox(application.bot, journal or Immediate()))
    application.add_handler(TypeHandler(Update, handlers.guard), group=-1)
    application.add_handler(CommandHandler("start", handlers.start, filters=NEW_MESSAGE))
    application.add_handler(CommandHandler("help", handlers.show_help, filters=NEW_MESSAGE))
    # The core's own commands (/voice, /say) work the same in every front end.
    application.add_handler(CommandHandler(CORE_COMMANDS, handlers.text, filters=NEW_MESSAGE))
    application.add_handler(MessageHandler(NEW_MESSAGE & filters.COMMAND, handlers.unknown_command))
    application.add_handler(MessageHandler(NEW_MESSAGE & filters.TEXT, handlers.text))
    application.add_handler(MessageHandler(NEW_MESSAGE, handlers.not_text))
    application.add_error_handler(handlers.on_error)
    return application
