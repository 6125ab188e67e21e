"""Voice messages to questions: the listener, primed with the words Tandem needs to hear.

Whisper favours words it was shown in its prompt, spelled the way they were shown. First go the
words the user's rules listen for ("rain", "forecast": a small model otherwise heard "will it
rain" as "we'll trade" on some processors), then the titles and places of the user's events
within the search horizon ("Lunch with Priya", "Regent's Park"): a question about them comes back
spelled as the calendar spells it, and the rules and the calendar search find it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from bot.config import LoadedConfig, Rule
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


async def hear(
    listener: Listener, audio: bytes, context: ToolContext, rules: Sequence[Rule] = ()
) -> str:
    """What a recording says, primed with the rules' words and `context`'s calendar;
    ListenError if nothing usable."""
    return await listener.transcribe(audio, await run_action(hints_for, context, rules))


def hints_for(context: ToolContext, rules: Sequence[Rule]) -> list[str]:
    """What the listener is primed with: the rules' words first, then the calendar's."""
    return [*rule_words(rules), *calendar_words(context)]


def rule_words(rules: Sequence[Rule]) -> list[str]:
    """The words and phrases the rules are triggered by, each once, in the config's order."""
    triggers = [rule.when for rule in rules if rule.when is not None]
    return list(dict.fromkeys(w for when in triggers for w in [*when.keywords, *when.phrases]))


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
