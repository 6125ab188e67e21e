"""Google Calendar: what a user sees from the source and from signing in, replayed from cassettes.

Success cassettes were recorded by tests/record_google_cassettes.py against a local fake of the
documented API; error cassettes are hand-written. Every cassette is replayed with record_mode
"none", so a request the cassette doesn't hold fails the test instead of reaching the internet.
"""

from __future__ import annotations

import json
import socket
import stat
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httplib2
import pytest
import vcr

from integrations.calendar import CalendarAuthError, CalendarError, Event, google_auth
from integrations.calendar.google import (
    NOT_ANSWERING,
    CalendarInfo,
    GoogleCalendarSource,
    _to_event,
)
from integrations.calendar.google_auth import SCOPES, load_credentials, sign_in
from tests.fakes import silent_server
from tests.record_google_cassettes import (
    AUTH_CODE,
    CLIENT_ID,
    CLIENT_SECRET,
    FAMILY,
    LONDON,
    ONE_DAY,
    TOKEN_URI,
    WEEK,
    make_credentials,
)

CASSETTES = Path(__file__).parent / "cassettes" / "google"

PLAYBACK = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    match_on=("method", "scheme", "host", "port", "path", "query"),
    filter_headers=["authorization"],
    decode_compressed_response=True,
)


def source(*calendar_ids: str, expired: bool = False) -> GoogleCalendarSource:
    return GoogleCalendarSource(
        "google", list(calendar_ids) or ["primary"], make_credentials(TOKEN_URI, expired=expired)
    )


@pytest.fixture(scope="module")
def recorded_week() -> list[Event]:
    with PLAYBACK.use_cassette("events_two_calendars.yaml") as cassette:
        events = source("primary", FAMILY).events(*WEEK)
    assert cassette.all_played  # both pages of primary, then the family calendar
    return events


def local(event: Event) -> str:
    return event.start.astimezone(LONDON).strftime("%a %d %b %H:%M")


# --- events -------------------------------------------------------------------------------------


def test_week_from_two_calendars_in_start_order(recorded_week: list[Event]) -> None:
    assert [(local(event), event.title) for event in recorded_week] == [
        ("Thu 27 Mar 09:30", "Standup"),
        ("Fri 28 Mar 00:00", "Lisbon trip"),
        ("Fri 28 Mar 09:30", "Standup"),
        ("Sat 29 Mar 10:00", "Call grandma"),
        ("Mon 31 Mar 09:30", "Standup"),
        ("Mon 31 Mar 14:00", "1:1 with Sam"),
        ("Wed 02 Apr 09:30", "Standup"),
        ("Wed 02 Apr 16:00", "Dentist"),  # from the second page
    ]
    assert all(event.start.tzinfo is LONDON for event in recorded_week)


def test_recurring_event_keeps_its_local_time_across_the_clock_change(
    recorded_week: list[Event],
) -> None:
    standups = [event for event in recorded_week if event.title == "Standup"]
    assert [event.start.strftime("%d %b %H:%M %Z") for event in standups] == [
        "27 Mar 09:30 GMT",
        "28 Mar 09:30 GMT",
        "31 Mar 09:30 BST",
        "02 Apr 09:30 BST",
    ]
    assert all(event.end - event.start == timedelta(minutes=15) for event in standups)
    assert len({event.uid for event in standups}) == 4
    assert standups[0].location == "https://meet.google.com/abc-defg-hij"


def test_cancelled_occurrence_is_left_out(recorded_week: list[Event]) -> None:
    april_first = datetime(2025, 4, 1).date()
    assert not [event for event in recorded_week if event.start.date() == april_first]


def test_free_time_and_tentative_events_say_so() -> None:
    day = {"date": "2026-12-04"}, {"date": "2026-12-05"}
    items = [
        {"id": "a", "summary": "Working from home", "transparency": "transparent"},
        {"id": "b", "summary": "Time off"},
        {"id": "c", "summary": "Drinks?", "status": "tentative"},
    ]
    events = [
        _to_event({**item, "start": day[0], "end": day[1]}, "primary", LONDON, LONDON)
        for item in items
    ]

    assert [(event.busy, event.tentative) for event in events if event] == [
        (False, False),
        (True, False),
        (True, True),
    ]


def test_all_day_event_lasts_exactly_its_days(recorded_week: list[Event]) -> None:
    (trip,) = [event for event in recorded_week if event.title == "Lisbon trip"]
    assert trip.all_day
    # 28, 29 and 30 March; the clocks change on the 30th, so it is 71 hours, not 72.
    assert trip.start == datetime(2025, 3, 28, tzinfo=LONDON)
    assert trip.end == datetime(2025, 3, 31, tzinfo=LONDON)
    assert (trip.end.date() - trip.start.date()).days == 3


