"""Every fault an outside service can throw at Tandem, and what the user then sees.

One test per fault. HTTP faults are replayed from hand-written cassettes in the APIs' documented
shapes (tests/cassettes/faults/, record_mode "none"); timeouts come from a local socket that
accepts connections and never answers. Waits are never real: `time.sleep` (urllib3's and
googleapiclient's back-off) and Telegram's flood-control sleep are recorded instead, so each test
checks how long Tandem *would* have waited.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import vcr
from telegram.request import RequestData

from bot.config import LlmSettings
from bot.core import Assistant
from bot.engine.journal import Immediate
from bot.messages import Incoming, Reply
from bot.telegram import outbox
from bot.telegram.outbox import Outbox
from bot.wiring import open_llm
from integrations.calendar import CalendarError
from integrations.calendar.google import NOT_ANSWERING as GOOGLE_NOT_ANSWERING
from integrations.calendar.google import GoogleCalendarSource
from integrations.calendar.google_auth import SIGN_IN_AGAIN
from integrations.calendar.ics import IcsCalendarSource
from integrations.http import MAX_RETRY_AFTER_SECONDS
from integrations.llm import Claude
from integrations.speech import SpeechError, VoiceNote
from integrations.weather import (
    BUSY,
    NOT_ANSWERING,
    UNREADABLE,
    OpenMeteo,
    Place,
    WeatherError,
)
from tests.conftest import HANG_SECONDS, NOW, CountingCalendar, at, event
from tests.fakes import SilentServer, control, running, silent_server
from tests.record_google_cassettes import TOKEN_URI, make_credentials
from tests.test_telegram import OWNER, FakeBotApi, FakeCore, running_bot, text_update

HERE = Path(__file__).parent
ADDRESS = "https://calendar.example.com/ical/alex%40example.com/private-5f2c9a1e/basic.ics"
ANTHROPIC_API = "https://api.anthropic.com"
LONDON = Place("London", "United Kingdom", "England", 51.50853, -0.12574, "Europe/London")
TENNIS_LINE = "18:30–20:00  Tennis match with Sam — Regent's Park"
TEMPLATE_TOMORROW = f"Tomorrow, Thursday 26 November:\n• {TENNIS_LINE}"

FAULTS = vcr.VCR(
    cassette_library_dir=str(HERE / "cassettes" / "faults"),
    record_mode="none",
    match_on=("method", "scheme", "host", "port", "path", "query"),
    filter_headers=["authorization", "x-api-key"],
    decode_compressed_response=True,
)
# The Google sign-in cassettes were written for another day's query; only the path matters here.
GOOGLE_ANY_DAY = vcr.VCR(
    cassette_library_dir=str(HERE / "cassettes" / "google"),
    record_mode="none",
    match_on=("method", "scheme", "host", "port", "path"),
    filter_headers=["authorization"],
    decode_compressed_response=True,
)


# --- helpers ------------------------------------------------------------------------------------


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """What urllib3's Retry and googleapiclient would have slept, without the wait. Others
    (the speech engine warming up in a thread of its own) sleep as they would."""
    slept: list[float] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith(("urllib3", "googleapiclient")):
            slept.append(seconds)
        else:
            real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    return slept


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    with silent_server() as server:
        yield server


@pytest.fixture
def tennis() -> CountingCalendar:
    return CountingCalendar(
        [event("Tennis match with Sam", at(26, 18, 30), 90, location="Regent's Park")]
    )


async def ask(assistant: Assistant, text: str, chat_id: int = 7) -> Reply:
    return await assistant.handle(Incoming(chat_id, chat_id, text))


def open_meteo(**options: Any) -> OpenMeteo:
    return OpenMeteo(clock=lambda: NOW, **options)


def claude(
    max_retries: int = 0, timeout_seconds: float = 30, base_url: str = ANTHROPIC_API
) -> Claude:
    """A real client, as bot/wiring.py builds it from `llm:` (max_retries included)."""
    llm = open_llm(
        LlmSettings(timeout_seconds=timeout_seconds), "sk-ant-test", max_retries, base_url
    )
    assert llm is not None
    return llm


# --- weather ------------------------------------------------------------------------------------


async def test_weather_down_still_lists_the_tennis_match_and_says_weather_unavailable(
    make_assistant: Callable[..., Assistant], tennis: CountingCalendar, sleeps: list[float]
) -> None:
    assistant = make_assistant(tennis, weather=open_meteo())
    with FAULTS.use_cassette("open_meteo_down.yaml") as cassette:
        reply = await ask(assistant, "Will it rain at my tennis match?")

    assert TENNIS_LINE in reply.text
    assert reply.text.endswith(
        "Weather unavailable right now: the weather service isn't answering."
    )
    assert "°C" not in reply.text  # no forecast made up
    assert cassette.play_count == 3  # asked, then retried twice
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 1.5  # back-off with jitter


def test_open_meteo_429_waits_its_retry_after_then_answers(sleeps: list[float]) -> None:
    with FAULTS.use_cassette("open_meteo_429_then_london.yaml") as cassette:
        found = open_meteo().geocode("London")

    assert found == LONDON
    assert cassette.play_count == 2
    assert sleeps == [2.0]  # exactly what Retry-After asked, no back-off on top


def test_open_meteo_retry_after_beyond_the_cap_is_not_waited(sleeps: list[float]) -> None:
    with (
        FAULTS.use_cassette("open_meteo_429_long.yaml") as cassette,
        pytest.raises(WeatherError) as busy,
    ):
        open_meteo().geocode("London")

    assert str(busy.value) == BUSY
    assert cassette.play_count == 1
    assert sleeps == []  # Retry-After: 60 is over the cap: say busy at once
    assert MAX_RETRY_AFTER_SECONDS == 5


async def test_weather_timeout_is_the_kind_message_within_the_timeout(
    make_assistant: Callable[..., Assistant], tennis: CountingCalendar, silent: SilentServer
) -> None:
    address = f"http://127.0.0.1:{silent.port}/v1"
    weather = open_meteo(
        forecast_url=f"{address}/forecast", geocoding_url=f"{address}/search", timeout=0.5
    )
    began = time.monotonic()
    reply = await ask(make_assistant(tennis, weather=weather), "Will it rain at my tennis match?")

    assert TENNIS_LINE in reply.text
    assert reply.text.endswith(NOT_ANSWERING)
    assert time.monotonic() - began >= 0.5
    assert silent.connections() == 1  # one wait: a silent server isn't asked again


@pytest.fixture
def faulty_open_meteo() -> Iterator[tuple[str, OpenMeteo]]:
    """The fake Open-Meteo, whose faults a test queues, and a client of it (0.5 s timeout)."""
    with running("tests.fakes.open_meteo_server", "--today", NOW.date().isoformat()) as base:
        weather = open_meteo(
            forecast_url=f"{base}/v1/forecast", geocoding_url=f"{base}/v1/search", timeout=0.5
        )
        yield base, weather


def test_open_meteo_dripping_bytes_is_given_up_at_the_deadline(
    faulty_open_meteo: tuple[str, OpenMeteo],
) -> None:
    base, weather = faulty_open_meteo
    # Each byte well within the read timeout; all 2,000 would take 100 s.
    control(base, "fault", {"kind": "drip", "size": 2000, "seconds": 0.05})

    with pytest.raises(WeatherError, match=f"^{NOT_ANSWERING}$"):
        weather.find_place("London")


def test_open_meteo_sending_without_end_is_cut_at_the_size_cap(
    faulty_open_meteo: tuple[str, OpenMeteo],
) -> None:
    base, weather = faulty_open_meteo
    control(base, "fault", {"kind": "huge", "size": 50_000_000})

    with pytest.raises(WeatherError, match=f"^{UNREADABLE}$"):
        weather.find_place("London")

    assert weather.find_place("London") is not None  # the next answer is read as ever


async def test_a_data_folder_turned_read_only_still_lets_the_answer_out(
    make_assistant: Callable[..., Assistant],
    tennis: CountingCalendar,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assistant = make_assistant(tennis)

    def read_only(*_: Any) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(assistant.stores.memory, "remember", read_only)
    reply = await ask(assistant, "What's on tomorrow?")

    assert reply.text == TEMPLATE_TOMORROW  # before: "Sorry, something went wrong on my side."
    assert "Could not save the chat (OperationalError: attempt to write a readonly" in caplog.text


# --- calendar at an https address (ICS) ---------------------------------------------------------


def test_ics_429_waits_its_retry_after_then_reads_the_calendar(sleeps: list[float]) -> None:
    calendar = IcsCalendarSource("alex", url=ADDRESS)
    with FAULTS.use_cassette("ics_429_then_calendar.yaml") as cassette:
        events = calendar.events(at(26, 0), at(27, 0))

    assert [(e.title, e.start, e.location) for e in events] == [
        ("Tennis match with Sam", at(26, 18, 30), "Regent's Park")
    ]
    assert cassette.play_count == 2
    assert sleeps == [1.0]


def test_ics_retry_after_beyond_the_cap_is_not_waited(sleeps: list[float]) -> None:
    calendar = IcsCalendarSource("alex", url=ADDRESS)
    with FAULTS.use_cassette("ics_429_long.yaml") as cassette, pytest.raises(CalendarError) as e:
        calendar.events(at(26, 0), at(27, 0))

    assert str(e.value) == (
        "I couldn't read the calendar 'alex': its server is busy right now (HTTP 429). "
        "Try again in a minute."
    )
    assert cassette.play_count == 1
    assert sleeps == []  # Retry-After: 60 is over the cap


async def test_calendar_down_says_so_and_invents_nothing(
    make_assistant: Callable[..., Assistant], sleeps: list[float]
) -> None:
    assistant = make_assistant(IcsCalendarSource("alex", url=ADDRESS))
    with FAULTS.use_cassette("ics_down.yaml") as cassette:
        reply = await ask(assistant, "What's on tomorrow?")

    assert reply.text == (
        "I couldn't read the calendar 'alex': its server isn't answering right now (HTTP 503). "
        "Try again in a few minutes."
    )
    assert cassette.play_count == 3
    assert "•" not in reply.text and "nothing" not in reply.text  # no event, no "you're free"


async def test_calendar_timeout_is_the_kind_message_within_the_timeout(
    make_assistant: Callable[..., Assistant], silent: SilentServer
) -> None:
    calendar = IcsCalendarSource("alex", url=f"http://127.0.0.1:{silent.port}/cal.ics", timeout=0.5)
    began = time.monotonic()
    reply = await ask(make_assistant(calendar), "What's on tomorrow?")

    assert reply.text == (
        "I couldn't read the calendar 'alex': the address did not answer within 0.5 seconds."
    )
    assert time.monotonic() - began >= 0.5
    assert silent.connections() == 1


# --- Google Calendar ----------------------------------------------------------------------------


def google(**options: Any) -> GoogleCalendarSource:
    expired = options.pop("expired", False)
    return GoogleCalendarSource(
        "google", ["primary"], make_credentials(TOKEN_URI, expired=expired), **options
    )


@pytest.mark.parametrize(
    ("cassette", "expired"),
    [("events_401.yaml", False), ("refresh_invalid_grant.yaml", True)],
    ids=["401-after-refresh", "invalid_grant"],
)
async def test_a_revoked_google_sign_in_tells_the_owner_to_run_tandem_auth_google(
    make_assistant: Callable[..., Assistant], cassette: str, expired: bool
) -> None:
    assistant = make_assistant(google(expired=expired))
    with GOOGLE_ANY_DAY.use_cassette(cassette) as played:
        reply = await ask(assistant, "What's on tomorrow?")

    assert reply.text == SIGN_IN_AGAIN
    assert reply.text.endswith("Sign in again with: tandem auth google")
    assert played.all_played


async def test_google_503_is_retried_with_jitter_then_answers(
    make_assistant: Callable[..., Assistant], sleeps: list[float]
) -> None:
    assistant = make_assistant(google())
    with FAULTS.use_cassette("google_503_then_events.yaml") as cassette:
        reply = await ask(assistant, "What's on tomorrow?")

    assert reply.text == TEMPLATE_TOMORROW
    assert cassette.play_count == 2
    # googleapiclient's back-off is random() * 2**retry: full jitter, no Retry-After.
    assert len(sleeps) == 1 and 0 <= sleeps[0] < 2


async def test_google_down_says_so_and_invents_nothing(
    make_assistant: Callable[..., Assistant], sleeps: list[float]
) -> None:
    assistant = make_assistant(google())
    with FAULTS.use_cassette("google_down.yaml") as cassette:
        reply = await ask(assistant, "What's on tomorrow?")

    assert reply.text == GOOGLE_NOT_ANSWERING
    assert cassette.play_count == 3
    assert len(sleeps) == 2 and sum(sleeps) < 2 + 4


async def test_google_timeout_is_the_kind_message_within_the_timeout(
    make_assistant: Callable[..., Assistant], silent: SilentServer
) -> None:
    calendar = google(api_endpoint=f"http://127.0.0.1:{silent.port}/calendar/v3/", timeout=0.5)
    began = time.monotonic()
    reply = await ask(make_assistant(calendar), "What's on tomorrow?")

    assert reply.text == GOOGLE_NOT_ANSWERING
    assert time.monotonic() - began >= 0.5
    # googleapiclient would retry a socket timeout twice; here it ends the call.
    assert silent.connections() == 1


# --- Claude ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cassette", "why"),
    [
        ("claude_529.yaml", "Claude is overloaded right now."),
        ("claude_500.yaml", "Claude answered with an error (HTTP 500)."),
    ],
    ids=["529", "500"],
)
async def test_model_down_in_workflow_mode_answers_with_the_template(
    make_assistant: Callable[..., Assistant], tennis: CountingCalendar, cassette: str, why: str
) -> None:
    assistant = make_assistant(tennis, llm=claude())
    with FAULTS.use_cassette(cassette) as played:
        reply = await ask(assistant, "What's on tomorrow?")

    assert reply.text == TEMPLATE_TOMORROW
    assert reply.steps[-1].name == "template"
    assert reply.steps[-1].detail == {"llm_error": why}
    assert played.play_count == 1  # max_retries=0


async def test_model_down_in_agent_mode_says_it_cannot_think_with_what_was_found(
    make_assistant: Callable[..., Assistant], tennis: CountingCalendar
) -> None:
    assistant = make_assistant(tennis, llm=claude())
    await ask(assistant, "/mode agent")
    with FAULTS.use_cassette("claude_tool_use_then_529.yaml") as played:
        reply = await ask(assistant, "What's on tomorrow?")

    assert reply.text.startswith(
        "I can't think right now (Claude is overloaded right now), so here is what I found so far:"
    )
    assert TENNIS_LINE in reply.text
    assert played.all_played


async def test_model_down_at_once_in_agent_mode_says_so_and_invents_nothing(
    make_assistant: Callable[..., Assistant], tennis: CountingCalendar
) -> None:
    assistant = make_assistant(tennis, llm=claude())
    await ask(assistant, "/mode agent")
    with FAULTS.use_cassette("claude_500.yaml"):
        reply = await ask(assistant, "What's on tomorrow?")

    assert reply.text == (
        "I can't think right now (Claude answered with an error (HTTP 500)), "
        "and I hadn't found anything yet."
    )


async def test_a_long_model_retry_after_is_cut_at_the_timeout(
    make_assistant: Callable[..., Assistant], tennis: CountingCalendar
) -> None:
    # The SDK honours any retry-after in full (here ten minutes); the call's deadline does not.
    assistant = make_assistant(tennis, llm=claude(max_retries=2, timeout_seconds=0.5))
    with FAULTS.use_cassette("claude_529_retry_after_600.yaml", allow_playback_repeats=True):
        # Ten minutes of retry-after would outlast this bound by far; it only bounds a hang.
        reply = await asyncio.wait_for(ask(assistant, "What's on tomorrow?"), HANG_SECONDS)

    assert reply.text == TEMPLATE_TOMORROW
    assert reply.steps[-1].detail == {"llm_error": "Claude did not answer within 0.5 seconds."}


@pytest.mark.parametrize("mode", ["workflow", "agent"])
async def test_model_timeout_is_the_kind_answer_within_the_timeout(
    make_assistant: Callable[..., Assistant],
    tennis: CountingCalendar,
    silent: SilentServer,
    mode: str,
) -> None:
    # Two retries allowed: the SDK would retry the timeout, the call's deadline ends it.
    llm = claude(base_url=f"http://127.0.0.1:{silent.port}", max_retries=2, timeout_seconds=0.5)
    assistant = make_assistant(tennis, llm=llm)
    await ask(assistant, f"/mode {mode}")
    began = time.monotonic()
    reply = await ask(assistant, "What's on tomorrow?")

    if mode == "workflow":
        assert reply.text == TEMPLATE_TOMORROW
    else:
        assert reply.text == (
            "I can't think right now (Claude did not answer within 0.5 seconds), "
            "and I hadn't found anything yet."
        )
    assert time.monotonic() - began >= 0.5
    assert silent.connections() == 1


# --- speech ---------------------------------------------------------------------------------------


class BrokenSpeaker:
    """A speaker whose engine fails every time, as a stuck or missing eSpeak would."""

    def __init__(self) -> None:
        self.asked = 0

    async def speak(self, text: str, language: str | None = None) -> VoiceNote:
        self.asked += 1
        raise SpeechError("Sorry, reading this reply aloud took too long.")


async def test_speech_failure_still_sends_the_text(
    make_assistant: Callable[..., Assistant], tennis: CountingCalendar
) -> None:
    assistant = make_assistant(tennis)
    assistant.voice.speaker = BrokenSpeaker()  # type: ignore[assignment]
    reply = await assistant.add_voice(await ask(assistant, "/say What's on tomorrow?"))

    assert reply.text == TEMPLATE_TOMORROW
    assert reply.voice is None and not reply.voice_only
    assert reply.steps[-1].name == "failed"


async def test_speech_failure_through_telegram_sends_the_text_and_no_voice(
    make_assistant: Callable[..., Assistant], tennis: CountingCalendar
) -> None:
    assistant = make_assistant(tennis)
    speaker = BrokenSpeaker()
    assistant.voice.speaker = speaker  # type: ignore[assignment]
    async with running_bot(assistant) as bot:  # type: ignore[arg-type]
        await bot.send(text_update("/say What's on tomorrow?"))

    assert speaker.asked == 1
    assert bot.api.seen() == [TEMPLATE_TOMORROW]
    assert bot.api.named("sendVoice") == []


# --- Telegram flood control -----------------------------------------------------------------------


class FloodedBotApi(FakeBotApi):
    """The fake Bot API, answering the first sendMessage with Telegram's documented 429."""

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after
        self.flooded = False

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, **kw: Any
    ) -> tuple[int, bytes]:
        if url.endswith("/sendMessage") and not self.flooded:
            self.flooded = True
            self.calls.append(("sendMessage (flooded)", request_data.parameters or {}))
            body = {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {self.retry_after}",
                "parameters": {"retry_after": self.retry_after},
            }
            return 429, json.dumps(body).encode()
        return await super().do_request(url, method, request_data, **kw)


