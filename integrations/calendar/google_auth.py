"""Signing in to Google for read-only calendar access, and loading the saved sign-in.

The bot usually runs on a server without a browser. Google shut down the copy-a-code flow in 2023
and the device flow does not allow Calendar scopes, so sign-in uses a "Desktop app" OAuth client
and a redirect to http://localhost:PORT/, which either reaches a local server (directly, or through
`ssh -L PORT:localhost:PORT server`) or fails in the browser, whose address the user pastes back.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import requests
from google.auth.transport import Request
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import InstalledAppFlow, WSGITimeoutError
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from integrations.calendar import CalendarAuthError, CalendarError

SCOPES = ["https://www.googleapis.com/auth/calendar.readonly"]
# Tokens granted for these also allow reading events, so a sign-in with any of them is usable.
_READING_SCOPES = {
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/calendar.events.readonly",
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/calendar.events",
}
SIGN_IN_COMMAND = "tandem auth google"
SIGN_IN_AGAIN = (
    f"Your Google sign-in has expired or was revoked. Sign in again with: {SIGN_IN_COMMAND}"
)
BROWSER_WAIT_SECONDS = 600

_PASTE_ATTEMPTS = 3

Printer = Callable[..., None]
Reader = Callable[[str], str]

log = logging.getLogger(__name__)


class SavedCredentials(Credentials):
    """A sign-in read from a file, written back to it whenever its access token is refreshed, so
    that the next start uses the token while it lasts instead of refreshing it again."""

    saved_at: Path | None = None

    def refresh(self, request: Request) -> None:
        super().refresh(request)
        if self.saved_at is None:
            return
        try:
            save_credentials(self, self.saved_at)
        except OSError as exc:  # a read-only folder costs a refresh at the next start, no more
            log.warning("couldn't save the refreshed Google sign-in to %s: %s", self.saved_at, exc)


def load_credentials(token_file: str | Path) -> SavedCredentials:
    """The saved sign-in. Refreshing the access token happens by itself when it is used, and
    the refreshed token is saved back to `token_file`."""
    path = Path(token_file).expanduser()
    if not path.exists():
        raise CalendarAuthError(
            f"Tandem is not signed in to Google yet (no saved sign-in at {path}). "
            f"Sign in with: {SIGN_IN_COMMAND}"
        )
    try:
        credentials = SavedCredentials.from_authorized_user_file(str(path))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        # ValueError covers broken JSON and missing fields; the others a file of the wrong shape.
        raise CalendarAuthError(
            f"The saved Google sign-in at {path} can't be used ({exc}). "
            f"Sign in again with: {SIGN_IN_COMMAND}"
        ) from None
    if credentials.scopes and not _READING_SCOPES.intersection(credentials.scopes):
        raise CalendarAuthError(
            f"The saved Google sign-in at {path} doesn't allow reading calendars. "
            f"Sign in again with: {SIGN_IN_COMMAND}"
        )
    credentials.saved_at = path
    return credentials


def sign_in(
    client_secret_file: str | Path,
    token_file: str | Path,
    port: int = 8085,
    paste: bool = False,
    print: Printer = builtins.print,
    input: Reader = builtins.input,
) -> Credentials:
    """Ask the user to sign in to Google in a browser and save the sign-in to `token_file`.

    Without `paste`, a one-shot server on localhost:PORT receives Google's redirect. With `paste`,
    nothing listens: the user copies the address of the page that failed to load back here.
    """
    secret_path = Path(client_secret_file).expanduser()
    token_path = Path(token_file).expanduser()
    flow = _make_flow(secret_path)
    try:
        if paste:
            credentials = _sign_in_by_paste(flow, port, print, input)
        else:
            credentials = _sign_in_by_local_server(flow, port, print)
    except OAuth2Error as exc:
        reason = exc.description or exc.error
        raise CalendarAuthError(
            f"Google did not accept the sign-in ({reason}). Try again: {SIGN_IN_COMMAND}"
        ) from exc
    except requests.RequestException as exc:
        raise CalendarError(
            "Couldn't reach Google to finish signing in. Check the internet connection and "
            f"try again: {SIGN_IN_COMMAND}"
        ) from exc
    if not credentials.refresh_token:
        raise CalendarAuthError(
            "Google didn't hand out a long-lived sign-in. Remove Tandem's access at "
            f"https://myaccount.google.com/permissions, then run {SIGN_IN_COMMAND} again."
        )
    save_credentials(credentials, token_path)
    print(
        f"Signed in. The sign-in is saved in {token_path} (readable only by you).\n"
        "Note: if your OAuth consent screen is External and its publishing status is still "
        '"Testing", Google revokes this sign-in after 7 days. To avoid that, publish it: '
        'Google Cloud Console > Google Auth Platform > Audience > Publish app ("In production").'
    )
    return credentials


def save_credentials(credentials: Credentials, token_file: str | Path) -> None:
    """Write the sign-in readable only by its owner: folder 700, file 600 from the first byte."""
    path = Path(token_file).expanduser()
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        # mkstemp creates the file with mode 600; rename then swaps it in whole, so a crash
        # never leaves a half-written or world-readable token behind.
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(credentials.to_json())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


class _AnnouncingFlow(InstalledAppFlow):
    """An InstalledAppFlow that shows the authorization URL through a given `print`.

    `run_local_server` prints the URL with the built-in print; routing it through the caller's
    function keeps all of sign-in's output in one place (a terminal, a test, a log).
    """

    announce: Callable[[str], None] | None = None

    def authorization_url(self, **kwargs: Any) -> tuple[str, str]:
        url, state = super().authorization_url(**kwargs)
        if self.announce is not None:
            self.announce(url)
        return url, state


def _make_flow(secret_path: Path) -> _AnnouncingFlow:
    if not secret_path.exists():
        raise CalendarError(_missing_client_secret(secret_path))
    try:
        return _AnnouncingFlow.from_client_secrets_file(str(secret_path), scopes=SCOPES)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CalendarError(
            f"{secret_path} is not a Google OAuth client file ({exc}).\n\n"
            + _missing_client_secret(secret_path)
        ) from None


def _sign_in_by_local_server(flow: _AnnouncingFlow, port: int, print: Printer) -> Credentials:
    print(
        f"Tandem will wait for Google to send your browser back to http://localhost:{port}/.\n"
        "If Tandem runs on another machine (a server you reach over SSH), first forward the port "
        "from the computer that has the browser, in a second terminal:\n"
        f"    ssh -L {port}:localhost:{port} you@your-server\n"
        "and keep it open while you sign in. No SSH? Stop this (Ctrl+C) and sign in by pasting "
        f"the address instead: {SIGN_IN_COMMAND} --paste"
    )
    flow.announce = lambda url: print(
        f"\nOpen this address in your browser and sign in:\n\n{url}\n"
    )
    try:
        credentials = flow.run_local_server(
            host="localhost",
            port=port,
            open_browser=False,
            authorization_prompt_message=None,
            success_message="Tandem is signed in to Google. You can close this tab.",
            timeout_seconds=BROWSER_WAIT_SECONDS,
            prompt="consent",
        )
    except WSGITimeoutError as exc:
        raise CalendarError(
            f"No answer from the browser within {BROWSER_WAIT_SECONDS // 60} minutes. "
            f"Try again: {SIGN_IN_COMMAND}"
        ) from exc
    except OSError as exc:
        raise CalendarError(
            f"Port {port} on this machine can't be used ({exc.strerror or exc}). "
            f"Choose another one: {SIGN_IN_COMMAND} --port 8086"
        ) from exc
    return credentials


def _sign_in_by_paste(
    flow: _AnnouncingFlow, port: int, print: Printer, input: Reader
) -> Credentials:
    redirect_uri = f"http://localhost:{port}/"
    flow.redirect_uri = redirect_uri
    # prompt=consent makes Google hand out a refresh token even to an account that said yes before.
    url, _state = flow.authorization_url(prompt="consent")
    print(
        "1. Open this address in a browser on any device and sign in:\n\n"
        f"{url}\n\n"
        f"2. Google then sends the browser to {redirect_uri}..., which fails to load "
        '("This site can\'t be reached"). That is expected.\n'
        "3. Copy the whole address from the browser's address bar and paste it here."
    )
    for _ in range(_PASTE_ATTEMPTS):
        pasted = input("Address: ").strip().strip("'\"<>")
        if pasted.startswith("localhost:"):
            pasted = f"http://{pasted}"  # some browsers hide the scheme in the address bar
        query = parse_qs(urlsplit(pasted).query)
        if "error" in query:
            raise CalendarAuthError(
                f"Google reported {query['error'][0]!r}: the sign-in was cancelled or refused. "
                f"Try again: {SIGN_IN_COMMAND} --paste"
            )
        if pasted.startswith(redirect_uri) and "code" in query and "state" in query:
            # oauthlib refuses an authorization response over plain http. The redirect never left
            # this user's browser and the code is exchanged with Google over https, so reading the
            # pasted address as https is safe and OAUTHLIB_INSECURE_TRANSPORT stays unset.
            flow.fetch_token(
                authorization_response=urlunsplit(urlsplit(pasted)._replace(scheme="https"))
            )
            return flow.credentials
        print(
            f"That doesn't look like it: the address starts with {redirect_uri} and contains "
            "code= and state=. Paste the whole address."
        )
    raise CalendarAuthError(f"No sign-in address was pasted. Try again: {SIGN_IN_COMMAND} --paste")


def _missing_client_secret(path: Path) -> str:
    return (
        f"Tandem needs a Google OAuth client file at {path}. To create one (once):\n"
        "  1. Open https://console.cloud.google.com/, create or choose a project.\n"
        '  2. APIs & Services > Library: enable "Google Calendar API".\n'
        "  3. Google Auth Platform (OAuth consent screen): set it up as External, add your "
        'address as a test user, then publish it ("In production") so sign-ins don\'t expire '
        "after 7 days.\n"
        "  4. Google Auth Platform > Clients > Create client: application type "
        '"Desktop app".\n'
        f"  5. Download its JSON file and save it as {path}\n"
        "     (or point client_secret_file in the config at it).\n"
        f"Then run: {SIGN_IN_COMMAND}"
    )
