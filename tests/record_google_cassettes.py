"""Record the Google Calendar cassettes that tests/test_google_calendar.py replays.

Starts tests/fakes/google_calendar_server.py in a subprocess (not a thread: a thread's real HTTP
while vcrpy is active can un-patch the HTTP clients process-wide for a moment), points the real
client libraries at it, records with vcrpy, and rewrites the fake's address to Google's hosts, so
the cassettes read like the real API. The libraries parsing the fake's answers while recording is
the check that the JSON has the right shape.

Run from the project root:

    .venv/bin/python -m tests.record_google_cassettes

The error cassettes (401, 403, 404, invalid_grant) are hand-written and left alone.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit
from zoneinfo import ZoneInfo

import vcr
from google.oauth2.credentials import Credentials
from vcr.request import Request

from integrations.calendar.google import GoogleCalendarSource
from integrations.calendar.google_auth import SCOPES, sign_in
from tests.fakes import report, running, start_afresh, without_varying_headers

HERE = Path(__file__).resolve().parent
CASSETTES = HERE / "cassettes" / "google"

API_HOST = "https://www.googleapis.com"
TOKEN_URI = "https://oauth2.googleapis.com/token"

# The tests replay these exact queries: keep them in step with tests/test_google_calendar.py.
LONDON = ZoneInfo("Europe/London")
WEEK = (datetime(2025, 3, 27, tzinfo=LONDON), datetime(2025, 4, 3, tzinfo=LONDON))
ONE_DAY = (datetime(2025, 4, 2, tzinfo=LONDON), datetime(2025, 4, 3, tzinfo=LONDON))
FAMILY = "family0x5sd8kq@group.calendar.google.com"
PASTE_PORT = 8085
AUTH_CODE = "4/0AfakeAuthorizationCode"

CLIENT_ID = "1234567890-tandemtest.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-not-a-real-secret"


def google_vcr(fake_base: str, record_mode: str = "all") -> vcr.VCR:
    """A VCR that stores the fake's traffic as if it had gone to Google."""

    def to_google(request: Request) -> Request:
        # Idempotent: vcrpy also runs this on every request it matches and on loaded cassettes.
        if request.uri.startswith(f"{fake_base}/token"):
            request.uri = TOKEN_URI + request.uri.removeprefix(f"{fake_base}/token")
        elif request.uri.startswith(f"{fake_base}/calendar/"):
            request.uri = API_HOST + request.uri.removeprefix(fake_base)
        return request

    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode=record_mode,
        match_on=("method", "scheme", "host", "port", "path", "query"),
        filter_headers=["authorization"],
        filter_post_data_parameters=["client_secret", "refresh_token", "code", "code_verifier"],
        before_record_request=to_google,
        before_record_response=without_varying_headers,
        decode_compressed_response=True,
    )


def make_credentials(token_uri: str, *, expired: bool = False) -> Credentials:
    return Credentials(
        token=None if expired else "ya29.a0AfH6SMrecorded-access-token",
        refresh_token="1//0grecorded-refresh-token",
        token_uri=token_uri,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scopes=SCOPES,
        # A fixed date long past: expired whatever the clock says.
        expiry=datetime(2020, 1, 1) if expired else None,
    )


@contextlib.contextmanager
def insecure_transport_for_fake() -> Iterator[None]:
    # requests-oauthlib refuses a plain-http token endpoint; only the local fake is plain http.
    # The product never sets this: the real token endpoint is https.
    previous = os.environ.get("OAUTHLIB_INSECURE_TRANSPORT")
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["OAUTHLIB_INSECURE_TRANSPORT"]
        else:
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = previous


def record_events(recorder: vcr.VCR, base: str) -> None:
    source = GoogleCalendarSource(
        "google", ["primary", FAMILY], make_credentials(f"{base}/token"), f"{base}/calendar/v3/"
    )
    with recorder.use_cassette("events_two_calendars.yaml") as cassette:
        events = source.events(*WEEK)
    report("events_two_calendars.yaml", cassette, [f"{e.start} {e.title}" for e in events])


def record_refresh(recorder: vcr.VCR, base: str) -> None:
    credentials = make_credentials(f"{base}/token", expired=True)
    source = GoogleCalendarSource("google", ["primary"], credentials, f"{base}/calendar/v3/")
    with recorder.use_cassette("events_after_refresh.yaml") as cassette:
        events = source.events(*ONE_DAY)
    report("events_after_refresh.yaml", cassette, [f"{e.start} {e.title}" for e in events])


def record_calendar_list(recorder: vcr.VCR, base: str) -> None:
    source = GoogleCalendarSource(
        "google", ["primary"], make_credentials(f"{base}/token"), f"{base}/calendar/v3/"
    )
    with recorder.use_cassette("calendar_list.yaml") as cassette:
        calendars = source.list_calendars()
    report("calendar_list.yaml", cassette, [str(calendar) for calendar in calendars])


def record_sign_in(recorder: vcr.VCR, base: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        secret = Path(folder) / "client-secret.json"
        secret.write_text(client_secret_json(token_uri=f"{base}/token"), encoding="utf-8")
        printed: list[str] = []
        with insecure_transport_for_fake(), recorder.use_cassette("sign_in_paste.yaml") as cassette:
            sign_in(
                secret,
                Path(folder) / "token.json",
                port=PASTE_PORT,
                paste=True,
                print=lambda *parts: printed.append(" ".join(map(str, parts))),
                input=lambda _prompt: redirect_from(printed[0], PASTE_PORT),
            )
    report("sign_in_paste.yaml", cassette, [])


def client_secret_json(token_uri: str = TOKEN_URI) -> str:
    """A client secret file as Google Cloud Console downloads it for a "Desktop app" client."""
    return (
        '{"installed": {'
        f'"client_id": "{CLIENT_ID}", "project_id": "tandem-test", '
        '"auth_uri": "https://accounts.google.com/o/oauth2/auth", '
        f'"token_uri": "{token_uri}", '
        '"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs", '
        f'"client_secret": "{CLIENT_SECRET}", "redirect_uris": ["http://localhost"]'
        "}}"
    )


def redirect_from(instructions: str, port: int) -> str:
    """The address a browser lands on after the user says yes to the URL in `instructions`."""
    url = next(word for word in instructions.split() if word.startswith("https://accounts."))
    state = parse_qs(urlsplit(url).query)["state"][0]
    return (
        f"http://localhost:{port}/?state={state}&code={quote(AUTH_CODE)}&scope={quote(SCOPES[0])}"
    )


RECORDED = [
    "events_two_calendars.yaml",
    "events_after_refresh.yaml",
    "calendar_list.yaml",
    "sign_in_paste.yaml",
]


def main() -> None:
    start_afresh(CASSETTES, RECORDED)
    with running("tests.fakes.google_calendar_server") as base:
        recorder = google_vcr(base)
        record_events(recorder, base)
        record_refresh(recorder, base)
        record_calendar_list(recorder, base)
        record_sign_in(recorder, base)


if __name__ == "__main__":
    main()