async def test_telegram_flood_control_waits_retry_after_and_sends_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waited: list[float] = []
    real_sleep = asyncio.sleep

    async def recorded_sleep(seconds: float, *args: Any) -> None:
        waited.append(seconds)
        await real_sleep(0)

    api = FloodedBotApi(retry_after=7)
    async with running_bot(FakeCore(), api=api) as bot:
        monkeypatch.setattr(outbox.asyncio, "sleep", recorded_sleep)
        await Outbox(bot.application.bot, Immediate()).deliver(OWNER, Reply("Tennis at 18:30."))

    assert waited == [7.0]
    assert api.seen() == ["Tennis at 18:30."]  # sent once, after the wait
    assert [name for name, _ in api.calls if "sendMessage" in name] == [
        "sendMessage (flooded)",
        "sendMessage",
    ]


class VoiceReplyCore(FakeCore):
    """A core whose reply carries a voice note."""

    async def handle(self, message: Incoming) -> Reply:
        return Reply("Tennis at 18:30.", voice=VoiceNote(b"OggS-fake-opus", 2.0, "gmw/en"))


async def test_a_rejected_voice_upload_leaves_the_text_alone() -> None:
    api = FakeBotApi(failing=frozenset({"sendVoice"}))
    async with running_bot(VoiceReplyCore(), api=api) as bot:
        await bot.send(text_update("/say when is tennis?"))

    assert api.seen() == ["Tennis at 18:30."]
