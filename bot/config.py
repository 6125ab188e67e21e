"""The configuration file: its shape, its defaults, and errors a person can act on.

Secrets never live here: they come from the environment or a `.env` file (see `Secrets`).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml
from dotenv import load_dotenv
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.engine.journal import RUNS_AT_ONCE
from integrations.calendar import DOWNLOAD_SECONDS, MAX_DOWNLOAD_MB, MAX_OCCURRENCES_PER_EVENT
from integrations.llm import Effort, StepEffort

T = TypeVar("T")

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_DIR / "config" / "tandem.yaml"
EXAMPLE_CONFIG = PROJECT_DIR / "config" / "tandem.example.yaml"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UserSettings(Strict):
    name: str = "there"
    home: str = "London, United Kingdom"
    timezone: str = "UTC"
    clock: Literal["24h", "12h"] = "24h"
    language: str = "en"
    # How numeric dates are read ("3/1", "14.12."); auto: from the time zone's country.
    date_order: Literal["auto", "day-first", "month-first"] = "auto"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Europe", a folder
            hint = _did_you_mean(value, available_timezones())
            raise ValueError(f"unknown time zone {value!r}{hint}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def numeric_date_order(self) -> Literal["day-first", "month-first"]:
        from bot.understanding.times import date_order_for

        return date_order_for(self.timezone) if self.date_order == "auto" else self.date_order


class IcsCalendar(Strict):
    type: Literal["ics"]
    name: str = "calendar"
    path: str | None = None
    url: str | None = None
    refresh_minutes: int = Field(default=15, ge=0)
    max_download_mb: float = Field(default=MAX_DOWNLOAD_MB, gt=0)
    download_seconds: float = Field(default=DOWNLOAD_SECONDS, gt=0)

    @model_validator(mode="after")
    def _one_location(self) -> IcsCalendar:
        if (self.path is None) == (self.url is None):
            raise ValueError("give exactly one of 'path' (a local .ics file) or 'url'")
        if self.url is not None and not self.url.startswith(("https://", "http://", "webcal://")):
            raise ValueError("'url' must start with https:// or webcal://")
        return self


class GoogleCalendar(Strict):
    type: Literal["google"]
    name: str = "google"
    calendar_ids: list[str] = Field(default_factory=lambda: ["primary"], min_length=1)
    client_secret_file: str = "~/.config/tandem/google-client-secret.json"
    token_file: str = "~/.config/tandem/google-token.json"
    api_endpoint: str | None = None


CalendarSettings = Annotated[IcsCalendar | GoogleCalendar, Field(discriminator="type")]


class SearchSettings(Strict):
    horizon_days: int = Field(default=90, ge=1, le=730)
    max_results: int = Field(default=10, ge=1, le=100)
    max_occurrences_per_event: int = Field(default=MAX_OCCURRENCES_PER_EVENT, ge=1)


class UnderstandingSettings(Strict):
    """How the rules read a question: offline (bot/understanding) or, with a key, by Claude."""

    # One more model call a question (effort llm.effort.understanding), its reading validated;
    # anything unusable falls back to the offline reading. Off by default: see the README.
    claude: bool = False


class TelegramSettings(Strict):
    allowed_user_ids: list[int] = Field(default_factory=list)
    allowed_group_ids: list[int] = Field(default_factory=list)
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"


class LimitSettings(Strict):
    """Per person; reaching one gets a message saying when it resets."""

    max_message_chars: int = Field(default=4000, ge=1)
    messages_per_minute: int = Field(default=10, ge=1)
    daily_tokens: int = Field(default=200_000, ge=0)
    daily_cost_usd: float = Field(default=1.00, ge=0)


class WeatherSettings(Strict):
    units: Literal["metric", "imperial"] = "metric"
    forecast_url: str = "https://api.open-meteo.com/v1/forecast"
    geocoding_url: str = "https://geocoding-api.open-meteo.com/v1/search"
    cache_minutes: float = Field(default=30, ge=0)
    timeout_seconds: float = Field(default=10, gt=0)


VoiceMode = Literal["never", "always", "on_request", "inbound"]


class VoiceSettings(Strict):
    mode: VoiceMode = "on_request"  # each chat can change it with /voice
    request_phrases: list[str] = Field(
        default_factory=lambda: ["read it to me", "read it out", "say it out loud", "voice note"]
    )
    voice_only: bool = False  # send only the voice note, no text
    default_voice: str = "gmw/en"  # for languages without a voice of their own
    rate: int = Field(default=175, ge=80, le=400)  # words per minute
    max_spoken_chars: int = Field(default=400, ge=50)  # longer replies: the first sentences


class ListenSettings(Strict):
    """Voice messages to text, offline (the `listen` extra: pip install -e '.[listen]')."""

    engine: Literal["faster-whisper"] = "faster-whisper"
    model: str = "tiny.en"  # a Whisper model name, fetched on first use, or a local folder
    language: str | None = None  # what people speak; empty: user.language
    max_seconds: float = Field(default=120, gt=0, le=3600)  # longer recordings are declined
    workers: int = Field(default=1, ge=1, le=8)  # recordings transcribed at once

    @property
    def model_folder(self) -> str | None:
        """The model as a folder path (relative to the config file), when it is one."""
        return self.model if "/" in self.model or self.model.startswith(("~", ".")) else None


class Price(Strict):
    """US dollars per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_write: float = Field(ge=0)
    cache_read: float = Field(ge=0)


