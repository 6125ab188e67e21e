"""Where an eval's HTTP traffic goes: replayed from a recording, recorded, or live."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter

from bot.config import LoadedConfig, Mode
from bot.eval.scenarios import EvalError, Scenarios
from bot.wiring import open_llm
from integrations.http import RETRY
from integrations.llm import Claude

if TYPE_CHECKING:
    from vcr.request import Request


ANTHROPIC_API = "https://api.anthropic.com"
# Replays never reach the API: any key will do, and none is ever recorded.
PLACEHOLDER_KEY = "sk-ant-replay-placeholder"
ALL_MODES: tuple[Mode, ...] = ("workflow", "agent", "hybrid")


class OneRequestAtATime(requests.Session):
    """Open-Meteo's session as OpenMeteo builds it, except that requests take turns.

    While vcrpy replays or records, it swaps the HTTP clients' connection classes back for a
    moment, process-wide, whenever it opens a connection or sends a real request: a request
    from another thread at that moment escapes the cassette (left out of a recording, or sent
    for real during a replay). The forecasts an agent asks for together run in threads, so
    under vcrpy their requests go one at a time.
    """

    def __init__(self) -> None:
        super().__init__()
        self._turn = threading.Lock()
        adapter = HTTPAdapter(max_retries=RETRY)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self.headers["User-Agent"] = "Tandem (calendar assistant)"

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        with self._turn:
            return super().request(*args, **kwargs)


# --- the HTTP traffic: replayed, recorded or live -----------------------------------------------


@contextlib.contextmanager
def replaying(recording: Path, record_command: str) -> Iterator[None]:
    """Answer every HTTP request from the recording; any request not in it fails the eval."""
    if not recording.is_file():
        raise EvalError(
            f"There is no recording at {recording}. Record one against the real APIs:\n"
            f"  {record_command}"
        )
    seen: list[Request] = []
    watching = False

    def notice(request: Request) -> Request:
        # vcrpy also runs this hook on the recorded requests when it loads them: skip those.
        if watching:
            seen.append(request)
        return request

    cassette_vcr = _vcr("none", before_record_request=notice)
    # Repeats: the same question in two modes is the same request, with the same answer.
    with (
        cassette_vcr.use_cassette(str(recording), allow_playback_repeats=True) as cassette,
        _misses_unlogged(),
    ):
        watching = True
        yield
        watching = False
        missed = list(dict.fromkeys(f"{r.method} {r.uri}" for r in seen if r not in cassette))
    if missed:
        shown = "\n".join(f"  {line}" for line in missed[:5])
        more = f"\n  ... and {len(missed) - 5} more" if len(missed) > 5 else ""
        raise EvalError(
            f"{len(missed)} request(s) are not in the recording {recording}:\n{shown}{more}\n"
            "The scenarios, the config or Tandem changed since it was recorded. Record it anew "
            f"against the real APIs:\n  {record_command}"
        )


class _NoMisses(logging.Filter):
    """Drops log records about a request missing from a replayed recording: the eval reports
    those once, in words, at the end, not as a traceback per failed tool or answer."""

    def filter(self, record: logging.LogRecord) -> bool:
        from vcr.errors import CannotOverwriteExistingCassetteException

        error = record.exc_info[1] if record.exc_info else None
        while error is not None:
            if isinstance(error, CannotOverwriteExistingCassetteException):
                return False
            error = error.__cause__ or error.__context__
        return True


@contextlib.contextmanager
def _misses_unlogged() -> Iterator[None]:
    handlers = [*logging.getLogger().handlers, logging.lastResort]
    hide = _NoMisses()
    for handler in filter(None, handlers):
        # First in line: the redaction filter after it turns the exception into plain text.
        handler.filters.insert(0, hide)
    try:
        yield
    finally:
        for handler in filter(None, handlers):
            handler.removeFilter(hide)


@contextlib.contextmanager
def recording_to(
    recording: Path,
    before_record_request: Callable[[Request], Request] | None = None,
    before_record_response: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Iterator[None]:
    """Record every HTTP request into `recording`, replacing it only once all went well."""
    recording.parent.mkdir(parents=True, exist_ok=True)
    partial = recording.with_name(recording.name + ".partial")
    partial.unlink(missing_ok=True)  # record mode "all" would keep what an old file holds
    recorder = _vcr("all", before_record_request, before_record_response)
    with recorder.use_cassette(str(partial)):
        yield
    tidy(partial)
    os.replace(partial, recording)


def tidy(recording: Path) -> None:
    """Keep each request once, and put the requests made at the same time (the tool calls of
    one model answer run in threads) in the order of their addresses: recording again then
    changes only what really changed. A replay matches whole requests, so order is free."""
    from vcr.serializers import yamlserializer

    cassette = yamlserializer.deserialize(recording.read_text(encoding="utf-8"))
    kept: list[dict[str, Any]] = []
    together: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for interaction in cassette["interactions"]:
        request = interaction["request"]
        key = (request["method"], request["uri"], str(request["body"]))
        if key in seen:
            continue
        seen.add(key)
        if request["uri"].startswith(ANTHROPIC_API):  # model calls are made one at a time
            kept += sorted(together, key=lambda i: i["request"]["uri"])
            together = []
            kept.append(interaction)
        else:
            together.append(interaction)
    kept += sorted(together, key=lambda i: i["request"]["uri"])
    tidied = yamlserializer.serialize({**cassette, "interactions": kept})
    recording.write_text(tidied, encoding="utf-8")


def _vcr(
    record_mode: str,
    before_record_request: Callable[[Request], Request] | None = None,
    before_record_response: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Any:
    import vcr  # imported here: only the eval replays or records

    return vcr.VCR(
        record_mode=record_mode,
        # The Messages API is told apart by its body, Open-Meteo by its query; the other has
        # none, so one list serves both.
        match_on=("method", "scheme", "host", "path", "query", "body"),
        filter_headers=["authorization", "x-api-key"],
        before_record_request=before_record_request,
        before_record_response=before_record_response or _without_varying_headers,
        decode_compressed_response=True,
    )


def _without_varying_headers(response: dict[str, Any]) -> dict[str, Any]:
    for name in ("Date", "date", "Server", "server"):
        response["headers"].pop(name, None)
    return response


@dataclass(frozen=True)
class Traffic:
    """Where an eval's HTTP goes: the Claude client, the vcrpy context around the runs, and
    whether vcrpy is active (then weather requests take turns: see OneRequestAtATime)."""

    llm: Claude | None
    context: contextlib.AbstractContextManager[None]
    source: str  # in words, for the report
    under_vcr: bool


def choose_traffic(
    scenarios: Scenarios,
    config: LoadedConfig,
    api_key: str | None,
    record: bool,
    before_record_request: Callable[[Request], Request] | None = None,
    before_record_response: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Traffic:
    """Replay without a key; with one, run live, and record too when asked."""
    settings = config.settings.llm
    if not api_key:
        if record:
            raise EvalError("--record needs ANTHROPIC_API_KEY: recording talks to the real APIs.")
        # No retries: a miss shows at once. The address as recorded, whatever
        # ANTHROPIC_BASE_URL says.
        llm = open_llm(settings, PLACEHOLDER_KEY, max_retries=0, base_url=ANTHROPIC_API)
        source = f"replayed from {scenarios.recording} (times: local processing only)"
        record_command = (
            f"ANTHROPIC_API_KEY=sk-ant-... tandem eval {scenarios.path} --config {config.path} "
            "--record"
        )
        return Traffic(llm, replaying(scenarios.recording, record_command), source, True)
    llm = open_llm(settings, api_key)
    if not record:
        return Traffic(llm, contextlib.nullcontext(), "live", False)
    recorder = recording_to(scenarios.recording, before_record_request, before_record_response)
    return Traffic(llm, recorder, f"recorded into {scenarios.recording}", True)
