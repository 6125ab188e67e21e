"""Shared fixtures: a fixed clock, a calendar of known events, an assistant with nothing real."""

from __future__ import annotations

import json
import os
import runpy
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from bot.config import LimitSettings, LlmSettings, LoadedConfig, load_config
from bot.core import Assistant
from bot.tools import TOOLS
from bot.wiring import build
from integrations.calendar import Event
from integrations.llm import Claude, StepEffort
from integrations.weather import DailyWeather, ForecastOutOfRange, HourlyWeather, Place
from tests.fakes import control, running, scratch_database
from tests.fakes.anthropic_rules import rejection

ROOT = Path(__file__).resolve().parent.parent
TRAVEL = ROOT / "tests" / "travel"
EXAMPLE = ROOT / "config" / "tandem.example.yaml"
LONDON = ZoneInfo("Europe/London")
# Wednesday 25 November 2026, 10:00 in London.
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=LONDON)
# How long a test waits for something that should happen: it only bounds a hang, so it is
# generous enough for a machine busy with other work; no test asserts how fast a thing came.
HANG_SECONDS = 60.0
# The same for a whole `tandem` command run as a process, start to end (imports, a voice note).
PROCESS_SECONDS = 300.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock",
        default=os.environ.get("TESTS_CLOCK"),
        metavar="WHEN",
        help="move the clock of the tests and of every Python process they start to WHEN "
        "(ISO 8601 with an offset, e.g. 2026-11-29T10:00+00:00; or set TESTS_CLOCK); "
        "it ticks on from there",
    )


def pytest_configure(config: pytest.Config) -> None:
    when = config.getoption("clock")
    if not when:
        return
    offset = datetime.fromisoformat(when).timestamp() - time.time()
    os.environ["TESTS_CLOCK_OFFSET"] = repr(offset)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(TRAVEL), os.environ.get("PYTHONPATH")])
    )
    runpy.run_path(str(TRAVEL / "sitecustomize.py"))  # this process, as its children will


def pytest_report_header(config: pytest.Config) -> str:
    return f"clock: {datetime.now().astimezone():%A %Y-%m-%d %H:%M %Z}"


@pytest.fixture(autouse=True)
def claude_requests_are_valid(request, monkeypatch) -> Iterator[None]:
    """Fails any test during which Tandem sent Claude a request the real API would reject,
    whatever answers it (a cassette, a fake, the network). A test that means to send one says
    so with `@pytest.mark.sends_rejected_requests`."""
    from anthropic.resources.messages import AsyncMessages

    refused: list[str] = []
    create = AsyncMessages.create

    async def checked(self, **body):
        if (error := rejection(json.loads(json.dumps(body, default=str)))) is not None:
            refused.append(error.message)
        return await create(self, **body)

    monkeypatch.setattr(AsyncMessages, "create", checked)
    yield
    if not request.node.get_closest_marker("sends_rejected_requests"):
        assert not refused, f"Tandem sent requests the Messages API rejects: {refused}"


class CountingCalendar:
    """A calendar with given events that counts how often it is asked."""

    name = "test"

    def __init__(self, events: list[Event]) -> None:
        self._events = events
        self.calls = 0

    def events(self, start: datetime, end: datetime) -> list[Event]:
        self.calls += 1
        return sorted(
            (e for e in self._events if e.start < end and e.end > start), key=lambda e: e.start
        )


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


def event(title: str, start: datetime, minutes: int = 60, **fields: str) -> Event:
    return Event(title, start, start + timedelta(minutes=minutes), **fields)


@pytest.fixture
def example_config() -> LoadedConfig:
    """The example config, with a message rate no test of something else would reach."""
    return example_without(limits=LimitSettings(messages_per_minute=1000))


@pytest.fixture
def week() -> CountingCalendar:
    return CountingCalendar(
        [
            event("Team stand-up", at(25, 9, 30), 15, location="Online"),
            event("Tennis match with Sam", at(26, 18, 30), 90, location="Regent's Park"),
            event("Dentist check-up", at(10, 8, 30, month=12), 30, location="Smile Dental"),
            Event("Working from home", at(27, 0), at(28, 0), all_day=True),
            event("Parkrun", at(28, 9), location="Hampstead Heath, London"),
        ]
    )


