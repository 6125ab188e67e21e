"""What every benchmark shares: local fake upstreams with a latency, a config pointed at them,
Tandem's core in this process or the real `tandem run` in another, and figures with spreads.

Upstreams (tests/fakes/, each its own process, each holding every answer `delay` seconds):
- the Messages API (a scripted Claude): `model` seconds per call;
- Open-Meteo: `weather` seconds per HTTP request. One weather tool call makes two to four of
  them, one after the other: a geocoding request per part of the place name tried, then the
  forecast;
- the calendar: the sample calendar served as a secret .ics address, `calendar` seconds per
  fetch, fetched again for every search (refresh_minutes: 0). `calendar=None` reads the file
  itself, as the example config does.
The weather cache is off (cache_minutes: 0), so every message pays the latencies it is given.

A figure is the median of several rounds, shown with the rounds' min-max.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bot.config import load_config
from bot.core import Assistant
from bot.tools import TOOLS
from bot.wiring import build
from tests.fakes import control, running, untouched_environment

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "tandem.example.yaml"
TANDEM = Path(sys.executable).parent / "tandem"
# The example scenarios' clock (config/scenarios.example.yaml): Monday 23 November 2026, 08:00.
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Europe/London"))
# The example scenarios' questions (tandem eval), in the order a person asks them.
QUESTIONS = (
    "When is my next dentist appointment?",
    "What's on Saturday?",
    "What will the weather be?",
    "Will it rain at my tennis match?",
    "How many days until Sam's birthday?",
)
TOKEN = "123:BENCH"
KEY = "sk-ant-bench"  # any key: it only ever reaches the fake Messages API
# The example's morning briefing as a message rule: calendar and home weather, no dependency.
BRIEFING_RULE = {
    "name": "briefing",
    "description": "Today's events and the weather at home",
    "when": {"keywords": ["briefing"]},
    "steps": [
        {"tool": "search_calendar"},
        {"tool": "weather_forecast"},
        {"answer": "llm_or_template"},
    ],
}
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy


# --- figures ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank: a value that was really seen."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


@dataclass
class Figure:
    """One line of the final table: a median over rounds, its min-max, and its target."""

    name: str
    rounds: list[float]
    unit: (
        str  # "ms", "s", "MB", "%" (a fraction), "/s" (a rate), a times sign (a ratio), "" a count
    )
    target: str = ""
    met: bool | None = None  # None: no target, or not judged
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.rounds)

    def shown(self, value: float) -> str:
        if self.unit == "ms":
            return f"{value * 1000:.1f}"
        if self.unit == "×":
            return f"{value:.2f}"
        if self.unit == "%":
            return f"{value * 100:.1f}"
        if self.unit == "/s":
            return f"{value:.1f}"
        if self.unit in ("s", "MB"):
            return f"{value:.2f}" if value < 10 else f"{value:.0f}"
        return f"{value:g}"

    def row(self) -> list[str]:
        spread = (
            f"{self.shown(min(self.rounds))}–{self.shown(max(self.rounds))}"
            if len(self.rounds) > 1
            else "(one run)"
        )
        verdict = {True: "met", False: "MISSED", None: ""}[self.met]
        return [
            self.name,
            f"{self.shown(self.median)} {self.unit}".strip(),
            spread,
            self.target,
            verdict,
            self.note,
        ]


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [
        " | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True))
        for line in [header, ["-" * w for w in widths], *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def figures_table(figures: Sequence[Figure]) -> str:
    header = ["figure", "median", "min–max", "target", "", "note"]
    return table([figure.row() for figure in figures], header)


def load_average() -> str:
    """The machine's load average over 1, 5 and 15 minutes: other work sharing the cores."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory_kb / 1024**2:.0f} GB, "
        f"Python {sys.version.split()[0]}"
    )


# --- upstreams and config -----------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    """Seconds each upstream holds an answer. `calendar=None`: the calendar is a local file."""

    model: float = 0.0
    weather: float = 0.0
    calendar: float | None = None


@dataclass(frozen=True)
class Upstreams:
    claude: str
    meteo: str
    calendar: str | None  # the .ics address, or None for the sample file


