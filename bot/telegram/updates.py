"""Updates as Telegram sends them: fetched as JSON, read by python-telegram-bot one at a time.

python-telegram-bot's `get_updates` reads a whole batch at once and raises if any one update in
it does not fit its classes (a field a newer Bot API added or changed, a shape it does not know):
the batch is then never confirmed, fetched again and again, and every chat waits behind it. So
updates are fetched as JSON and stored as they came; each is read on its own when it is
answered, and one that cannot be read whole is read as its message's basics — who, where, when
and the text — so that its sender still gets a reply.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from typing import Any

from telegram import Bot, Update
from telegram.error import EndPointNotFound, InvalidToken
from telegram.warnings import PTBUserWarning

log = logging.getLogger(__name__)

# PTB suggests its own get_updates here, which is what reads a whole batch at once.
warnings.filterwarnings("ignore", "Please use 'Bot.getUpdates'", PTBUserWarning)

# What is read of a message whose whole python-telegram-bot cannot read.
MESSAGE_BASICS = ("message_id", "from", "sender_chat", "chat", "date", "text")
TOKEN_REFUSED = (
    "Telegram refuses the bot token: was it revoked in @BotFather? Put the new one in "
    "TELEGRAM_BOT_TOKEN and restart"
)
# Past the long poll's own wait, how long an answer may take to arrive.
READ_MARGIN_SECONDS = 10.0


async def fetch_updates(
    bot: Bot, offset: int | None, timeout: int, kinds: list[str]
) -> list[dict[str, Any]]:
    """The next updates after `offset` (confirming those before it), as Telegram's JSON;
    waits up to `timeout` seconds for one to come. The whole answer must arrive within the
    margin after that (the read timeout alone is per read: an answer dripping in a byte at a
    time would hold polling for as long as it lasts). TimeoutError past it."""
    arguments = {"offset": offset, "timeout": timeout, "allowed_updates": kinds}
    deadline = timeout + READ_MARGIN_SECONDS
    async with asyncio.timeout(deadline):
        return await _get_updates(bot, arguments, deadline)


async def _get_updates(
    bot: Bot, arguments: dict[str, Any], deadline: float
) -> list[dict[str, Any]]:
    try:
        result = await bot.do_api_request("getUpdates", api_kwargs=arguments, read_timeout=deadline)
    except EndPointNotFound:  # how PTB words Telegram's 401/404 once the bot has started
        raise InvalidToken(TOKEN_REFUSED) from None
    if not isinstance(result, list):
        raise ValueError(f"getUpdates answered {type(result).__name__}, not a list")
    return [u for u in result if isinstance(u, dict) and isinstance(u.get("update_id"), int)]


def read_update(data: dict[str, Any], bot: Bot) -> Update:
    """`data` as an Update; one that cannot be read whole, as its message's basics (or as an
    update with no message, which nothing answers, if even those cannot be read)."""
    try:
        return Update.de_json(data, bot)
    except Exception as exc:  # anything in an update PTB cannot read: its message is kept
        log.warning(
            "Could not read all of Telegram update %s (%s: %s); reading its basics only",
            data.get("update_id"),
            type(exc).__name__,
            exc,
        )
    basics = {
        kind: {key: value[key] for key in MESSAGE_BASICS if key in value}
        if isinstance(value, dict)
        else value
        for kind, value in data.items()
    }
    try:
        return Update.de_json(basics, bot)
    except Exception as exc:
        log.warning("Could not read Telegram update %s at all (%s)", data.get("update_id"), exc)
        return Update(int(data.get("update_id") or 0))
