"""Tandem in Telegram: a thin front end that turns chat messages into calls of the core.

Only the user ids listed under `telegram.allowed_user_ids` are served; anyone else is told their
numeric id (so the owner can add it) and nothing reaches the core. Every command in the command
table (bot/commands.py) gets a handler and a line in Telegram's command menu; `/start` greets by
name and `/help` shows `core.help_text()`, the others and all text go to `core.handle`. Voice
messages, audio files and video notes are downloaded, heard by `core.hear` and then handled as if
typed. A photo or file with a caption has the caption answered (saying the attachment was not
looked at); anything else (stickers, photos, ...) gets a short note that Tandem reads text and
listens to voice. Replies go out through the `Outbox` while a "typing..." indicator runs.

`build_application` gives the bot with these handlers; bot/telegram/server.py feeds it updates,
each inside a durable run, and every message sent goes through the run's journal.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace
from typing import Protocol

from telegram import Bot, BotCommand, Message, Update, User
from telegram.constants import ChatAction, ChatType
from telegram.error import Forbidden, TelegramError
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

from bot.commands import COMMANDS, GREETING
from bot.config import TelegramSettings
from bot.engine.journal import Immediate, Journal
from bot.messages import SORRY, UNKNOWN_COMMAND, Incoming, Reply
from bot.store.access import Access
from bot.telegram.arrivals import Arrivals
from bot.telegram.outbox import Outbox, replied
from integrations.listen import ListenError

logger = logging.getLogger(__name__)

NOT_TEXT = (
    "Sorry, I read text and listen to voice messages, but I can't look at stickers, photos, "
    "files or locations. Please type or say your question instead, for example "
    '"What\'s on my calendar tomorrow?"'
)
CAPTION_ONLY = "(I answered the words with your attachment: I can't look at photos or files.)"
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # the Bot API's getFile serves files up to 20 MB
TOO_BIG = (
    "That recording is {megabytes:.0f} MB; I can take up to 20 MB. Could you send a shorter one?"
)
# A voice message, an audio file (as audio or as a document) or a round video note.
RECORDING = filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE | filters.Document.AUDIO
REFUSAL = (
    "Sorry, this is a private assistant. Your Telegram user id is {user_id}; the owner can add "
    "it to allowed_user_ids, or give you a pairing code to send as /pair CODE."
)

# Edited messages, channel posts and the like are left alone: only new messages are answered.
NEW_MESSAGE = filters.UpdateType.MESSAGE


class Core(Protocol):
    """What the front end needs from Tandem's core (`bot.core.Assistant`)."""

    access: Access

    async def handle(self, message: Incoming) -> Reply: ...

    async def add_voice(self, reply: Reply) -> Reply: ...

    async def hear(self, audio: bytes, user_id: int) -> str: ...

    def help_text(self) -> str: ...


def _addressed(message: Message, bot: Bot) -> bool:
    """In a group: a command (not one for another bot: /help@other_bot), a mention of Tandem,
    or a reply to one of its messages."""
    text = message.text or ""
    replied = message.reply_to_message
    _, at, addressee = text.split(maxsplit=1)[0].partition("@") if text else ("", "", "")
    return (
        (text.startswith("/") and (not at or addressee.lower() == (bot.username or "").lower()))
        or f"@{bot.username}".lower() in text.lower()
        or (
            replied is not None and replied.from_user is not None and replied.from_user.id == bot.id
        )
    )


def _incoming(message: Message, user: User, text: str, heard: str | None = None) -> Incoming:
    return Incoming(
        chat_id=message.chat_id,
        user_id=user.id,
        text=text,
        language=user.language_code,
        group=message.chat.type != ChatType.PRIVATE,
        heard=heard,
    )


