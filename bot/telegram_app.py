"""Tandem in Telegram: a thin front end that turns chat messages into calls of the core.

Only the user ids listed under `telegram.allowed_user_ids` are served; anyone else is told their
numeric id (so the owner can add it) and nothing reaches the core. Text messages go to
`core.handle`, `/help` shows `core.help_text()`, and anything else (stickers, photos, voice, ...)
gets a short note that Tandem reads text only. Replies are sent as escaped HTML, split to fit
Telegram's message limit, while a "typing..." indicator runs.

Start it with `run(core, settings.telegram, token)`; `build_application` gives the same bot
without polling, for tests or another runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Protocol

from telegram import Bot, Chat, InputFile, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import TelegramError
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

from bot.config import TelegramSettings
from bot.messages import CORE_COMMANDS, SORRY, Incoming, Reply
from bot.schedule import Scheduler, SlotLedger

logger = logging.getLogger(__name__)

TELEGRAM_MESSAGE_LIMIT = 4096
TYPING_RENEW_SECONDS = 4.0  # Telegram shows "typing..." for about 5 s per chat action.

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
    "Sorry, this is a private assistant. Your Telegram user id is {user_id}; "
    "the owner can add it to allowed_user_ids."
)

# Edited messages, channel posts and the like are left alone: only new messages are answered.
NEW_MESSAGE = filters.UpdateType.MESSAGE


class Core(Protocol):
    """What the front end needs from Tandem's core (`bot.core.Assistant`)."""

    async def handle(self, message: Incoming) -> Reply: ...

    def help_text(self) -> str: ...

    def scheduler(
        self, ledger: SlotLedger, chat_id: int, send: Callable[[Reply], Awaitable[None]]
    ) -> Scheduler: ...


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


async def _send_text(bot: Bot, chat_id: int, text: str) -> None:
    """Send plain text as one or more HTML messages, each within Telegram's limit."""
    pieces = [piece for piece in split_message(text) if piece.strip()]
    if not pieces:
        raise ValueError("the reply to send is empty")  # the error handler apologises
    for piece in pieces:
        await bot.send_message(chat_id, _escape(piece), parse_mode=ParseMode.HTML)


async def deliver(bot: Bot, chat_id: int, reply: Reply) -> None:
    """Send a reply: its text, then its voice note as a voice bubble (OGG/Opus with duration)."""
    if not (reply.voice and reply.voice_only):
        await _send_text(bot, chat_id, reply.text)
    if reply.voice is not None:
        await bot.send_chat_action(chat_id, ChatAction.UPLOAD_VOICE)
        await bot.send_voice(
            chat_id,
            InputFile(reply.voice.ogg_opus, filename="reply.ogg"),
            duration=max(1, round(reply.voice.duration)),
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

    def __init__(self, core: Core, settings: TelegramSettings) -> None:
        self.core = core
        self.allowed = frozenset(settings.allowed_user_ids)

    async def refuse_strangers(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Runs first for every update: anything not from an allowed user stops here."""
        user = update.effective_user
        if user is not None and user.id in self.allowed:
            return
        if user is not None and update.message is not None:
            logger.info("Refused a message from Telegram user id %s", user.id)
            await _send_text(context.bot, update.message.chat_id, REFUSAL.format(user_id=user.id))
        raise ApplicationHandlerStop

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.message is None:
            return
        user = update.effective_user
        name = f" {user.first_name}" if user is not None and user.first_name else ""
        text = f"{GREETING.format(name=name)}\n\n{self.core.help_text()}"
        await _send_text(context.bot, update.message.chat_id, text)

    async def show_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.message is not None:
            await _send_text(context.bot, update.message.chat_id, self.core.help_text())

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.message, update.effective_user
        if message is None or message.text is None or user is None:
            return
        incoming = Incoming(
            chat_id=message.chat_id,
            user_id=user.id,
            text=message.text,
            language=user.language_code,
        )
        async with _typing(message.chat):
            reply = await self.core.handle(incoming)
        await deliver(context.bot, message.chat_id, reply)

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.message is not None:
            await _send_text(context.bot, update.message.chat_id, UNKNOWN_COMMAND)

    async def not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.message is not None:
            await _send_text(context.bot, update.message.chat_id, NOT_TEXT)


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure (without the message's content) and apologise in the chat, if any."""
    update_id = update.update_id if isinstance(update, Update) else None
    logger.error("Handling Telegram update %s failed", update_id, exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        with contextlib.suppress(TelegramError):
            await update.effective_chat.send_message(SORRY)


def build_application(
    core: Core,
    settings: TelegramSettings,
    token: str,
    *,
    request: BaseRequest | None = None,
) -> Application:
    """The Telegram bot, ready to poll. `request` replaces the HTTP layer (tests use a fake)."""
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

    handlers = _Handlers(core, settings)
    application.add_handler(TypeHandler(Update, handlers.refuse_strangers), group=-1)
    application.add_handler(CommandHandler("start", handlers.start, filters=NEW_MESSAGE))
    application.add_handler(CommandHandler("help", handlers.show_help, filters=NEW_MESSAGE))
    # The core's own commands (/voice, /say) work the same in every front end.
    application.add_handler(CommandHandler(CORE_COMMANDS, handlers.text, filters=NEW_MESSAGE))
    application.add_handler(MessageHandler(NEW_MESSAGE & filters.COMMAND, handlers.unknown_command))
    application.add_handler(MessageHandler(NEW_MESSAGE & filters.TEXT, handlers.text))
    application.add_handler(MessageHandler(NEW_MESSAGE, handlers.not_text))
    application.add_error_handler(_on_error)
    return application


def run_scheduled_rules(
    application: Application, core: Core, ledger: SlotLedger, chat_id: int
) -> None:
    """Run the scheduled rules while the bot runs, each answer sent to `chat_id`."""

    async def send(reply: Reply) -> None:
        await deliver(application.bot, chat_id, reply)

    scheduler = core.scheduler(ledger, chat_id, send)
    running: list[asyncio.Task[None]] = []

    async def start(_: Application) -> None:
        running.append(asyncio.create_task(scheduler.run_forever()))

    async def stop(_: Application) -> None:
        for task in running:
            task.cancel()

    application.post_init = start
    application.post_stop = stop


def run(
    core: Core,
    settings: TelegramSettings,
    token: str,
    schedule: tuple[SlotLedger, int] | None = None,
) -> None:
    """Serve Tandem on Telegram by long polling until interrupted (Ctrl+C).

    `schedule` is where scheduled rules keep their ledger and which chat they send to.
    """
    # httpx logs every request URL at INFO, and Bot API URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    application = build_application(core, settings, token)
    if schedule is not None:
        run_scheduled_rules(application, core, *schedule)
    if settings.allowed_user_ids:
        logger.info(
            "Tandem is starting on Telegram for %d allowed user id(s)",
            len(settings.allowed_user_ids),
        )
    else:
        logger.warning(
            "telegram.allowed_user_ids is empty, so Tandem will refuse everyone. To allow "
            "yourself: send the bot any message, it replies with your numeric user id; put that "
            "id under telegram.allowed_user_ids in the config file and restart."
        )
    application.run_polling(allowed_updates=[Update.MESSAGE])
