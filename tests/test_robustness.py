"""Property-based tests: whatever a person types or writes in a config file, Tandem stays upright.

- Any message, in every mode and without an API key, gets a non-empty reply and never the
  generic "something went wrong"; one over the length limit is refused, naming the limit.
- Any YAML document, or the example config with something broken, either loads or raises
  ConfigError whose every problem names where it is.
- The question reader never raises for any `now`, across DST changes, and its windows are
  never empty.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.config import ConfigError, LimitSettings, LoadedConfig, load_config
from bot.core import Assistant
from bot.messages import SORRY, Incoming, Reply
from bot.store.db import open_database
from bot.store.memory import ChatMemory
from bot.tools import TOOLS
from bot.understanding import understand
from bot.wiring import build
from integrations.speech import VoiceNote
from tests.conftest import EXAMPLE, NOW, ROOT, CountingCalendar, FakeWeather, at, event

MODES = ("workflow", "agent", "hybrid")
SMALL_LIMIT = 60


class SilentSpeaker:
    """Stands in for the eSpeak speaker: a voice note in no time, so /say and /voice are cheap."""

    async def speak(self, text: str, language: str) -> VoiceNote:
        return VoiceNote(b"OggS", 1.0, "gmw/en")


def calendar() -> CountingCalendar:
    return CountingCalendar(
        [
            event("Tennis match with Sam", at(26, 18, 30), 90, location="Regent's Park"),
            event("Dentist check-up", at(10, 8, 30, month=12), 30, location="Smile Dental"),
            event("Parkrun", at(28, 9), location="Hampstead Heath, London"),
        ]
    )


def assistant_for(config: LoadedConfig, folder: Path) -> Assistant:
    return build(
        config,
        clock=lambda: NOW,
        data_dir=folder,
        calendar=calendar(),
        weather=FakeWeather(),
        speaker=SilentSpeaker(),  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def assistants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Assistant]:
    """One assistant on the example config, one with a short message limit; built once."""
    example = load_config(EXAMPLE, known_tools=TOOLS.names())
    short = LoadedConfig(
        example.settings.model_copy(
            update={"limits": LimitSettings(max_message_chars=SMALL_LIMIT)}
        ),
        EXAMPLE,
    )
    return {
        "example": assistant_for(example, tmp_path_factory.mktemp("example")),
        "short": assistant_for(short, tmp_path_factory.mktemp("short")),
    }


_chat_ids: Iterator[int] = itertools.count(1000)


def ask(assistant: Assistant, text: str, mode: str) -> tuple[Reply, int]:
    """Send one message in a chat of its own, so every example starts from a clean chat."""
    chat_id = next(_chat_ids)
    message = Incoming(chat_id, chat_id, text, mode=mode)  # type: ignore[arg-type]
    return asyncio.run(assistant.handle(message)), chat_id


# --- (a) messages -----------------------------------------------------------------------------

ODD_MESSAGES = [
    "/mode \x00",
    "/mode",
    "/mode AGENT",
    "/mode@tandem_bot hybrid",
    "/compare",
    "/compare    ",
    "/compare 31/02",
    "/compare on 99 December",
    "/voice ✓",
    "/voice",
    "/voice always",
    "/voice OFF",
    "/trace",
    "/trace extra words",
    "/say",
    "/say \u202e\u200f",
    "/say what's on tomorrow?",
    "/",
    "//",
    "/@",
    "/unknown command",
    "31/02",
    "on 99 December",
    "what's on 31 February?",
    "what's on 2026-02-30?",
    "what's on 9999-12-31?",
    "what's on 0000-01-01?",
    "what's on 1 January 0001?",
    "in 99 days",
    "next weekend read it to me",
    "\u202eتقويمي غدا؟",  # RTL override and Arabic
    "מה יש לי מחר?",
    "🎾🌧️👩‍👩‍👧 tomorrow?",
    "\x00\x01\x02\x1b[31m",
    "\ud800 what's on today? \udcff",  # lone surrogates, as undecodable argv bytes arrive
    "\ufeff\u200b",
    "will it rain at my tennis match?",
    "weather in Dorking on Saturday",
    "what's the time",
]
WORDS = [
    "what's on",
    "my",
    "when is",
    "next",
    "tomorrow",
    "tonight",
    "this weekend",
    "friday",
    "3 december",
    "december 3rd",
    "31/02",
    "weather",
    "rain",
    "tennis",
    "dentist",
    "Dorking",
    "read it to me",
    "morning",
    "/say",
    "/mode",
    "/voice",
    "/compare",
    "/trace",
]
COMMANDS = ["/mode", "/voice", "/say", "/compare", "/trace", "/start", "/help", "/MODE@x"]
WHITESPACE = " \t\n\r\x0b\x0c\u00a0\u1680\u2003\u2028\u2029\u3000"

messages = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(categories=["Cs", "Cc", "Cf", "Zs", "So", "Lo"])),
    st.text(alphabet=WHITESPACE),
    st.sampled_from(ODD_MESSAGES),
    st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=4)), max_size=8).map(" ".join),
    st.builds("{} {}".format, st.sampled_from(COMMANDS), st.text(max_size=30)),
    # Very long: a piece repeated, near or over the limit.
    st.builds(
        lambda piece, times: piece * times, st.text(min_size=1, max_size=9), st.integers(1, 900)
    ),
)


def check_kind_reply(assistant: Assistant, text: str, mode: str) -> None:
    reply, _ = ask(assistant, text, mode)

    assert reply.text.strip()
    assert reply.text != SORRY  # no exception was swallowed on the way
    limit = assistant.settings.limits.max_message_chars
    if len(Incoming(0, 0, text).text.strip()) > limit:
        assert f"I read up to {limit:,}" in reply.text


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("text", ODD_MESSAGES)
def test_odd_messages_get_a_kind_non_empty_reply(
    assistants: dict[str, Assistant], text: str, mode: str
) -> None:
    check_kind_reply(assistants["example"], text, mode)


@settings(max_examples=150, deadline=None)
@given(text=messages, mode=st.sampled_from(MODES))
def test_any_message_gets_a_kind_non_empty_reply(
    assistants: dict[str, Assistant], text: str, mode: str
) -> None:
    check_kind_reply(assistants["example"], text, mode)


@settings(max_examples=60, deadline=None)
@given(
    piece=st.text(min_size=1, max_size=12),
    length=st.integers(1, 3 * SMALL_LIMIT),
    mode=st.sampled_from(MODES),
)
def test_a_message_over_the_limit_is_refused_naming_the_limit(
    assistants: dict[str, Assistant], piece: str, length: int, mode: str
) -> None:
    assistant = assistants["short"]
    text = (piece * (length // len(piece) + 1))[:length]
    refused = len(Incoming(0, 0, text).text.strip()) > SMALL_LIMIT
    calls = assistant.context.calendar.calls  # type: ignore[attr-defined]

    reply, chat_id = ask(assistant, text, mode)

    assert reply.text.strip()
    assert (f"I read up to {SMALL_LIMIT}." in reply.text) == refused
    if refused:
        assert "shorter message" in reply.text
        assert assistant.memory.recent(chat_id) == []  # nothing remembered, nothing looked up
        assert assistant.context.calendar.calls == calls  # type: ignore[attr-defined]


def test_the_default_limit_is_named_with_its_thousands_separator(
    assistants: dict[str, Assistant],
) -> None:
    reply, _ = ask(assistants["example"], "x" * 4001, "workflow")

    assert reply.text == (
        "That message is 4,001 characters long; I read up to 4,000. "
        "Could you ask in a shorter message?"
    )


def test_a_failed_write_leaves_the_chat_memory_usable(tmp_path: Path) -> None:
    """Found by the message property: a lone surrogate failed mid-transaction and every later
    message in every chat failed with 'cannot start a transaction within a transaction'."""
    from bot.store.memory import Turn

    memory = ChatMemory(open_database(tmp_path / "memory.sqlite3"), 20)
    with pytest.raises(UnicodeEncodeError):
        memory.remember(1, Turn("user", "\ud800"))

    memory.remember(1, Turn("user", "still here"))

    assert memory.recent(1) == [Turn("user", "still here")]


# --- (b) config files -------------------------------------------------------------------------

FIELD_NAMES = sorted(
    {
        "mode", "user", "calendars", "search", "telegram", "weather", "voice", "llm", "memory",
        "limits", "scheduler", "telemetry", "rules", "name", "home", "timezone", "clock",
        "type", "path", "url", "calendar_ids", "token_file", "prices", "model", "input",
        "when", "schedule", "steps", "tool", "with", "if", "answer", "keywords", "regex",
        "at", "days", "ask", "max_message_chars", "data_dir", "allowed_user_ids",
    }
)  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(["ics", "google", "Europe/London", "Europe", "07:30", "mon", "~nobody/x"]),
    st.sampled_from(["a{99999999999}", "(" * 1000, "[", "search_calendar", "template"]),
)
keys = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=12), st.integers(-3, 3), st.none())
yaml_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=25,
)


def example_document() -> dict[str, Any]:
    """The example config as data, with its calendar's path made absolute."""
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    document["calendars"][0]["path"] = str(ROOT / "config" / "sample-calendar.ics")
    return document


