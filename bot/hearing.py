"""Voice messages to questions: the listener, primed with the words of the user's own calendar.

Whisper spells names it was shown in its prompt the way they were shown, so the titles and places
of the user's events within the search horizon ("Lunch with Priya", "Regent's Park") go in as
hints: a question about them comes back spelled as the calendar spells it, and the rules and the
calendar search find it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.config import LoadedConfig
from bot.engine.journal import run_action
from bot.tools.context import ToolContext
from integrations.calendar import CalendarError
from integrations.listen import Listener

log = logging.getLogger(__name__)

RECENT = timedelta(days=7)  # "how was the book club?" names a past event


def open_listener(config: LoadedConfig) -> Listener:
    listen = config.settings.listen
    folder = listen.model_folder
    return Listener(
        str(config.resolve(folder)) if folder else listen.model,
        language=listen.language or config.settings.user.language,
        max_seconds=listen.max_seconds,
        workers=listen.workers,
    )


async def hear(listener: Listener, audio: bytes, context: ToolContext) -> str:
    """What a recording says, primed with `context`'s calendar; ListenError if nothing usable."""
    hints = await run_action(calendar_words, context)
    return await listener.transcribe(audio, hints)


def calendar_words(context: ToolContext) -> list[str]:
    """Titles and places of the user's events, nearest in time first, from a week ago to the
    search horizon."""
    now = context.now()
    try:
        events = context.calendar.events(
            now - RECENT, now + timedelta(days=context.search.horizon_days)
        )
    except CalendarError as exc:
        log.info("Listening without the calendar's words: %s", exc)
        return []
    upcoming = sorted(events, key=lambda event: abs(event.start - now))
    words: list[str] = []
    for event in upcoming:
        words.append(event.title)
        words.extend(part.strip() for part in event.location.split(",") if part.strip())
    return list(dict.fromkeys(words))
