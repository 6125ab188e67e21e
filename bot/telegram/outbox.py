"""Everything Tandem sends to Telegram: escaped HTML within the message limit, each message a
journaled step, Telegram's flood control obeyed."""

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
from typing import Any

from telegram import Bot, InputFile, ReplyParameters
from telegram.constants import ChatAction, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.warnings import PTBDeprecationWarning

from bot.engine.journal import Journal
from bot.messages import Reply

logger = logging.getLogger(__name__)

TELEGRAM_MESSAGE_LIMIT = 4096
ACTION_RENEW_SECONDS = 4.0  # Telegram shows "typing..." for about 5 s per chat action.
# Tries after the first: flood control's waits, a move to a supergroup, failures on the way.
SEND_RETRIES = 3
SEND_BACKOFF_SECONDS = 1.0  # then 2 and 4 s

# Whether a reply went out for the update being handled (reset for each by the handlers' guard).
# When something fails after that — a full disk that lets a message go but not its journal entry
# — the user already has an answer, or the core's own apology, and gets no second apology.
replied: ContextVar[bool] = ContextVar("tandem_replied", default=False)


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


async def as_it_is(reply: Reply) -> Reply:
    return reply


@dataclass(frozen=True)
class Outbox:
    """Everything Tandem sends: each message is one journaled step, and flood control is obeyed.

    In a durable run a message already sent before a crash is not sent again on recovery.
    """

    bot: Bot
    journal: Journal

    async def text(self, chat_id: int, text: str, reply_to: int | None = None) -> None:
        """Send plain text as one or more HTML messages, each within Telegram's limit; the
        first in reply to message `reply_to` (quoting it), if given."""
        pieces = [piece for piece in split_message(text) if piece.strip()]
        if not pieces:
            raise ValueError("the reply to send is empty")  # the error handler apologises
        replied.set(True)
        for number, piece in enumerate(pieces):
            quoted = reply_to if number == 0 else None
            await self.journal.step("send message", self._message, chat_id, _escape(piece), quoted)

    async def deliver(
        self,
        chat_id: int,
        reply: Reply,
        add_voice: Callable[[Reply], Awaitable[Reply]] = as_it_is,
        reply_to: int | None = None,
    ) -> None:
        """A reply: its text at once, then its voice note as a voice bubble (OGG/Opus with
        duration) once `add_voice` has made it, "sending a voice message..." shown meanwhile.
        Voice only: the text waits, and goes out only if the voice note cannot be made."""
        text_first = not reply.voice_only
        if text_first:
            await self.text(chat_id, reply.text, reply_to)
        async with self.showing(chat_id, ChatAction.UPLOAD_VOICE, reply.voice_language is not None):
            reply = await add_voice(reply)
            if reply.voice is not None:
                replied.set(True)
                note = reply.voice
                await self.journal.step(
                    "send voice", self._voice, chat_id, note.ogg_opus, note.duration
                )
                return
        if not text_first:
            await self.text(chat_id, reply.text, reply_to)

    @contextlib.asynccontextmanager
    async def showing(self, chat_id: int, action: str, shown: bool = True) -> AsyncIterator[None]:
        """Show `action` ("typing...") in the chat, renewed until the block ends."""
        task = asyncio.create_task(self._keep_showing(chat_id, action)) if shown else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _keep_showing(self, chat_id: int, action: str) -> None:
        while True:
            with contextlib.suppress(TelegramError):
                await self.bot.send_chat_action(chat_id, action)
            await asyncio.sleep(ACTION_RENEW_SECONDS)

    async def _message(self, chat_id: int, html_text: str, reply_to: int | None) -> None:
        # Sent even if the question was deleted meanwhile: the answer matters more than the quote.
        quoting = None
        if reply_to is not None:
            quoting = ReplyParameters(reply_to, allow_sending_without_reply=True)
        await _obeying_flood_control(
            self.bot.send_message,
            chat_id,
            html_text,
            parse_mode=ParseMode.HTML,
            reply_parameters=quoting,
        )

    async def _voice(self, chat_id: int, ogg_opus: bytes, duration: float) -> None:
        voice = InputFile(ogg_opus, filename="reply.ogg")
        try:
            await _obeying_flood_control(
                self.bot.send_voice, chat_id, voice, duration=max(1, round(duration))
            )
        except TelegramError as exc:  # the text already went out: that is the answer
            logger.warning("Telegram did not take the voice note: %s", exc)


async def _obeying_flood_control(
    send: Callable[..., Awaitable[object]], chat_id: int, *args: Any, **kw: Any
) -> None:
    """Send to `chat_id` as Telegram allows: waiting as long as its flood control asks
    (RetryAfter), after a group became a supergroup to its new id (ChatMigrated), and again
    after a failure on the way (a 5xx, a timeout, a dropped connection), waiting longer each
    time. What Telegram refuses outright (a chat that blocked Tandem, a bad request) is raised
    at once; so is the last failure once the tries are used up."""
    failures = 0
    while True:
        try:
            await send(chat_id, *args, **kw)
            return
        except RetryAfter as exc:
            failures += 1
            seconds = retry_seconds(exc)
            logger.warning("Telegram flood control: waiting %.0f s before sending again", seconds)
        except ChatMigrated as exc:
            failures += 1
            logger.info("Chat %s is now supergroup %s: sending there", chat_id, exc.new_chat_id)
            chat_id, seconds = int(exc.new_chat_id), 0.0
        except BadRequest:
            raise
        except NetworkError as exc:
            failures += 1
            seconds = SEND_BACKOFF_SECONDS * 2 ** (failures - 1)
            logger.warning("Could not send to Telegram (%s); trying again in %.0f s", exc, seconds)
        if failures > SEND_RETRIES:
            await send(chat_id, *args, **kw)
            return
        await asyncio.sleep(seconds)


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB 22 warns that `retry_after` becomes a timedelta one day; both are read here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
