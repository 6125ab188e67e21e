"""Keep secrets out of logs and stored traces.

Two kinds of text are replaced with `[redacted]`:
- the configured secret values (TELEGRAM_BOT_TOKEN, ANTHROPIC_API_KEY, the Google OAuth tokens),
  wherever they appear, even inside a URL;
- anything shaped like a secret, configured or not: a Telegram bot token (`123456:ABC...`), an
  Anthropic key (`sk-ant-...`), a Google access token (`ya29....`) or refresh token (`1//...`),
  and the credential after `Bearer` in an Authorization header.

`install_redaction` puts a `RedactSecrets` filter on every handler of the root logger, so records
from every logger (Tandem's, httpx's, python-telegram-bot's) are cleaned before any handler writes
them. `redact` cleans a value (a trace step's details) before it is stored.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.config import LoadedConfig, Secrets

REDACTED = "[redacted]"
# Shorter configured values are ignored: replacing "abc" everywhere would garble ordinary text.
MIN_SECRET_LENGTH = 8
# A logged message is cut here (its traceback at four times this): an error that quotes what a
# server sent (a 50 MB error page) must not fill the log.
MAX_LOGGED_CHARS = 4000

SECRET_SHAPES = re.compile(
    r"(?<![0-9])\d{6,}:[A-Za-z0-9_-]{30,}"  # a Telegram bot token, also in .../bot<token>/getMe
    r"|(?<![A-Za-z0-9])sk-ant-[A-Za-z0-9_-]+"  # an Anthropic API key (not "risk-ant-...")
    r"|(?<![A-Za-z0-9])ya29\.[\w-]+"  # a Google OAuth access token
    r"|\b1//[\w-]{8,}"  # a Google OAuth refresh token
)
# The credential after "Bearer": 16 or more token characters with a digit, so that "the bearer
# of good news" stays as it is.
BEARER = re.compile(r"(\bbearer\s+)(?=[\w.~+/=-]*\d)[\w.~+/=-]{16,}", re.IGNORECASE)


class Redactor:
    """Replaces configured secret values and secret-shaped text with `[redacted]`."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        values = {value for value in secrets if value and len(value) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another is replaced whole.
        ordered = sorted(values, key=len, reverse=True)
        self._known = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def text(self, text: str) -> str:
        """`text` with every secret replaced."""
        if self._known is not None:
            text = self._known.sub(REDACTED, text)
        text = SECRET_SHAPES.sub(REDACTED, text)
        return BEARER.sub(rf"\g<1>{REDACTED}", text)

    def value(self, value: object) -> object:
        """A copy of `value` with every string in it redacted: dicts (keys too), lists, tuples."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(key): self.value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.value(item) for item in value)
        return value


class RedactSecrets(logging.Filter):
    """A handler filter that redacts a record's message, its arguments and its traceback, and
    cuts them to a bounded length.

    The record is rewritten in place: `msg` becomes the redacted, fully formatted message and
    `args` is emptied; a traceback is formatted once, redacted into `exc_text`, and `exc_info`
    is dropped so no later formatter can print the raw exception again. The record is never
    dropped.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep what there is, still redacted
            message = f"{record.msg} {record.args}"
        record.msg, record.args = _cut(self.redactor.text(message)), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_info = None
        if record.exc_text:
            record.exc_text = _cut(self.redactor.text(record.exc_text), MAX_LOGGED_CHARS * 4)
        if record.stack_info:
            record.stack_info = self.redactor.text(record.stack_info)
        return True


def _cut(text: str, limit: int = MAX_LOGGED_CHARS) -> str:
    return (
        text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit:,} more characters)"
    )


_active = Redactor()


def install_redaction(secrets: Iterable[str | None]) -> RedactSecrets:
    """Redact `secrets` and secret-shaped text in everything the root logger's handlers write.

    Call it after logging is configured (after `logging.basicConfig`): the filter goes on the
    handlers present then. Calling it again replaces the earlier filter. The same secrets are
    also used by `redact` from then on.
    """
    global _active
    _active = Redactor(secrets)
    installed = RedactSecrets(_active)
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactSecrets)]:
            handler.removeFilter(old)
        handler.addFilter(installed)
    return installed


def redact(value: object) -> object:
    """`value` with every secret replaced, recursively through dicts, lists and tuples."""
    return _active.value(value)


def known_secrets(secrets: Secrets, config: LoadedConfig | None = None) -> list[str]:
    """The secret values Tandem knows: its keys, and the saved Google sign-ins' tokens."""
    found = [secrets.telegram_bot_token or "", secrets.anthropic_api_key or ""]
    if config is not None:
        from bot.config import GoogleCalendar

        for entry in config.settings.calendars:
            if isinstance(entry, GoogleCalendar):
                found += _oauth_tokens(config.resolve(entry.token_file))
    return [value for value in found if value]


def _oauth_tokens(path: Path) -> list[str]:
    """The token, refresh token and client secret in a saved Google sign-in, if it is readable."""
    import json

    try:
        saved: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RuntimeError):
        return []
    if not isinstance(saved, dict):
        return []
    fields = ("token", "refresh_token", "client_secret")
    return [saved[name] for name in fields if isinstance(saved.get(name), str)]