def _default_prices() -> dict[str, Price]:
    # The model pages and the Sonnet 5.5 migration guide, checked 2026-11-29 (see the example
    # config). Haiku 5.5: the rates for prompts up to 100,000 tokens, which Tandem stays under.
    sonnet = Price(input=2, output=10, cache_write=2.50, cache_read=0.10)
    haiku = Price(input=0.10, output=0.50, cache_write=0.125, cache_read=0.01)
    return {"claude-sonnet-5-5": sonnet, "claude-haiku-5-5": haiku}


class AgentLimits(Strict):
    """Checked before every model call of the agent; reaching one ends the run with an answer."""

    model_calls: int = Field(default=6, ge=1)
    tool_calls: int = Field(default=12, ge=0)
    input_tokens: int = Field(default=60_000, ge=1)
    output_tokens: int = Field(default=12_000, ge=1)  # thinking counts as output
    cost_usd: float = Field(default=0.10, gt=0)
    wall_seconds: float = Field(default=60, gt=0)


class EffortSettings(Strict):
    """`output_config.effort` per kind of model call."""

    answer: Effort = "low"  # the workflow's answer step: a short reply from what was found
    agent: Effort = "medium"  # each call of the agent loop: which tools, then the answer
    understanding: Effort = "low"  # reading a question (understanding.claude): a short JSON


class LlmSettings(Strict):
    model: str = "claude-sonnet-5-5"
    # Per call, thinking and reply together (adaptive thinking is on by default).
    max_tokens: int = Field(default=4096, ge=1, le=128_000)
    effort: EffortSettings = Field(default_factory=EffortSettings)
    timeout_seconds: float = Field(default=60, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)  # on 429, 529 and 5xx, after retry-after
    prices: dict[str, Price] = Field(default_factory=_default_prices)
    limits: AgentLimits = Field(default_factory=AgentLimits)

    @model_validator(mode="after")
    def _priced(self) -> LlmSettings:
        if self.model not in self.prices:
            raise ValueError(
                f"no price for model {self.model!r}: add it under llm.prices "
                "(dollars per million input, output, cache_write and cache_read tokens)"
            )
        return self

    def client_options(self) -> dict[str, Any]:
        """The settings integrations.llm.Claude takes, by name."""
        return {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "timeout_seconds": self.timeout_seconds,
            "max_retries": self.max_retries,
            "effort": StepEffort(**self.effort.model_dump()),
        }


Mode = Literal["workflow", "agent", "hybrid"]


