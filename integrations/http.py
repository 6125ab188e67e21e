"""HTTP for the integrations that use requests (Open-Meteo, calendars at an https address).

One recipe, so each service is asked the same way:

    session = retrying_session(timeout=10)
    response = session.get(url)  # 429/5xx retried, Retry-After honoured, never unbounded

urllib3's `Retry` does all the retrying — no loop is written here: two retries on 429, 500, 502,
503 and 504 and on refused connections, with exponential backoff plus random jitter, honouring
Retry-After. Two things are bent for a chat reply, which someone is waiting for:

- a Retry-After longer than `MAX_RETRY_AFTER_SECONDS` ends the retries at once: the caller gets
  that 429 or 503 as it is, and says the service is busy, instead of holding the reply a minute;
- a timeout is not retried: asking a silent server again would double the wait, so the timeout
  given is what the user waits at most for an answer that never comes.

The last answer comes back as it is (`raise_on_status=False`), so its status makes the message.

`download()` reads a whole body within a size cap and one deadline for all of it: a per-read
timeout alone lets a server that sends a byte every few seconds hold the caller forever.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Self

import requests
from requests.adapters import HTTPAdapter
from urllib3 import BaseHTTPResponse
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util.retry import Retry

USER_AGENT = "Tandem (calendar assistant)"
# A server asking for a longer pause than this gets no retry: a chat reply can't wait that long.
MAX_RETRY_AFTER_SECONDS = 5.0
RETRY_STATUSES = (429, 500, 502, 503, 504)


class ChatRetry(Retry):
    """urllib3's Retry for a reply someone waits for: no retry after a timeout or before a long
    Retry-After (see the module docstring). Everything else is urllib3's own behaviour."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if isinstance(error, ReadTimeoutError):
            raise error  # requests turns it into its ReadTimeout
        if isinstance(error, ConnectTimeoutError) and not isinstance(error, NewConnectionError):
            # NewConnectionError (refused, unknown host) subclasses ConnectTimeoutError but fails
            # fast, so it is retried; a real connect timeout is not. requests: ConnectTimeout.
            raise MaxRetryError(_pool, url or "", error) from error
        wait = self.get_retry_after(response) if response is not None else None
        if wait is not None and wait > MAX_RETRY_AFTER_SECONDS:
            # With raise_on_status=False urllib3 hands back this response (a 429 or 503) as is.
            raise MaxRetryError(_pool, url or "", ResponseError(f"Retry-After {wait:g}s"))
        return super().increment(method, url, response, error, _pool, _stacktrace)


# Two retries: the first at once, the second after 1 s plus up to 0.5 s of jitter (so clients
# that failed together don't come back together), or after what Retry-After says, up to 5 s.
RETRY = ChatRetry(
    total=2,
    backoff_factor=0.5,
    backoff_jitter=0.5,
    backoff_max=MAX_RETRY_AFTER_SECONDS,
    status_forcelist=RETRY_STATUSES,
    allowed_methods=frozenset({"GET"}),
    respect_retry_after_header=True,
    raise_on_status=False,
)


class _Adapter(HTTPAdapter):
    """An HTTPAdapter with the retry policy and a timeout for requests that name none."""

    def __init__(self, timeout: float, retries: Retry) -> None:
        super().__init__(max_retries=retries)
        self._timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)


def retrying_session(
    timeout: float, retries: Retry = RETRY, user_agent: str = USER_AGENT
) -> requests.Session:
    """A requests Session that retries as `retries` says and never waits without a timeout."""
    session = requests.Session()
    adapter = _Adapter(timeout, retries)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = user_agent
    return session


class TooLarge(Exception):
    """The body is bigger than the cap the caller set."""


class TooSlow(Exception):
    """The body did not arrive whole before the deadline."""


def download(
    session: requests.Session, url: str, *, seconds: float, max_bytes: int
) -> tuple[requests.Response, bytes]:
    """GET `url` whole within `seconds` (connecting, waiting and reading together) and at most
    `max_bytes` (after decompression): the response and its body. Raises TooSlow, TooLarge, or
    what requests raises.

    The transfer runs in a thread of its own, so the caller's wait ends at the deadline whatever
    the server does; then the socket is shut, which ends a read waiting for the next byte."""
    done: Future[tuple[requests.Response, bytes]] = Future()
    started: list[requests.Response] = []
    given_up = threading.Event()

    def transfer() -> None:
        try:
            done.set_result(_read_whole(session, url, max_bytes, started, given_up))
        except BaseException as exc:
            done.set_exception(exc)

    threading.Thread(target=transfer, name="download", daemon=True).start()
    try:
        return done.result(timeout=seconds)
    except TimeoutError:
        given_up.set()
        for response in started:
            response.raw.shutdown()
        raise TooSlow from None


def _read_whole(
    session: requests.Session,
    url: str,
    max_bytes: int,
    started: list[requests.Response],
    given_up: threading.Event,
) -> tuple[requests.Response, bytes]:
    with session.get(url, stream=True) as response:
        started.append(response)
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise TooLarge
        body = bytearray()
        for chunk in response.iter_content(64 * 1024):
            body += chunk
            if len(body) > max_bytes:
                raise TooLarge
            if given_up.is_set():
                raise TooSlow
        return response, bytes(body)