@pytest.fixture
def make_assistant(tmp_path: Path, example_config: LoadedConfig) -> Callable[..., Assistant]:
    def make(
        calendar: CountingCalendar,
        config: LoadedConfig = example_config,
        llm=None,
        weather: FakeWeather | None = None,
    ):
        return build(
            config,
            llm=llm,
            clock=lambda: NOW,
            data_dir=tmp_path,
            calendar=calendar,
            weather=weather or FakeWeather(),
        )

    return make


class FakeWeather:
    """Stands in for integrations.weather.OpenMeteo: knows two places and records each ask."""

    temperature_unit, wind_unit, precipitation_unit = "°C", "km/h", "mm"
    PLACES: ClassVar[dict[str, Place]] = {
        "London": Place("London", "United Kingdom", "England", 51.5, -0.13, "Europe/London"),
        "Dorking": Place("Dorking", "United Kingdom", "England", 51.23, -0.33, "Europe/London"),
    }

    def __init__(self) -> None:
        self.asked: list[tuple[str, object]] = []

    def find_place(self, text: str) -> tuple[Place, str] | None:
        self.asked.append(("find_place", text))
        for part in [text, *(part.strip() for part in text.split(","))]:
            if part.title() in self.PLACES:  # like Open-Meteo, whatever the capitals
                return self.PLACES[part.title()], part
        return None

    def hourly(self, place: Place, start: datetime, end: datetime) -> list[HourlyWeather]:
        self.asked.append(("hourly", start))
        if start.date() > NOW.date() + timedelta(days=15):
            raise ForecastOutOfRange("That's more than 16 days ahead: too far for a forecast.")
        hour = start.replace(minute=0)
        return [HourlyWeather(hour, 9.0, 6.0, 70, 0.4, 61, "light rain", 14.0)]

    def daily(self, place: Place, first: date, last: date) -> list[DailyWeather]:
        self.asked.append(("daily", (first, last)))
        if last > NOW.date() + timedelta(days=15):
            raise ForecastOutOfRange("That's more than 16 days ahead: too far for a forecast.")
        return [DailyWeather(first, 11.0, 4.0, 20, 0.0, 3, "overcast")]


@pytest.fixture
def weather() -> FakeWeather:
    return FakeWeather()


def example_without(*rule_names: str, **updates: object) -> LoadedConfig:
    """The example config without some rules, and with some settings changed."""
    config = load_config(EXAMPLE, known_tools=TOOLS.names())
    rules = [rule for rule in config.settings.rules if rule.name not in rule_names]
    return LoadedConfig(config.settings.model_copy(update={"rules": rules, **updates}), EXAMPLE)


POSTGRES_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def postgres() -> Iterator[str]:
    """A fresh database on the test server (TANDEM_TEST_POSTGRES_URL), dropped afterwards;
    skips, saying why, if no server answers."""
    url = os.environ.get("TANDEM_TEST_POSTGRES_URL", POSTGRES_DEFAULT)
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 2).close()
    except OSError as exc:
        pytest.skip(f"no PostgreSQL server answers at {parts.hostname}:{parts.port} ({exc})")
    with scratch_database(url) as database:
        yield database


# --- the fake Messages API (tests/fakes/anthropic_server.py), over real HTTP ---------------------


@dataclass
class FakeClaude:
    base: str

    def script(self, *changes: dict[str, Any]) -> None:
        control(self.base, "script", {"next": list(changes)})

    def requests(self) -> list[dict[str, Any]]:
        return [call["request"] for call in control(self.base, "calls")["calls"]]

    def rejections(self) -> list[dict[str, Any]]:
        return control(self.base, "rejections")["rejections"]

    def post(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Send a request straight to the fake, as any client could."""
        request = urllib.request.Request(
            f"{self.base}/v1/messages", json.dumps(body).encode(), {"content-type": "json"}
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=5) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def client(self, effort: StepEffort | None = None) -> Claude:
        options = LlmSettings().client_options()
        if effort is not None:
            options["effort"] = effort
        return Claude("sk-ant-test", **options | {"max_retries": 0}, base_url=self.base)


@pytest.fixture(scope="module")
def fake_server() -> Iterator[str]:
    with running("tests.fakes.anthropic_server") as base:
        yield base


@pytest.fixture
def fake(fake_server: str, request, monkeypatch) -> Iterator[FakeClaude]:
    """The fake, forgetting earlier tests; no test may have it reject one of Tandem's requests."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    control(fake_server, "reset", {})
    fake = FakeClaude(fake_server)
    yield fake
    if not request.node.get_closest_marker("sends_rejected_requests"):
        assert fake.rejections() == []
