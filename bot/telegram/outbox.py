"""Everything Tandem sends to Telegram: escaped HTML within the message limit, each message a
journaled step, Telegram's flood control obeyed."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import warnings
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import Bot, InputFile
from telegram.constants import ChatAction, ParseMode
from telegram.error import RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.engine.journal import Journal
from bot.messages import Reply

logger = logging.getLogger(__name__)

TELEGRAM_MESSAGE_LIMIT = 4096
FLOOD_RETRIES = 3

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
        replied.set(True)
        for piece in pieces:
            await self.journal.step("send message", self._message, chat_id, _escape(piece))

    async def deliver(self, chat_id: int, reply: Reply) -> None:
        """A reply: its text, then its voice note as a voice bubble (OGG/Opus with duration)."""
        if not (reply.voice and reply.voice_only):
            await self.text(chat_id, reply.text)
        if reply.voice is not None:
            replied.set(True)
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