def test_an_event_shown_as_free_or_not_yet_confirmed_says_so() -> None:
    # Fields as the Events resource documents them: "transparency" is "opaque" (the default,
    # often left out) or "transparent"; "status" is "confirmed", "tentative" or "cancelled".
    def item(**fields: str) -> dict[str, Any]:
        return {"id": "x", "summary": "Bin day", "start": {"date": "2025-03-28"}, **fields}

    def read(**fields: str) -> tuple[bool, bool]:
        event = _to_event(item(**fields), "primary", LONDON, LONDON)
        assert event is not None
        return event.busy, event.tentative

    assert read() == (True, False)
    assert read(transparency="transparent") == (False, False)
    assert read(transparency="opaque", status="tentative") == (True, True)
    assert _to_event(item(status="cancelled"), "primary", LONDON, LONDON) is None


def test_events_name_their_calendar(recorded_week: list[Event]) -> None:
    calendars = {event.title: event.calendar for event in recorded_week}
    assert calendars["Call grandma"] == "Family"
    assert calendars["Dentist"] == "alex@example.com"
    (call,) = [event for event in recorded_week if event.title == "Call grandma"]
    assert call.uid == "4c2k8m0ne4gu7q5c4i8ps1vbbl"
    assert call.end - call.start == timedelta(hours=1)


def test_expired_token_is_refreshed_once_before_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, str, str]] = []
    real_request = httplib2.Http.request

    def spy(self: httplib2.Http, uri: str, method: str = "GET", **kwargs: Any) -> Any:
        headers = kwargs.get("headers") or {}
        sent.append((method, urlsplit(uri).netloc, headers.get("authorization", "")))
        return real_request(self, uri, method, **kwargs)

    monkeypatch.setattr(httplib2.Http, "request", spy)
    calendar = source(expired=True)
    with PLAYBACK.use_cassette("events_after_refresh.yaml") as cassette:
        events = calendar.events(*ONE_DAY)

    assert [(method, host) for method, host, _ in sent] == [
        ("POST", "oauth2.googleapis.com"),
        ("GET", "www.googleapis.com"),
    ]
    assert sent[1][2] == "Bearer ya29.a0AfH6SMfake-refreshed-access-token"
    assert cassette.all_played
    assert [(local(event), event.title) for event in events] == [
        ("Wed 02 Apr 09:30", "Standup"),
        ("Wed 02 Apr 16:00", "Dentist"),
    ]


def test_a_refreshed_sign_in_is_saved_so_the_next_start_does_not_refresh_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token_file = tmp_path / "google-token.json"  # never the user's own sign-in
    google_auth.save_credentials(make_credentials(TOKEN_URI, expired=True), token_file)
    sent: list[str] = []
    real_request = httplib2.Http.request

    def spy(self: httplib2.Http, uri: str, method: str = "GET", **kwargs: Any) -> Any:
        sent.append(f"{method} {urlsplit(uri).netloc}")
        return real_request(self, uri, method, **kwargs)

    monkeypatch.setattr(httplib2.Http, "request", spy)
    first_start = GoogleCalendarSource("google", ["primary"], load_credentials(token_file))
    with PLAYBACK.use_cassette("events_after_refresh.yaml"):
        first_start.events(*ONE_DAY)
    next_start = GoogleCalendarSource("google", ["primary"], load_credentials(token_file))
    with PLAYBACK.use_cassette("events_after_refresh.yaml"):
        events = next_start.events(*ONE_DAY)

    assert sent == [
        "POST oauth2.googleapis.com",  # the first start refreshes the expired token
        "GET www.googleapis.com",
        "GET www.googleapis.com",  # the next one uses the saved token as it is
    ]
    assert [event.title for event in events] == ["Standup", "Dentist"]
    saved = json.loads(token_file.read_text(encoding="utf-8"))
    assert saved["token"] == "ya29.a0AfH6SMfake-refreshed-access-token"
    assert saved["refresh_token"] == "1//0grecorded-refresh-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [token_file]  # no temporary file left behind