EXAMPLE_DOCUMENT = example_document()


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a document: the keys and indexes leading to it."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        yield (*prefix, key)
        yield from paths(item, (*prefix, key))


EXAMPLE_PATHS = list(paths(EXAMPLE_DOCUMENT))
mutation = st.tuples(
    st.sampled_from(["delete", "replace", "add key"]),
    st.sampled_from(EXAMPLE_PATHS),
    keys,
    yaml_values,
)


def mutated(document: dict[str, Any], mutations: list[tuple[Any, ...]]) -> dict[str, Any]:
    """A copy with fields deleted, values replaced (often by a wrong type), or keys added."""
    result = copy.deepcopy(document)
    for kind, path, key, value in mutations:
        parent: Any = result
        try:
            for part in path[:-1]:
                parent = parent[part]
            if kind == "delete":
                del parent[path[-1]]
            elif kind == "replace":
                parent[path[-1]] = value
            elif isinstance(parent[path[-1]], dict):
                parent[path[-1]][key] = value
            else:
                parent[key if isinstance(parent, dict) else path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed the place
    return result


LOCATION = re.compile(
    # A rule's name as Python quotes it: 'name', or "name" when it holds a '.
    r"(?:line \d+, column \d+|top level|rule (?:'.*'|\".*\") \(rules\[\d+\]\)|\[-?\d+\]"
    r"|the file)",
    re.S,
)


def names_a_location(problem: str, document: object) -> bool:
    """Whether a problem starts with where it is: a line, a rule, or a field path."""
    if LOCATION.match(problem):
        return True
    roots = [str(key) for key in document] if isinstance(document, dict) else []
    return any(
        problem.startswith(root) and problem[len(root) : len(root) + 1] in (".", "[", ":")
        for root in roots
    )


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("config") / "tandem.yaml"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def check_loads_or_explains(path: Path, text: str) -> None:
    """load_config either loads the text or raises ConfigError, each problem with a place."""
    try:
        load_config(write(path, text), known_tools=TOOLS.names())
    except ConfigError as error:
        try:
            document = yaml.safe_load(text)  # as load_config read it ("\x85" comes back " ")
        except yaml.YAMLError:
            document = None
        assert error.problems
        for problem in error.problems:
            assert names_a_location(problem, document), problem


@settings(max_examples=120, deadline=None)
@given(document=st.one_of(yaml_values, st.dictionaries(keys, yaml_values, max_size=6)))
def test_any_yaml_document_loads_or_raises_config_error(config_file: Path, document: Any) -> None:
    check_loads_or_explains(config_file, yaml.safe_dump(document, allow_unicode=True))


@settings(max_examples=150, deadline=None)
@given(mutations=st.lists(mutation, min_size=1, max_size=3))
def test_a_broken_example_config_raises_config_error_naming_each_place(
    config_file: Path, mutations: list[tuple[Any, ...]]
) -> None:
    document = mutated(EXAMPLE_DOCUMENT, mutations)
    check_loads_or_explains(config_file, yaml.safe_dump(document, allow_unicode=True))


# Each of these made load_config raise something other than ConfigError.
KNOWN_TRAPS = [
    (("user", "timezone"), "Europe"),  # a folder of zones: IsADirectoryError
    (("user", "timezone"), "x" * 300),  # OSError: file name too long
    (("rules", 0, "when", "regex"), "a{99999999999}"),  # OverflowError
    (("rules", 0, "when", "regex"), "(" * 1000),  # RecursionError
    (("calendars", 0, "path"), "~nobody-here/calendar.ics"),  # RuntimeError from expanduser
    (("calendars", 0, "path"), "x" * 5000),  # OSError: file name too long
    (("rules", 0, "steps", 2), {0: None}),  # TypeError: a step with a number for a key
]


@pytest.mark.parametrize(("path", "value"), KNOWN_TRAPS)
def test_known_traps_raise_config_error(
    config_file: Path, path: tuple[Any, ...], value: Any
) -> None:
    document = mutated(EXAMPLE_DOCUMENT, [("replace", path, None, value)])

    with pytest.raises(ConfigError) as error:
        load_config(write(config_file, yaml.safe_dump(document)), known_tools=TOOLS.names())

    assert all(names_a_location(problem, document) for problem in error.value.problems)


EXAMPLE_TEXT = yaml.safe_dump(EXAMPLE_DOCUMENT, allow_unicode=True, sort_keys=False)


@settings(max_examples=80, deadline=None)
@example(start=0, cut=0, insert="\x08")  # a control character: no line and column before
@given(
    start=st.integers(0, len(EXAMPLE_TEXT)),
    cut=st.integers(0, 40),
    insert=st.text(max_size=6),
)
def test_an_example_config_with_text_damage_raises_config_error(
    config_file: Path, start: int, cut: int, insert: str
) -> None:
    check_loads_or_explains(
        config_file, EXAMPLE_TEXT[:start] + insert + EXAMPLE_TEXT[start + cut :]
    )


# --- (c) understanding ------------------------------------------------------------------------

ZONES = [
    "Europe/London",
    "America/New_York",
    "America/Santiago",  # changes at midnight: some local midnights do not exist
    "America/Havana",
    "Asia/Beirut",
    "Australia/Lord_Howe",  # a 30-minute change
    "Pacific/Chatham",
    "Asia/Tehran",
    "Pacific/Apia",  # skipped a whole day in 2011
    "Asia/Kolkata",
    "UTC",
]


def transitions(zone: str, first: int = 2010, last: int = 2030) -> list[datetime]:
    """The UTC instants at which `zone`'s offset changes between two years, to the hour."""
    tz = ZoneInfo(zone)
    found = []
    moment = datetime(first, 1, 1, tzinfo=UTC)
    end = datetime(last, 1, 1, tzinfo=UTC)
    while moment < end:
        later = moment + timedelta(days=1)
        if moment.astimezone(tz).utcoffset() != later.astimezone(tz).utcoffset():
            hour = moment
            while hour.astimezone(tz).utcoffset() == moment.astimezone(tz).utcoffset():
                hour += timedelta(hours=1)
            found.append(hour)
        moment = later
    return found


TRANSITIONS = [(zone, moment) for zone in ZONES for moment in transitions(zone)]

# `now` as the assistant makes it: a UTC instant seen in the user's zone.
any_now = st.builds(
    lambda instant, zone: instant.astimezone(ZoneInfo(zone)),
    st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.sampled_from(ZONES),
)
near_a_change = st.builds(
    lambda change, shift: (change[1] + shift).astimezone(ZoneInfo(change[0])),
    st.sampled_from(TRANSITIONS),
    st.timedeltas(timedelta(hours=-30), timedelta(hours=30)),
)
MONTH_WORDS = ["jan", "february", "feb", "march", "apr", "sept", "december", "13", "0", "02"]
TIME_PHRASES = [
    "today", "tonight", "tomorrow", "yesterday", "this morning", "this afternoon",
    "this evening", "tomorrow morning", "friday night", "this weekend", "next weekend",
    "the weekend", "this week", "next week", "this month", "next month", "on sunday",
    "next monday", "this saturday", "in 3 days", "in seven days", "in 99 days",
    "the day after tomorrow", "31/02", "on 99 December", "29 february", "feb 29",
]  # fmt: skip
years = st.one_of(st.sampled_from([0, 1, 1899, 1900, 2199, 2200, 9998, 9999]), st.integers(0, 9999))
days = st.one_of(st.sampled_from([0, 1, 28, 29, 30, 31, 32]), st.integers(0, 40))
explicit_dates = st.one_of(
    st.builds(
        "{} {}{}".format,
        days,
        st.sampled_from(MONTH_WORDS),
        st.one_of(st.just(""), years.map(lambda y: f" {y:04d}")),
    ),
    st.builds("{:04d}-{}-{}".format, years, st.integers(0, 19), days),
)
questions = st.builds(
    "{} {} {}".format,
    st.sampled_from(["what's on", "when is my next", "anything", "", "weather"]),
    st.one_of(st.sampled_from(TIME_PHRASES), explicit_dates, st.text(max_size=15)),
    st.one_of(st.just(""), st.sampled_from(["evening", "morning", "dentist", "?"]), st.text()),
)


@settings(max_examples=300, deadline=None)
@example(text="what's on 9999-12-31?", now=NOW)  # OverflowError: the day after has no date
@example(text="what's on 0000-01-01?", now=NOW)  # ValueError: there is no year 0
@given(text=questions, now=st.one_of(any_now, near_a_change))
def test_understanding_never_raises_and_windows_are_never_empty(text: str, now: datetime) -> None:
    question = understand(text, now)

    if question.window is not None:
        window = question.window
        assert window.start.tzinfo is not None and window.end.tzinfo is not None
        assert window.start < window.end
        assert window.start.astimezone(UTC) < window.end.astimezone(UTC)
        assert window.label
    if question.problem is not None:
        assert question.window is None