@contextlib.contextmanager
def upstreams(latency: Latency, real_clock: bool = False) -> Iterator[Upstreams]:
    """The fake Messages API, Open-Meteo and (if asked) calendar server, each in a process.
    Open-Meteo's "today" is NOW's day, or the real one for `tandem run` (`real_clock`)."""
    today = [] if real_clock else ["--today", NOW.date().isoformat()]
    with contextlib.ExitStack() as stack:
        claude = stack.enter_context(
            running("tests.fakes.anthropic_server", "--delay", str(latency.model))
        )
        meteo = stack.enter_context(
            running("tests.fakes.open_meteo_server", *today, "--delay", str(latency.weather))
        )
        calendar = None
        if latency.calendar is not None:
            served = stack.enter_context(
                running("tests.fakes.ics_server", "--delay", str(latency.calendar))
            )
            calendar = f"{served}/sample.ics"
        yield Upstreams(claude, meteo, calendar)


def write_config(
    folder: Path,
    ups: Upstreams,
    *,
    mode: str = "workflow",
    rules: Sequence[dict[str, Any]] = (),
    telegram: str | None = None,
    users: Sequence[int] = (),
    runs_at_once: int | None = None,
) -> Path:
    """The example config, with its upstreams at the fakes, no per-person caps, and its data in
    `folder`. `rules` come first; `telegram` is the fake Bot API's base URL; `runs_at_once`, if
    given, is `durable.runs_per_worker` (also the threads blocking steps share)."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = yaml.safe_load(EXAMPLE.read_text())
    settings["mode"] = mode
    if ups.calendar is not None:
        settings["calendars"] = [
            {"type": "ics", "name": "sample", "url": ups.calendar, "refresh_minutes": 0}
        ]
    else:
        for calendar in settings["calendars"]:
            calendar["path"] = str(EXAMPLE.parent / calendar["path"])
    settings["weather"].update(
        forecast_url=f"{ups.meteo}/v1/forecast",
        geocoding_url=f"{ups.meteo}/v1/search",
        cache_minutes=0,
    )
    # A benchmark sends far more than a person would: the caps would refuse it.
    settings["limits"].update(
        messages_per_minute=1_000_000, daily_tokens=10**12, daily_cost_usd=1_000_000.0
    )
    settings["memory"]["data_dir"] = str(folder / "data")
    if runs_at_once is not None:
        settings["durable"]["runs_per_worker"] = runs_at_once
    settings["rules"] = [*rules, *settings["rules"]]
    if telegram is not None:
        settings["telegram"].update(
            allowed_user_ids=list(users),
            base_url=f"{telegram}/bot",
            base_file_url=f"{telegram}/file/bot",
        )
    path = folder / "tandem.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False))
    return path


def assistant(
    config: Path, ups: Upstreams, clock: Callable[[], datetime] = lambda: NOW
) -> Assistant:
    """Tandem's core as `tandem ask` builds it (bot/wiring.py), on a fixed clock, with
    Claude at the fake Messages API (the SDK reads ANTHROPIC_BASE_URL)."""
    os.environ["ANTHROPIC_BASE_URL"] = ups.claude
    loaded = load_config(config, known_tools=TOOLS.names())
    return build(loaded, KEY, clock=clock)


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as folder:
        yield Path(folder)


# --- the real `tandem run` against the fake Bot API ---------------------------------------------


class BotApi:
    """The fake Bot API's control side (tests/fakes/telegram_server.py, /_test/...)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def _call(self, path: str, body: Any = None) -> Any:
        return control(self.base, path, body, timeout=30)

    def send(self, messages: Sequence[tuple[int, str]]) -> float:
        """Users' messages (user id, text), queued at once, each in its own private chat; the
        time (epoch seconds) just before they were queued."""
        sent_at = time.time()
        self._call("updates", [{"user_id": user, "text": text} for user, text in messages])
        return sent_at

    def sent_since(self, seq: int) -> list[dict[str, Any]]:
        return list(self._call(f"sent?since={seq}"))

    def first_poll_at(self) -> float | None:
        """When the bot first asked for updates (epoch seconds, the fake's clock), if it did."""
        return self._call("state")["first_get_updates_at"]