def test_events_are_placed_in_the_zone_of_the_query() -> None:
    # The same query as WEEK (on 27 March London is on UTC), but with a UTC start: events come
    # back in UTC, and the trip runs midnight to midnight UTC, 72 hours.
    utc_start = datetime(2025, 3, 27, tzinfo=UTC)
    assert utc_start.isoformat() == WEEK[0].isoformat()
    with PLAYBACK.use_cassette("events_two_calendars.yaml"):
        events = source("primary", FAMILY).events(utc_start, WEEK[1])
    (trip,) = [event for event in events if event.title == "Lisbon trip"]
    assert (trip.start, trip.end) == (
        datetime(2025, 3, 28, tzinfo=UTC),
        datetime(2025, 3, 31, tzinfo=UTC),
    )
    standup = [event for event in events if event.title == "Standup"][2]
    assert standup.start == datetime(2025, 3, 31, 8, 30, tzinfo=UTC)
    assert all(event.start.tzinfo is UTC for event in events)


def test_list_calendars() -> None:
    with PLAYBACK.use_cassette("calendar_list.yaml"):
        calendars = source().list_calendars()
    assert calendars == [
        CalendarInfo(id="alex@example.com", summary="alex@example.com", primary=True),
        CalendarInfo(id=FAMILY, summary="Family", primary=False),
    ]


# --- errors a user sees -------------------------------------------------------------------------


def test_rejected_token_asks_to_sign_in_again() -> None:
    with (
        PLAYBACK.use_cassette("events_401.yaml") as cassette,
        pytest.raises(CalendarAuthError) as e,
    ):
        source().events(*ONE_DAY)
    assert "tandem auth google" in str(e.value)
    assert cassette.all_played  # one refresh, one retry, then it gives up


def test_revoked_refresh_token_asks_to_sign_in_again() -> None:
    with (
        PLAYBACK.use_cassette("refresh_invalid_grant.yaml") as cassette,
        pytest.raises(CalendarAuthError) as error,
    ):
        source(expired=True).events(*ONE_DAY)
    assert "Sign in again with: tandem auth google" in str(error.value)
    assert cassette.all_played


