"""`tandem eval`: the same conversations in every mode, judged and measured side by side.

A scenarios file (see config/scenarios.example.yaml) fixes the clock and lists conversations;
each turn names the facts its answer must contain and the tools it must call. Every scenario
runs in every mode, in a chat of its own, on an assistant built from the config with a fresh
temporary memory. The report says, per mode, how many scenarios passed, how many model calls and
tokens the answers took, what they cost (the config's price table) and how long they took; per
scenario, what passed and why the rest failed; and the answers themselves, with the path each
took.

Where the HTTP traffic comes from:
- no ANTHROPIC_API_KEY: replayed from the file's `recording` (a vcrpy cassette of the Messages API
  and Open-Meteo traffic), so an eval runs offline, in CI, on any day. Times are then local
  processing only, not the APIs' latency.
- a key: live, against the real APIs.
- a key and `--record`: live, and recorded into `recording` for later replays.

Writes DIR/report.md and DIR/report.png (a chart: one group per metric, a bar per mode).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from requests.adapters import HTTPAdapter

from bot.agent import cost_usd
from bot.calendars import open_calendars
from bot.config import LoadedConfig, Mode, Price, Strict, used_twice
from bot.core import Assistant
from bot.memory import ChatMemory, Run
from bot.messages import SORRY, Usage
from bot.report import path as run_path
from bot.tools import TOOLS
from integrations.llm import Claude
from integrations.weather import RETRY, OpenMeteo

if TYPE_CHECKING:
    from vcr.request import Request

log = logging.getLogger(__name__)

ANTHROPIC_API = "https://api.anthropic.com"
# Replays never reach the API: any key will do, and none is ever recorded.
PLACEHOLDER_KEY = "sk-ant-replay-placeholder"
ALL_MODES: tuple[Mode, ...] = ("workflow", "agent", "hybrid")


class EvalError(Exception):
    """The eval cannot run or cannot be trusted. The message says what to do about it."""


# --- the scenarios file -------------------------------------------------------------------------


class ScenarioTurn(Strict):
    """One message of a scenario and what its answer must show."""

    user: str = Field(min_length=1)
    expect: list[str] = Field(default_factory=list)  # facts the answer must contain (any case)
    tools: list[str] = Field(default_factory=list)  # tools that must have been called

    @field_validator("tools")
    @classmethod
    def _known_tools(cls, tools: list[str]) -> list[str]:
        unknown = sorted(set(tools) - TOOLS.names())
        if unknown:
            known = ", ".join(sorted(TOOLS.names()))
            raise ValueError(f"unknown tool(s) {', '.join(unknown)}; tools are {known}")
        return tools


class Scenario(Strict):
    name: str = Field(min_length=1)
    turns: list[ScenarioTurn] = Field(min_length=1)


class ScenarioFile(Strict):
    now: datetime  # the clock of every run; without an offset, in the config's time zone
    recording: str = Field(min_length=1)  # a vcrpy cassette, relative to the scenarios file
    modes: list[Mode] = Field(default_factory=lambda: list(ALL_MODES), min_length=1)
    scenarios: list[Scenario] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> ScenarioFile:
        if twice := used_twice(scenario.name for scenario in self.scenarios):
            raise ValueError(f"scenario names must be unique; used twice: {', '.join(twice)}")
        return self


@dataclass(frozen=True)
class Scenarios:
    path: Path
    now: datetime  # aware
    recording: Path
    modes: tuple[Mode, ...]
    scenarios: tuple[Scenario, ...]


def load_scenarios(path: Path, config: LoadedConfig) -> Scenarios:
    """Read and check a scenarios file; EvalError lists every problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalError(f"{path}: no such scenarios file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise EvalError(f"{path}: cannot be read: {exc}") from None
    try:
        parsed = ScenarioFile.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        problems = "\n".join(
            f"  - {'.'.join(str(part) for part in error['loc']) or 'file'}: {error['msg']}"
            for error in exc.errors()
        )
        raise EvalError(f"{path}: the scenarios file has problems:\n{problems}") from None
    now = parsed.now
    if now.tzinfo is None:
        now = now.replace(tzinfo=config.settings.user.zone)
    return Scenarios(
        path,
        now,
        (path.parent / parsed.recording).resolve(),
        tuple(dict.fromkeys(parsed.modes)),
        tuple(parsed.scenarios),
    )


# --- judging ------------------------------------------------------------------------------------


def judge(turn: ScenarioTurn, answer: str, tools_called: Sequence[str]) -> str | None:
    """Why an answer fails its turn, or None when it passes.

    Every expected fact must appear in the answer, whatever the case and whichever apostrophe;
    every tool listed must have been called at least once during the turn.
    """
    said = _plain(answer)
    missing = [fact for fact in turn.expect if _plain(fact) not in said]
    not_called = [tool for tool in turn.tools if tool not in tools_called]
    reasons = []
    if missing:
        reasons.append("missing " + ", ".join(f"“{fact}”" for fact in missing))
    if not_called:
        reasons.append("did not call " + ", ".join(not_called))
    return "; ".join(reasons) or None


def _plain(text: str) -> str:
    return " ".join(text.replace("’", "'").casefold().split())


@dataclass(frozen=True)
class TurnResult:
    user: str
    run: Run
    failure: str | None  # why the answer failed the turn; None when it passed


@dataclass(frozen=True)
class ScenarioResult:
    scenario: str
    mode: Mode
    turns: tuple[TurnResult, ...]

    @property
    def passed(self) -> bool:
        return all(turn.failure is None for turn in self.turns)

    @property
    def reason(self) -> str:
        """The first failure, with its turn, or "" when the scenario passed."""
        return next(
            (
                f"turn {number}: {turn.failure}" if len(self.turns) > 1 else turn.failure
                for number, turn in enumerate(self.turns, 1)
                if turn.failure
            ),
            "",
        )


@dataclass(frozen=True)
class ModeSummary:
    mode: Mode
    scenarios: int
    passed: int
    answers: int
    usage: Usage
    cost_usd: float
    seconds: float


def summarize(mode: Mode, results: Sequence[ScenarioResult], price: Price) -> ModeSummary:
    runs = [turn.run for result in results for turn in result.turns]
    usage = sum((run.usage for run in runs), Usage())
    return ModeSummary(
        mode,
        len(results),
        sum(result.passed for result in results),
        len(runs),
        usage,
        cost_usd(usage, price),
        sum(run.seconds for run in runs),
    )


# --- running ------------------------------------------------------------------------------------


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


def build_assistant(
    config: LoadedConfig,
    llm: Claude | None,
    now: datetime,
    data_dir: Path,
    session: requests.Session | None = None,
) -> Assistant:
    """An assistant as `from_config` builds it, but on the fixed clock and a fresh memory.

    The weather client gets the clock too: it decides which days have a forecast.
    """
    settings = config.settings

    def clock() -> datetime:
        return now

    weather = OpenMeteo(
        forecast_url=settings.weather.forecast_url,
        geocoding_url=settings.weather.geocoding_url,
        units=settings.weather.units,
        language=settings.user.language,
        timeout=settings.weather.timeout_seconds,
        cache_minutes=settings.weather.cache_minutes,
        session=session,
        clock=clock,
    )
    memory = ChatMemory(data_dir / "tandem.sqlite3", settings.memory.turns_kept)
    calendar = open_calendars(config)
    return Assistant(config, calendar, memory, llm, clock=clock, weather=weather)


async def run_scenarios(
    assistant: Assistant, scenarios: Sequence[Scenario], mode: Mode
) -> list[ScenarioResult]:
    """Every scenario in one mode, one chat each, turn after turn as a person would ask."""
    results = []
    for chat_id, scenario in enumerate(scenarios, 1):
        turns = []
        for turn in scenario.turns:
            run = await _answer(assistant, chat_id, turn.user, mode)
            tools = [step.name for step in run.steps if step.kind == "tool"]
            turns.append(TurnResult(turn.user, run, judge(turn, run.answer, tools)))
        results.append(ScenarioResult(scenario.name, mode, tuple(turns)))
    return results


async def _answer(assistant: Assistant, chat_id: int, text: str, mode: Mode) -> Run:
    """Answer one message and remember it in the chat, as `Assistant.handle` does."""
    started = time.perf_counter()
    try:
        answered = await assistant.answer(chat_id, chat_id, text, mode)
    except Exception as exc:  # one broken answer is a failed turn, not a failed eval
        log.exception("the eval's message %r could not be answered in %s mode", text, mode)
        failed = f"{SORRY} ({type(exc).__name__}: {exc})"
        return Run(mode, text, failed, (), Usage(), time.perf_counter() - started)
    return answered.record


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


# --- the whole eval -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    scenarios: Scenarios
    results: dict[Mode, list[ScenarioResult]]
    summaries: list[ModeSummary]
    source: str  # where the traffic came from, in words
    markdown_path: Path
    chart_path: Path

    def tables(self) -> str:
        return f"{summary_table(self.summaries)}\n\n{scenario_table(self.results)}"


@dataclass(frozen=True)
class Traffic:
    """Where an eval's HTTP goes: the Claude client, the vcrpy context around the runs, and
    whether vcrpy is active (then weather requests take turns: see OneRequestAtATime)."""

    llm: Claude
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
        llm = Claude(
            PLACEHOLDER_KEY,
            **settings.client_options()
            | {
                "max_retries": 0,  # a miss shows at once, not after backing off
                "base_url": ANTHROPIC_API,  # as recorded, whatever ANTHROPIC_BASE_URL says
            },
        )
        source = f"replayed from {scenarios.recording} (times: local processing only)"
        record_command = (
            f"ANTHROPIC_API_KEY=sk-ant-... tandem eval {scenarios.path} --config {config.path} "
            "--record"
        )
        return Traffic(llm, replaying(scenarios.recording, record_command), source, True)
    llm = Claude(api_key, **settings.client_options())
    if not record:
        return Traffic(llm, contextlib.nullcontext(), "live", False)
    recorder = recording_to(scenarios.recording, before_record_request, before_record_response)
    return Traffic(llm, recorder, f"recorded into {scenarios.recording}", True)


async def evaluate(
    scenarios_path: Path,
    config: LoadedConfig,
    out_dir: Path,
    api_key: str | None,
    record: bool = False,
    before_record_request: Callable[[Request], Request] | None = None,
    before_record_response: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Evaluation:
    """Run every scenario in every mode and write the report; EvalError when it cannot.

    The hooks are vcrpy's, for recording (tests/record_eval_conversations.py uses them to store
    the traffic of local fakes under the real APIs' addresses).
    """
    scenarios = load_scenarios(scenarios_path, config)
    traffic = choose_traffic(
        scenarios, config, api_key, record, before_record_request, before_record_response
    )
    results: dict[Mode, list[ScenarioResult]] = {}
    with tempfile.TemporaryDirectory(prefix="tandem-eval-") as data, traffic.context:
        for mode in scenarios.modes:
            session = OneRequestAtATime() if traffic.under_vcr else None
            assistant = build_assistant(
                config, traffic.llm, scenarios.now, Path(data) / mode, session
            )
            try:
                results[mode] = await run_scenarios(assistant, scenarios.scenarios, mode)
            finally:
                assistant.memory.close()
    llm = config.settings.llm
    price = llm.prices[llm.model]
    summaries = [summarize(mode, results[mode], price) for mode in scenarios.modes]
    out_dir.mkdir(parents=True, exist_ok=True)
    evaluation = Evaluation(
        scenarios, results, summaries, traffic.source, out_dir / "report.md", out_dir / "report.png"
    )
    evaluation.markdown_path.write_text(report_markdown(evaluation, config), encoding="utf-8")
    draw_chart(summaries, evaluation.chart_path)
    return evaluation


# --- the report ---------------------------------------------------------------------------------


def summary_table(summaries: Sequence[ModeSummary]) -> str:
    """Per mode: success, then totals with the average per answer in brackets."""
    lines = [
        "| mode | success | model calls | input tokens | output tokens | cached tokens "
        "| cache writes | cost | time |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in summaries:
        n, usage = max(s.answers, 1), s.usage
        rate = s.passed / s.scenarios if s.scenarios else 0.0
        lines.append(
            f"| {s.mode} | {s.passed}/{s.scenarios} ({rate:.0%}) "
            f"| {usage.model_calls} ({usage.model_calls / n:.2f}) "
            f"| {usage.input_tokens:,} ({usage.input_tokens / n:,.0f}) "
            f"| {usage.output_tokens:,} ({usage.output_tokens / n:,.0f}) "
            f"| {usage.cache_read_tokens:,} ({usage.cache_read_tokens / n:,.0f}) "
            f"| {usage.cache_write_tokens:,} ({usage.cache_write_tokens / n:,.0f}) "
            f"| ${s.cost_usd:.4f} (${s.cost_usd / n:.4f}) "
            f"| {s.seconds:.2f} s ({s.seconds / n:.2f} s) |"
        )
    return "\n".join(lines)


def scenario_table(results: dict[Mode, list[ScenarioResult]]) -> str:
    """One row per scenario, one column per mode: pass, or fail and why."""
    modes = list(results)
    lines = [
        "| scenario | " + " | ".join(modes) + " |",
        "| --- |" + " --- |" * len(modes),
    ]
    names = [result.scenario for result in results[modes[0]]] if modes else []
    for index, name in enumerate(names):
        cells = []
        for mode in modes:
            result = results[mode][index]
            cells.append("✅ pass" if result.passed else f"❌ fail: {_cell(result.reason)}")
        lines.append(f"| {_cell(name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report_markdown(evaluation: Evaluation, config: LoadedConfig) -> str:
    scenarios = evaluation.scenarios
    answers = sum(len(s.turns) for s in scenarios.scenarios)
    model = config.settings.llm.model
    parts = [
        f"# Tandem eval: {scenarios.path.name}",
        f"Clock: {scenarios.now:%A %d %B %Y, %H:%M} ({scenarios.now.tzinfo}) · "
        f"{len(scenarios.scenarios)} scenarios, {answers} answers per mode · model {model} · "
        f"config {config.path} · traffic {evaluation.source}.",
        "## Per mode",
        "Success is the share of scenarios whose every answer passed. The other columns are "
        "totals, with the average per answer in brackets; cached tokens are prompt-cache reads, "
        "cost is from the config's price table.",
        summary_table(evaluation.summaries),
        f"![per-answer averages by mode]({evaluation.chart_path.name})",
        "## Per scenario",
        scenario_table(evaluation.results),
        "## Answers",
    ]
    for mode, results in evaluation.results.items():
        for result in results:
            parts.append(f"### {result.scenario} — {mode}")
            for turn in result.turns:
                verdict = "pass" if turn.failure is None else f"fail: {turn.failure}"
                parts.append(
                    f"- **{turn.user}** ({turn.run.mode}, {verdict})\n"
                    f"  - Answer: {_quoted(turn.run.answer)}\n"
                    f"  - Path: {run_path(turn.run.steps) or '(none)'}"
                )
    return "\n\n".join(parts) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _quoted(text: str) -> str:
    return " / ".join(line.strip() for line in text.splitlines() if line.strip())


METRICS: list[tuple[str, Callable[[ModeSummary], float]]] = [
    ("success (%)", lambda s: 100 * s.passed / s.scenarios if s.scenarios else 0.0),
    ("model calls / answer", lambda s: s.usage.model_calls / max(s.answers, 1)),
    ("input tokens / answer", lambda s: s.usage.input_tokens / max(s.answers, 1)),
    ("output tokens / answer", lambda s: s.usage.output_tokens / max(s.answers, 1)),
    ("cached tokens / answer", lambda s: s.usage.cache_read_tokens / max(s.answers, 1)),
    ("cost / answer (US cents)", lambda s: 100 * s.cost_usd / max(s.answers, 1)),
    ("time / answer (s)", lambda s: s.seconds / max(s.answers, 1)),
]


def draw_chart(summaries: Sequence[ModeSummary], path: Path) -> None:
    """One small panel per metric, each with a bar per mode (each panel has its own scale)."""
    # Imported here, and without pyplot: only the eval draws, and it needs no display.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    figure = Figure(figsize=(14, 6.5), layout="constrained")
    FigureCanvasAgg(figure)
    panels = figure.subplots(2, 4).flatten()
    colours = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3"]
    modes = [summary.mode for summary in summaries]
    for panel, (title, metric) in zip(panels, METRICS, strict=False):
        values = [metric(summary) for summary in summaries]
        bars = panel.bar(modes, values, color=colours[: len(modes)])
        panel.bar_label(bars, fmt=_bar_label, fontsize=8)
        panel.set_title(title, fontsize=10)
        panel.tick_params(axis="x", labelsize=9)
        panel.margins(y=0.15)
    keys = [
        Patch(color=colour, label=f"{summary.mode}: {summary.passed}/{summary.scenarios}")
        for colour, summary in zip(colours, summaries, strict=False)
    ]
    panels[-1].axis("off")
    panels[-1].legend(handles=keys, loc="center", title="scenarios passed", frameon=False)
    figure.suptitle("Tandem eval by mode: success, and averages per answer")
    figure.savefig(path, dpi=100)


def _bar_label(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