class DurableSettings(Strict):
    # Where runs are journaled: empty means a SQLite file in the data folder. A PostgreSQL URL
    # (postgresql://user@host:5432/db) lets several workers share the work. TANDEM_DATABASE_URL
    # overrides it.
    database_url: str | None = None
    shutdown_grace_seconds: float = Field(default=10, ge=0)  # let running answers finish
    # A worker silent this long is taken for dead: the others take over its unfinished runs.
    takeover_seconds: float = Field(default=60, ge=1)
    # Runs one worker takes on at once; the rest wait for it or go to other workers. Also the
    # threads its blocking steps (calendar, weather, the stores) share.
    runs_per_worker: int = Field(default=RUNS_AT_ONCE, ge=1)


class TelemetrySettings(Strict):
    otlp_endpoint: str | None = None  # e.g. http://localhost:4318; OTEL_EXPORTER_OTLP_ENDPOINT too
    capture_content: bool = False  # put messages and tool arguments in spans
    service_name: str = "tandem"


class MemorySettings(Strict):
    data_dir: str = "~/.local/share/tandem"
    turns_kept: int = Field(default=20, ge=0)


class SchedulerSettings(Strict):
    chat_id: int | None = None  # where scheduled rules send; default: the first allowed user
    grace_minutes: int = Field(default=60, ge=0)  # a slot missed while down is sent this late


class Trigger(Strict):
    """When a rule applies. Any one listed condition that holds is enough."""

    keywords: list[str] = Field(default_factory=list)
    phrases: list[str] = Field(default_factory=list)
    regex: str | None = None
    personal_event: bool = False

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except (re.error, OverflowError, RecursionError) as exc:  # "a{9999999999}", "(((..."
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Trigger:
        if not (self.keywords or self.phrases or self.regex or self.personal_event):
            raise ValueError(
                "a trigger needs at least one of keywords, phrases, regex or personal_event: true"
            )
        return self


class ToolStep(Strict):
    """Call one tool. Arguments not given in `with` are filled from the question."""

    tool: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    if_: str | None = Field(default=None, alias="if")  # run only when this value was found
    save_as: str | None = None


class AnswerStep(Strict):
    """Write the reply from everything the earlier steps found."""

    answer: Literal["llm_or_template", "template"] = "llm_or_template"


def _step_kind(data: Any) -> str | None:
    """Which kind of step a mapping means; a misspelt key still picks its kind for the hint."""
    keys = [key for key in data if isinstance(key, str)] if isinstance(data, dict) else []
    for key in ("tool", "answer"):
        if key in keys or difflib.get_close_matches(key, keys, n=1, cutoff=0.6):
            return f"{key} step"
    return None


Step = Annotated[
    Annotated[ToolStep, Tag("tool step")] | Annotated[AnswerStep, Tag("answer step")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step is either '- tool: NAME' or '- answer: llm_or_template'",
    ),
]


WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_GROUPS = {"daily": WEEKDAY_NAMES, "weekdays": WEEKDAY_NAMES[:5], "weekends": WEEKDAY_NAMES[5:]}


class Schedule(Strict):
    """Run a rule at a local time on some days, as if the owner had asked `ask`."""

    at: time
    days: list[str] = Field(default_factory=lambda: ["daily"], min_length=1)
    ask: str = Field(min_length=1)

    @field_validator("days")
    @classmethod
    def _known_days(cls, days: list[str]) -> list[str]:
        known = [*DAY_GROUPS, *WEEKDAY_NAMES]
        for day in days:
            if day.lower() not in known:
                raise ValueError(
                    f"unknown day {day!r}{_did_you_mean(day.lower(), known)}; use mon..sun, "
                    "weekdays, weekends or daily"
                )
        return [day.lower() for day in days]

    @property
    def weekdays(self) -> set[int]:
        """The days it runs on, Monday = 0."""
        names = {name for day in self.days for name in DAY_GROUPS.get(day, (day,))}
        return {WEEKDAY_NAMES.index(name) for name in names}


