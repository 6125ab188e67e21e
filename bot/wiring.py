"""The one place Tandem is put together: Claude, Open-Meteo, the speaker, the listener, the
calendars, the stores, the engine and the command table, from a config. Every front end, the eval
and the tests build Tandem here; each part can be handed in instead (the eval's clock and HTTP
session, a test's calendar)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot import telemetry
from bot.calendars import MergedCalendar, open_calendars
from bot.commands import COMMANDS
from bot.config import ConfigError, LlmSettings, LoadedConfig
from bot.core import Assistant
from bot.engine.journal import Immediate, Journal, step_threads
from bot.engine.modes import Engine
from bot.hearing import open_listener
from bot.store import Stores, open_stores, shared_database
from bot.store.access import Access
from bot.tools.context import ToolContext
from bot.voice import Voice
from integrations.calendar import CalendarSource
from integrations.listen import Listener
from integrations.llm import Claude
from integrations.speech import Speaker
from integrations.weather import OpenMeteo

if TYPE_CHECKING:
    import requests

NO_CALENDAR_YET = (
    "You're paired, but no calendar is set up for you yet: ask the owner to add you under "
    "'people:' in Tandem's config file."
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def open_llm(
    settings: LlmSettings,
    api_key: str | None,
    max_retries: int | None = None,
    base_url: str | None = None,
) -> Claude | None:
    """Claude as `llm:` configures it, or None without a key."""
    if not api_key:
        return None
    retries = settings.max_retries if max_retries is None else max_retries
    return Claude(
        api_key, **settings.client_options() | {"max_retries": retries}, base_url=base_url
    )


def open_weather(
    config: LoadedConfig, clock: Callable[[], datetime], session: requests.Session | None = None
) -> OpenMeteo:
    """Open-Meteo as `weather:` configures it; the clock decides which days have a forecast."""
    settings = config.settings.weather
    return OpenMeteo(
        forecast_url=settings.forecast_url,
        geocoding_url=settings.geocoding_url,
        units=settings.units,
        language=config.settings.user.language,
        timeout=settings.timeout_seconds,
        cache_minutes=settings.cache_minutes,
        session=session,
        clock=clock,
    )


def open_speaker(config: LoadedConfig) -> Speaker:
    """The speaker for the configured voice; an unknown voice is a config error, not silence."""
    voice = config.settings.voice
    speaker = Speaker(voice.default_voice, voice.rate)
    if problem := speaker.validate_voice(voice.default_voice):
        raise ConfigError(config.path, [f"voice.default_voice: {problem}"])
    return speaker


@dataclass
class People:
    """The tools' view of each person: their settings and their calendars, no one else's.

    People listed under `people:` have their own; someone who only paired has none until the
    owner lists them; everyone else who reaches the core is the owner.
    """

    config: LoadedConfig
    owner: ToolContext
    data_dir: Path  # where each person's calendars keep their expansions
    _contexts: dict[int, ToolContext] = field(default_factory=dict)

    def context_for(self, user_id: int, access: Access) -> ToolContext:
        if user_id not in self._contexts:
            settings = self.config.settings
            person = next((p for p in settings.people if p.telegram_id == user_id), None)
            if person is not None:
                calendar: CalendarSource = open_calendars(
                    self.config, person.calendars, self.data_dir
                )
                user = person.user
            elif access.paired_only(user_id):
                calendar, user = MergedCalendar([], NO_CALENDAR_YET), settings.user
            else:
                return self.owner
            self._contexts[user_id] = replace(self.owner, user=user, calendar=calendar)
        return self._contexts[user_id]


def build(
    config: LoadedConfig,
    api_key: str | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    journal: Journal | None = None,
    data_dir: Path | None = None,
    database: str | None = None,
    session: requests.Session | None = None,
    llm: Claude | None = None,
    calendar: CalendarSource | None = None,
    weather: OpenMeteo | None = None,
    speaker: Speaker | None = None,
    listener: Listener | None = None,
) -> Assistant:
    """Tandem from its config: each part not handed in is built as the config says.

    The stores are on the shared database when one is configured (`database` overrides the
    config), else in `data_dir` (default: the config's data folder), which a `data_dir` handed
    in always is; `session` is Open-Meteo's HTTP session.
    """
    settings = config.settings
    telemetry.setup_tracing(settings.telemetry)
    journal = journal or Immediate()
    step_threads(settings.durable.runs_per_worker)
    shared = None if data_dir else shared_database(config, database)
    stores: Stores = open_stores(data_dir or config.data_dir, settings, shared)
    owner = ToolContext(
        settings.user,
        settings.search,
        calendar if calendar is not None else open_calendars(config, data_dir=data_dir),
        weather or open_weather(config, clock, session),
        clock,
    )
    llm = llm or open_llm(settings.llm, api_key)
    voice = Voice(settings.voice, speaker or open_speaker(config), journal)
    return Assistant(
        settings,
        stores,
        People(config, owner, data_dir or config.data_dir),
        Engine(settings, llm, journal),
        voice,
        {command.name: command for command in COMMANDS},
        journal,
        listener or open_listener(config),
    )