@dataclass
class Bot:
    process: subprocess.Popen[bytes]
    api: BotApi
    log: Path
    started_in: float = 0.0  # seconds from starting the process to its first getUpdates
    seen: int = 0  # how many sent records were read so far
    replies: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def rss_mb(self) -> float:
        """Resident memory of the `tandem run` process, from /proc (VmRSS)."""
        return int(self._status("VmRSS")) / 1024

    def threads(self) -> int:
        return int(self._status("Threads"))

    def _status(self, name: str) -> str:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return next(line.split()[1] for line in status.splitlines() if line.startswith(name))

    def wait_for_replies(self, chats: Sequence[int], timeout: float = 120) -> dict[int, Arrival]:
        """Wait until every chat got a message; when each first saw "typing..." and a message
        (epoch seconds, the fake's clock)."""
        wanted, arrivals = set(chats), {chat: Arrival() for chat in chats}
        answered = 0
        deadline = time.monotonic() + timeout
        while True:
            for record in self.api.sent_since(self.seen):
                self.seen = record["seq"]
                arrival = arrivals.get(record["chat_id"])
                if arrival is None:
                    continue
                if record["method"] == "sendChatAction" and arrival.typing is None:
                    arrival.typing = record["at"]
                elif record["method"] == "sendMessage" and arrival.reply is None:
                    arrival.reply = record["at"]
                    answered += 1
            if answered == len(wanted):
                return arrivals
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(
                    f"{len(wanted) - answered} of {len(wanted)} chats got no reply; "
                    f"tandem said:\n{tail}"
                )
            time.sleep(0.02)

    def ask(self, messages: Sequence[tuple[int, str]], timeout: float = 120) -> list[Arrival]:
        """Send messages at once (one per chat) and wait for every reply; for each, seconds from
        sending to "typing..." (its run started) and to the reply."""
        self.seen += len(self.api.sent_since(self.seen))  # whatever came before is not a reply
        sent_at = self.api.send(messages)
        arrivals = self.wait_for_replies([user for user, _ in messages], timeout)
        return [arrivals[user].since(sent_at) for user, _ in messages]


@dataclass
class Arrival:
    typing: float | None = None
    reply: float | None = None

    def since(self, moment: float) -> Arrival:
        typing = self.typing if self.typing is not None else self.reply
        assert typing is not None and self.reply is not None
        return Arrival(typing - moment, self.reply - moment)


def launch_tandem(
    folder: Path,
    ups: Upstreams,
    log: Path,
    *arguments: str,
    command: Sequence[str] = (str(TANDEM),),
) -> subprocess.Popen[bytes]:
    """`tandem run` (or `command` run) with these arguments, Claude at the fake, its output in
    `log`."""
    env = untouched_environment()
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        ANTHROPIC_API_KEY=KEY,
        ANTHROPIC_BASE_URL=ups.claude,
        NO_PROXY="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),  # for bench.journal_off
    )
    with log.open("wb") as output:
        return subprocess.Popen(
            [*command, "run", *arguments],
            cwd=folder,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then kill -9 if it is not gone within 30 s."""
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def tandem_run(
    folder: Path, ups: Upstreams, users: Sequence[int], *, durable: bool = True, **config: Any
) -> Iterator[Bot]:
    """The real `tandem run` (durable runs, polling) against the fake Bot API, in workflow mode
    unless `mode=` says otherwise; returns once it polls for updates. `durable=False`: the same
    with the journal taken out (bench/journal_off.py), to see what durability costs."""
    command = [str(TANDEM)] if durable else [sys.executable, "-m", "bench.journal_off"]
    with running("tests.fakes.telegram_server", "--token", TOKEN) as telegram:
        path = write_config(folder, ups, telegram=telegram, users=users, **config)
        log = folder / "tandem.log"
        started = time.time()
        arguments = ("--config", str(path), "--worker", "bench")
        process = launch_tandem(folder, ups, log, *arguments, command=command)
        bot = Bot(process, BotApi(telegram), log)
        try:
            deadline = time.monotonic() + 60
            while (first_poll := bot.api.first_poll_at()) is None:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"tandem run did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.05)
            bot.started_in = first_poll - started
            yield bot
        finally:
            stop(process)
