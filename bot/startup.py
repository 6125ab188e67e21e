"""What `tandem run` checks before serving, so a problem there is one clear sentence.

A rejected bot token, an unreachable Bot API, a data folder that is read-only or full: each
stops the start with a message saying what to do, never a traceback, never a secret (the
token is not repeated, and anything quoted from an error is redacted).
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING

from bot.redaction import redact
from bot.store.private import private_folder

if TYPE_CHECKING:
    from telegram.ext import Application

PROBE_BYTES = 64 * 1024  # a few SQLite pages: a folder that cannot take these is full
FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


class CannotStart(Exception):
    """Tandem cannot serve; the message says why and what to do."""


def check_data_folder(folder: Path) -> None:
    """Raise CannotStart unless `folder` can be created and written to."""
    probe = folder / ".tandem-write-check"
    try:
        private_folder(folder)
        with probe.open("wb") as out:
            out.write(bytes(PROBE_BYTES))
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise CannotStart(folder_problem(folder, exc)) from None
    finally:
        with contextlib.suppress(OSError):  # a "folder" that is a file has no probe to remove
            probe.unlink(missing_ok=True)


def folder_problem(folder: Path, error: OSError) -> str:
    if error.errno in FULL:
        return (
            f"the data folder {folder} is full (no room to write there). Free some space, or "
            "point TANDEM_DATA_DIR (or memory.data_dir in the config) at another folder."
        )
    if error.errno in READ_ONLY:
        return (
            f"the data folder {folder} is read-only or not writable by this user. Make it "
            "writable, or point TANDEM_DATA_DIR (or memory.data_dir) at another folder."
        )
    return f"the data folder {folder} cannot be written to: {error.strerror or error}."


async def connect(application: Application, base_url: str) -> None:
    """Meet the bot (getMe); raise CannotStart if Telegram refuses the token or is not there.
    `base_url` is the configured one: the bot's own holds the token."""
    # Imported here: `tandem ask` and `tandem chat` check the data folder without Telegram (0.1 s).
    from telegram.error import InvalidToken, NetworkError

    try:
        await application.initialize()
    except InvalidToken:
        raise CannotStart(
            "Telegram rejected the bot token in TELEGRAM_BOT_TOKEN. Copy it again from "
            "@BotFather (/mybots → your bot → API Token)."
        ) from None
    except NetworkError as exc:
        raise CannotStart(
            f"the Telegram Bot API at {base_url.removesuffix('/bot')} is not answering "
            f"({redact(str(exc))}). Check the network, or telegram.base_url in the config."
        ) from None