class Rule(Strict):
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    when: Trigger | None = None
    schedule: Schedule | None = None
    voice: bool = Field(default=False, description="send the answer as a voice note too")
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _well_formed(self) -> Rule:
        if (self.when is None) == (self.schedule is None):
            raise ValueError(
                "a rule needs exactly one of 'when' (a message trigger) or 'schedule' (a time)"
            )
        if not isinstance(self.steps[-1], AnswerStep):
            raise ValueError(
                "the last step must be an answer step, e.g. '- answer: llm_or_template'"
            )
        return self


class Person(Strict):
    """Someone else who uses Tandem, with their own calendars; only they see their events."""

    telegram_id: int
    user: UserSettings = Field(default_factory=UserSettings)
    calendars: list[CalendarSettings] = Field(default_factory=list)


class Settings(Strict):
    mode: Mode = "workflow"  # each chat can change it with /mode
    user: UserSettings = Field(default_factory=UserSettings)
    calendars: list[CalendarSettings] = Field(default_factory=list)
    people: list[Person] = Field(default_factory=list)
    search: SearchSettings = Field(default_factory=SearchSettings)
    understanding: UnderstandingSettings = Field(default_factory=UnderstandingSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    weather: WeatherSettings = Field(default_factory=WeatherSettings)
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    listen: ListenSettings = Field(default_factory=ListenSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    durable: DurableSettings = Field(default_factory=DurableSettings)
    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_entry_per_person(self) -> Settings:
        if twice := used_twice(person.telegram_id for person in self.people):
            raise ValueError(f"people: each telegram_id once; listed twice: {twice}")
        return self

    @model_validator(mode="after")
    def _listen_language(self) -> Settings:
        model, language = self.listen.model, self.listen.language or self.user.language
        if model.endswith(".en") and language != "en":
            raise ValueError(
                f"listen.model {model!r} knows English only, but people speak {language!r} "
                f"(listen.language, else user.language): use {model.removesuffix('.en')!r}"
            )
        return self

    @model_validator(mode="after")
    def _unique_rule_names(self) -> Settings:
        if twice := used_twice(rule.name for rule in self.rules):
            raise ValueError(f"rule names must be unique; used twice: {', '.join(twice)}")
        return self


def used_twice(values: Iterable[T]) -> list[T]:
    """The values that appear more than once, sorted."""
    seen = list(values)
    return sorted({value for value in seen if seen.count(value) > 1})  # type: ignore[type-var]


@dataclass(frozen=True)
class LoadedConfig:
    settings: Settings
    path: Path

    def resolve(self, relative: str) -> Path:
        """A path from the config file, relative to the file's own folder."""
        path = Path(relative).expanduser()
        return path if path.is_absolute() else self.path.parent / path

    @property
    def data_dir(self) -> Path:
        override = os.environ.get("TANDEM_DATA_DIR")
        return (
            Path(override).expanduser() if override else self.resolve(self.settings.memory.data_dir)
        )


class ConfigError(Exception):
    """A config file that cannot be used. `problems` lists every one, each a full sentence."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{path}: {count}:\n{lines}")


def choose_config_path(explicit: str | None) -> Path:
    """--config, then TANDEM_CONFIG, then config/tandem.yaml, then the bundled example."""
    chosen = explicit or os.environ.get("TANDEM_CONFIG")
    if chosen:
        return Path(chosen).expanduser()
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else EXAMPLE_CONFIG


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load, but a key given twice in one mapping is an error (PyYAML keeps the last
    without a word, so one of two settings would silently not count)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = self.construct_object(key_node)
                if key in first_seen:
                    raise yaml.constructor.ConstructorError(
                        problem=f"the key {key!r} is given twice (first on line "
                        f"{first_seen[key] + 1}); only one can count",
                        problem_mark=key_node.start_mark,
                    )
                first_seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def load_config(
    path: Path,
    known_tools: set[str] | None = None,
    voice_problem: Callable[[str], str | None] | None = None,
) -> LoadedConfig:
    """Read and check a config file; raise ConfigError listing every problem found.
    `voice_problem` says what is wrong with a voice name, if anything (check-config's)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, ["the file does not exist"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [f"the file cannot be read: {exc}"]) from None
    try:
        return _checked(path, text, known_tools, voice_problem)
    except RecursionError:
        raise ConfigError(path, ["the file is nested too deeply to read"]) from None


def _checked(
    path: Path,
    text: str,
    known_tools: set[str] | None,
    voice_problem: Callable[[str], str | None] | None,
) -> LoadedConfig:
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(path, [_yaml_problem(exc, text)]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(path, ["the file must be a mapping of sections (user:, calendars:, ...)"])
    # Problems found in the raw file join the schema's, so one run lists them all.
    problems = _missing_files(raw, path.parent)
    if known_tools is not None:
        problems += _unknown_tools(raw, known_tools)
    if voice_problem is not None:
        problems += _unknown_voice(raw, voice_problem)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe(error, raw) for error in exc.errors()] + problems
    else:
        loaded = LoadedConfig(settings=settings, path=path)
        if (model := settings.listen.model_folder) and not loaded.resolve(model).is_dir():
            problems.append(f"listen.model: no such folder: {loaded.resolve(model)}")
    if problems:
        raise ConfigError(path, problems)
    return loaded


def _missing_files(raw: dict[str, Any], folder: Path) -> list[str]:
    """ICS calendars whose `path` names no file, read from the raw file (relative to `folder`)."""
    people = raw.get("people")
    lists = [("calendars", raw.get("calendars"))] + [
        (f"people[{number}].calendars", person.get("calendars"))
        for number, person in enumerate(people if isinstance(people, list) else [])
        if isinstance(person, dict)
    ]
    problems = []
    for where, calendars in lists:
        for index, entry in enumerate(calendars if isinstance(calendars, list) else []):
            if not (isinstance(entry, dict) and entry.get("type") == "ics"):
                continue
            if not isinstance(relative := entry.get("path"), str):
                continue
            try:
                path = Path(relative).expanduser()
                path = path if path.is_absolute() else folder / path
                found = path.is_file()
            except (OSError, RuntimeError) as exc:  # a name too long, "~nobody/..."
                reason = getattr(exc, "strerror", None) or exc
                problems.append(f"{where}[{index}].path: cannot be used ({reason})")
                continue
            if not found:
                problems.append(f"{where}[{index}].path: no such file: {path}")
    return problems


def _unknown_voice(raw: dict[str, Any], voice_problem: Callable[[str], str | None]) -> list[str]:
    voice = raw.get("voice")
    name = voice.get("default_voice") if isinstance(voice, dict) else None
    problem = voice_problem(name) if isinstance(name, str) else None
    return [f"voice.default_voice: {problem}"] if problem else []


def _unknown_tools(raw: dict[str, Any], known_tools: set[str]) -> list[str]:
    """Tool names no tool has, read from the raw file so they join every other problem."""
    problems = []
    rules = raw.get("rules")
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        steps = rule.get("steps") if isinstance(rule, dict) else None
        for number, step in enumerate(steps if isinstance(steps, list) else []):
            tool = step.get("tool") if isinstance(step, dict) else None
            if isinstance(tool, str) and tool not in known_tools:
                where = _where(["rules", index, "steps", number, "tool"], raw)
                problems.append(
                    f"{where}: unknown tool {tool!r}{_did_you_mean(tool, known_tools)}; "
                    f"tools are {', '.join(sorted(known_tools))}"
                )
    return problems


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(exc, "problem", None) or str(exc)
    start = getattr(exc, "context_mark", None)
    if mark and start and start.line != mark.line:
        # Where the broken part begins (an unclosed quote runs on to wherever the next quote
        # is, and PyYAML notices only there): name that line first, then where it noticed.
        problem = f"{exc.context}: {problem} at line {mark.line + 1}, column {mark.column + 1}"
        where = f"line {start.line + 1}, column {start.column + 1}: "
    if isinstance(exc, yaml.reader.ReaderError):  # a control character: it has no mark
        before = text[: exc.position]
        where = f"line {before.count(chr(10)) + 1}, column {len(before) - before.rfind(chr(10))}: "
        problem = f"character U+{exc.character:04X}: {exc.reason}"
    return f"{where}not valid YAML ({problem})"


def _describe(error: Any, raw: dict[str, Any]) -> str:
    """One validation error as: where (rule name included), what is wrong, what was meant."""
    raw_loc = error["loc"]
    # A union member's tag follows a list index (calendars[0].ics.url); a key of that name is kept.
    loc = [
        part
        for at, part in enumerate(raw_loc)
        if not (_is_union_tag(part) and at and isinstance(raw_loc[at - 1], int))
    ]
    where = _where(loc, raw)
    kind = error["type"]
    if kind == "extra_forbidden":
        field = str(loc[-1])
        allowed = _allowed_fields(loc[:-1], raw)
        return f"{where}: unknown field {field!r}{_did_you_mean(field, allowed)}"
    if kind == "missing":
        return f"{where}: this field is required"
    message = error["msg"].removeprefix("Value error, ")
    if kind == "union_tag_invalid":
        message = "'type' must be 'ics' or 'google'"
    return f"{where}: {message}"


def _is_union_tag(part: Any) -> bool:
    # pydantic names the union member it tried ("ics", "tool"); a person never wrote that.
    return part in ("ics", "google", "tool step", "answer step")


def _where(loc: list[Any], raw: dict[str, Any]) -> str:
    if not loc:
        return "top level"
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = raw.get("rules")
        rule = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
        if isinstance(rule, dict) and isinstance(rule.get("name"), str):
            rest = path.removeprefix(f"rules[{loc[1]}]").removeprefix(".")
            return f"rule {rule['name']!r} (rules[{loc[1]}]){', ' + rest if rest else ''}"
    return path


_SECTION_FIELDS: dict[str, type[BaseModel]] = {
    "user": UserSettings,
    "search": SearchSettings,
    "understanding": UnderstandingSettings,
    "telegram": TelegramSettings,
    "llm": LlmSettings,
    "weather": WeatherSettings,
    "voice": VoiceSettings,
    "listen": ListenSettings,
    "memory": MemorySettings,
    "limits": LimitSettings,
    "scheduler": SchedulerSettings,
    "telemetry": TelemetrySettings,
    "durable": DurableSettings,
}


def _allowed_fields(loc: list[Any], raw: dict[str, Any]) -> set[str]:
    """The field names valid at `loc`, for a did-you-mean hint."""
    if not loc:
        return set(Settings.model_fields)
    if len(loc) == 1 and loc[0] in _SECTION_FIELDS:
        return set(_SECTION_FIELDS[loc[0]].model_fields)
    if loc[0] == "calendars":
        return set(IcsCalendar.model_fields) | set(GoogleCalendar.model_fields)
    if loc[0] == "rules":
        if len(loc) == 2:
            return set(Rule.model_fields)
        if len(loc) >= 3 and loc[2] == "when":
            return set(Trigger.model_fields)
        if len(loc) >= 3 and loc[2] == "schedule":
            return set(Schedule.model_fields)
        if len(loc) >= 3 and loc[2] == "steps":
            return {"tool", "with", "if", "save_as", "answer"}
    return set()


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class Secrets:
    """Tokens and keys: from the environment, or a `.env` file in the working folder."""

    telegram_bot_token: str | None
    anthropic_api_key: str | None

    @classmethod
    def from_environment(cls) -> Secrets:
        load_dotenv(dotenv_path=Path.cwd() / ".env", override=False)
        return cls(
            telegram_bot_token=os.environ.get("TELEGRAM_BOT_TOKEN") or None,
            anthropic_api_key=os.environ.get("ANTHROPIC_API_KEY") or None,
        )