class _Handlers:
    """The callbacks, sharing the core and the settings."""

    def __init__(self, core: Core, outbox: Outbox, arrivals: Arrivals) -> None:
        self.core = core
        self.outbox = outbox
        self.arrivals = arrivals

    async def guard(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Runs first for every update. Groups not allowed, group talk not addressed to Tandem,
        and strangers stop here: a stranger is told their id (now and then) and may pair."""
        replied.set(False)
        message, user, access = update.message, update.effective_user, self.core.access
        if message is None or user is None:
            raise ApplicationHandlerStop
        self.arrivals.noted(message.chat_id, message.message_id)
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
        async with self.outbox.showing(message.chat_id, ChatAction.TYPING):
            text = message.text.replace(f"@{context.bot.username}", "").strip()
            reply = await self.core.handle(_incoming(message, user, text))
        await self._deliver(message, reply)

    async def recording(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A voice message or audio file: transcribed, then answered as if it had been typed."""
        message, user = update.message, update.effective_user
        if message is None or user is None:
            return
        async with self.outbox.showing(message.chat_id, ChatAction.TYPING):
            try:
                heard = await self.outbox.journal.step("listen", self._listen, message, user.id)
            except ListenError as exc:
                await self.outbox.text(message.chat_id, str(exc))
                return
            reply = await self.core.handle(_incoming(message, user, heard, heard=heard))
        await self._deliver(message, reply)

    async def _deliver(self, message: Message, reply: Reply) -> None:
        """Send the reply (its voice note after the text); in a burst, say which question it
        answers (or refuses) by replying to that message."""
        quoted = reply.outcome == "refused" or self.arrivals.wrote_since(
            message.chat_id, message.message_id
        )
        reply_to = message.message_id if quoted else None
        await self.outbox.deliver(message.chat_id, reply, self.core.add_voice, reply_to)

    async def _listen(self, message: Message, user_id: int) -> str:
        attachment = message.voice or message.audio or message.video_note or message.document
        assert attachment is not None  # RECORDING lets only these through
        size = attachment.file_size or 0
        if size > DOWNLOAD_LIMIT:
            raise ListenError(TOO_BIG.format(megabytes=size / 1024 / 1024))
        audio = await (await attachment.get_file()).download_as_bytearray()
        return await self.core.hear(bytes(audio), user_id)

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.message is not None:
            await self.outbox.text(update.message.chat_id, UNKNOWN_COMMAND)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the failure (without the message's content) and apologise in the chat, if any,
        unless a reply already went out for this update."""
        update_id = update.update_id if isinstance(update, Update) else None
        error = context.error
        if isinstance(error, Forbidden):  # blocked, or removed from the group: nothing to add
            logger.warning("Telegram update %s: the chat refuses Tandem (%s)", update_id, error)
            return
        if isinstance(error, TelegramError):  # Telegram's own answer says it all: no traceback
            logger.error("Handling Telegram update %s failed: %s", update_id, error)
        else:
            logger.error("Handling Telegram update %s failed", update_id, exc_info=error)
        if replied.get():
            return
        if isinstance(update, Update) and update.effective_chat is not None:
            with contextlib.suppress(TelegramError):
                await self.outbox.text(update.effective_chat.id, SORRY)

    async def not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.message, update.effective_user
        if message is None:
            return
        if not message.caption or user is None:
            await self.outbox.text(message.chat_id, NOT_TEXT)
            return
        # A photo or file sent with a question: the question is answered, and the reply says
        # the attachment itself was not looked at.
        async with self.outbox.showing(message.chat_id, ChatAction.TYPING):
            caption = message.caption.replace(f"@{context.bot.username}", "").strip()
            reply = await self.core.handle(_incoming(message, user, caption))
        await self._deliver(message, replace(reply, text=f"{reply.text}\n\n{CAPTION_ONLY}"))


def build_application(
    core: Core,
    settings: TelegramSettings,
    token: str,
    *,
    journal: Journal | None = None,
    request: BaseRequest | None = None,
    arrivals: Arrivals | None = None,
) -> Application:
    """The Telegram bot with Tandem's handlers. Updates reach it through `process_update`
    (bot/telegram/server.py feeds it); `request` replaces the HTTP layer (tests use a fake)."""
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

    outbox = Outbox(application.bot, journal or Immediate())
    handlers = _Handlers(core, outbox, arrivals or Arrivals())
    application.add_handler(TypeHandler(Update, handlers.guard), group=-1)
    # /start greets by the Telegram name; every other command is the core's, as in every front end.
    own = {"start": handlers.start, "help": handlers.show_help}
    for command in COMMANDS:
        callback = own.get(command.name, handlers.text)
        application.add_handler(CommandHandler(command.name, callback, filters=NEW_MESSAGE))
    application.add_handler(MessageHandler(NEW_MESSAGE & filters.COMMAND, handlers.unknown_command))
    application.add_handler(MessageHandler(NEW_MESSAGE & filters.TEXT, handlers.text))
    application.add_handler(MessageHandler(NEW_MESSAGE & RECORDING, handlers.recording))
    # Service messages (a pinned message, a member joining) are not said to Tandem.
    application.add_handler(
        MessageHandler(NEW_MESSAGE & ~filters.StatusUpdate.ALL, handlers.not_text)
    )
    application.add_error_handler(handlers.on_error)
    return application


async def publish_commands(bot: Bot) -> None:
    """Show the command table as Telegram's command menu (the "/" button)."""
    menu = [BotCommand(command.name, command.help) for command in COMMANDS]
    try:
        await bot.set_my_commands(menu)
    except TelegramError as exc:  # the commands still work; only the menu is missing
        logger.warning("Telegram did not take the command menu: %s", exc)