@pytest.mark.parametrize(
    ("cassette", "calendar_id", "says"),
    [
        ("events_403_api_disabled.yaml", "primary", "Google Calendar API isn't enabled"),
        ("events_403_rate_limited.yaml", "primary", "quota"),
        ("events_403_not_shared.yaml", "colleague@example.com", "isn't shared"),
    ],
)
def test_refusal_names_the_likely_cause(
    cassette: str, calendar_id: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # googleapiclient retries a rate limit (the same answer, twice more) after random pauses.
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    with (
        PLAYBACK.use_cassette(cassette, allow_playback_repeats=True),
        pytest.raises(CalendarError) as error,
    ):
        source(calendar_id).events(*ONE_DAY)
    assert not isinstance(error.value, CalendarAuthError)
    assert says in str(error.value)


def test_unknown_calendar_is_named() -> None:
    calendar_id = "team-offsite@group.calendar.google.com"
    with PLAYBACK.use_cassette("events_404.yaml"), pytest.raises(CalendarError) as error:
        source(calendar_id).events(*ONE_DAY)
    assert repr(calendar_id) in str(error.value)


def test_silent_server_times_out_with_a_plain_message() -> None:
    with silent_server() as silent:
        calendar = GoogleCalendarSource(
            "google",
            ["primary"],
            make_credentials(TOKEN_URI),
            api_endpoint=f"http://127.0.0.1:{silent.port}/calendar/v3/",
            timeout=0.3,
        )
        with pytest.raises(CalendarError) as error:
            calendar.events(*ONE_DAY)
        assert silent.connections() == 1  # googleapiclient would try three times
    assert str(error.value) == NOT_ANSWERING


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        source().events(datetime(2025, 4, 2), datetime(2025, 4, 3))


# --- signing in ---------------------------------------------------------------------------------


@pytest.fixture
def client_secret(tmp_path: Path) -> Path:
    path = tmp_path / "client-secret.json"
    path.write_text(
        '{"installed": {'
        f'"client_id": "{CLIENT_ID}", "project_id": "tandem-test", '
        '"auth_uri": "https://accounts.google.com/o/oauth2/auth", '
        f'"token_uri": "{TOKEN_URI}", '
        f'"client_secret": "{CLIENT_SECRET}", "redirect_uris": ["http://localhost"]'
        "}}",
        encoding="utf-8",
    )
    return path


class Terminal:
    """Stands in for print and input: records what was shown, answers like the user would."""

    def __init__(self, answer: Callable[[str], str] = lambda shown: "") -> None:
        self.lines: list[str] = []
        self._answer = answer

    def print(self, *parts: object) -> None:
        self.lines.append(" ".join(map(str, parts)))

    def input(self, prompt: str) -> str:
        return self._answer("\n".join(self.lines))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def auth_url(shown: str) -> str:
    return next(word for word in shown.split() if word.startswith("https://accounts.google.com/"))


def landing_address(shown: str, port: int) -> str:
    """Where the browser lands after the user agrees: the redirect with Google's code."""
    state = parse_qs(urlsplit(auth_url(shown)).query)["state"][0]
    return (
        f"http://localhost:{port}/?state={state}&code={quote(AUTH_CODE)}&scope={quote(SCOPES[0])}"
    )


def test_sign_in_by_pasting_the_failed_address(client_secret: Path, tmp_path: Path) -> None:
    token_file = tmp_path / "fresh-folder" / "google-token.json"
    terminal = Terminal(answer=lambda shown: landing_address(shown, 8085))

    with PLAYBACK.use_cassette("sign_in_paste.yaml") as cassette:
        credentials = sign_in(
            client_secret, token_file, paste=True, print=terminal.print, input=terminal.input
        )

    assert cassette.all_played
    query = parse_qs(urlsplit(auth_url(terminal.text)).query)
    assert query["redirect_uri"] == ["http://localhost:8085/"]
    assert query["scope"] == SCOPES
    assert query["access_type"] == ["offline"]
    assert credentials.refresh_token == "1//0gfake-refresh-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
    assert list(token_file.parent.iterdir()) == [token_file]  # no temporary file left behind
    assert load_credentials(token_file).refresh_token == "1//0gfake-refresh-token"
    assert "In production" in terminal.text
    assert "7 days" in terminal.text


def test_sign_in_through_the_local_server(
    client_secret: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(google_auth, "BROWSER_WAIT_SECONDS", 10)
    port = free_port()
    browser: list[threading.Thread] = []

    def show(*parts: object) -> None:
        terminal.print(*parts)
        if "https://accounts.google.com/" in terminal.text and not browser:
            # The user's browser, following Google's redirect. A raw socket, not an HTTP client:
            # HTTP from a thread while vcrpy is patching could un-patch clients for a moment.
            target = landing_address(terminal.text, port)
            browser.append(threading.Thread(target=follow_redirect, args=(port, target)))
            browser[0].start()

    terminal = Terminal()
    with PLAYBACK.use_cassette("sign_in_paste.yaml"):
        credentials = sign_in(client_secret, tmp_path / "token.json", port=port, print=show)
    browser[0].join(timeout=5)

    assert f"ssh -L {port}:localhost:{port}" in terminal.text
    assert credentials.refresh_token == "1//0gfake-refresh-token"
    assert stat.S_IMODE((tmp_path / "token.json").stat().st_mode) == 0o600


def test_pasting_a_refusal_is_reported(client_secret: Path, tmp_path: Path) -> None:
    terminal = Terminal(answer=lambda _: "http://localhost:8085/?error=access_denied&state=x")
    with pytest.raises(CalendarAuthError) as error:
        sign_in(
            client_secret,
            tmp_path / "t.json",
            paste=True,
            print=terminal.print,
            input=terminal.input,
        )
    assert "access_denied" in str(error.value)
    assert not (tmp_path / "t.json").exists()


def test_missing_client_secret_explains_how_to_make_one(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "client-secret.json"
    with pytest.raises(CalendarError) as error:
        sign_in(missing, tmp_path / "token.json", paste=True, print=lambda *_: None)
    assert '"Desktop app"' in str(error.value)
    assert str(missing) in str(error.value)


@pytest.mark.parametrize("content", [None, "{not json", '{"token": "only half a sign-in"}'])
def test_unusable_token_file_asks_to_sign_in(tmp_path: Path, content: str | None) -> None:
    token_file = tmp_path / "google-token.json"
    if content is not None:
        token_file.write_text(content, encoding="utf-8")
    with pytest.raises(CalendarAuthError) as error:
        load_credentials(token_file)
    assert "tandem auth google" in str(error.value)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def follow_redirect(port: int, address: str) -> None:
    path = address.removeprefix(f"http://localhost:{port}")
    with socket.create_connection(("localhost", port), timeout=5) as connection:
        connection.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n".encode())
        connection.recv(4096)


def test_attendees_are_named_without_the_user_and_those_who_declined() -> None:
    guests = [
        {"email": "me@example.org", "self": True, "responseStatus": "accepted"},
        {"email": "c.okafor@example.org", "displayName": "Chidi Okafor"},
        {"email": "sam@example.org", "responseStatus": "tentative"},
        {"email": "lee@example.org", "displayName": "Lee Park", "responseStatus": "declined"},
    ]
    item = {"id": "x", "summary": "Review", "start": {"date": "2025-03-28"}, "attendees": guests}
    event = _to_event(item, "primary", LONDON, LONDON)
    assert event is not None and event.attendees == ("Chidi Okafor", "sam@example.org")
