"""What Claude reading a question costs, and what it changes, on hard phrasings.

Alex's month (tests/data/phrasings-alex.*, its fixed clock) with `understanding.claude` on,
against the fake Messages API (tests/fakes/anthropic_server.py) over real HTTP. Each question
is asked three ways: offline (no key, the template answers), read by Claude with the template
answering (what the reading alone changes), and the whole path (Claude reads, the rules search,
Claude answers): model calls per question, and the reading's tokens and cost at the configured
prices, from the usage the fake reports (about four characters a token; it thinks for nothing,
so real readings cost more by their thinking tokens). Claude's readings are scripted: each is
what a correct reading would be, so the table shows what a right reading buys and what no
reading can (a question that needs the calendar to resolve its time), not how well Claude reads.

  .venv/bin/python -m bench.claude_reading
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bench.common import Figure, figures_table, table
from bot.config import AnswerStep, LoadedConfig, UnderstandingSettings, UserSettings, load_config
from bot.engine.usage import Usage, cost_usd, price_of
from bot.messages import Incoming
from bot.tools import TOOLS
from bot.wiring import build
from integrations.calendar.ics import IcsCalendarSource
from integrations.llm import Claude
from tests.conftest import EXAMPLE, FakeWeather
from tests.fakes import control, running
from tests.phrasings import DATA

ZONE = ZoneInfo("Europe/London")


def at(day: int, month: int = 12, hour: int = 0) -> str:
    return datetime(2026, month, day, hour, tzinfo=ZONE).isoformat()


@dataclass(frozen=True)
class Hard:
    question: str
    reading: dict[str, Any]  # what a correct reading is
    must: tuple[str, ...]  # in a right answer (the template's wording)
    must_not: tuple[str, ...] = ()


def reading(**fields: Any) -> dict[str, Any]:
    plain = {"kind": "calendar", "asks": "list", "window": None, "moment": None, "terms": []}
    return plain | {"only_next": False, "part_of_day": None, "during": False} | fields


HARD = (
    Hard(
        "got anything on the first weekend of December?",
        reading(window={"start": at(5), "end": at(7)}),
        ("Saturday 5 December",),
        ("Arctic Monkeys",),
    ),
    Hard(
        "how many times do I play tennis before Christmas?",
        reading(asks="count", window={"start": at(25, 11, 10), "end": at(25)}, terms=["tennis"]),
        ("4 “tennis”",),
        ("Christmas lunch",),
    ),
    Hard(
        "is my diary clear on the 2nd between lunch and 3?",
        reading(asks="free", window={"start": at(2, hour=12), "end": at(2, hour=15)}),
        ("Yes, you're free",),
    ),
    Hard(
        "what's on in a fortnight's time?",
        reading(window={"start": at(9), "end": at(10)}),
        ("Team stand-up", "Web Summit"),
    ),
    Hard(  # the time hangs on an event: no reading without the calendar can resolve it
        "anything the day before my flight to New York?",
        reading(terms=["flight", "New York"], only_next=True),
        ("Friday 11 December",),
    ),
    Hard(  # the event is named by what it is, not by its words: the search finds no "vet"
        "when do I see my furry friend's doctor?",
        reading(asks="when", terms=["furry friend's doctor"], only_next=True),
        ("Vet appointment",),
    ),
)


def config_for(answer: str, claude: bool) -> LoadedConfig:
    """The example config as Alex's, reading with Claude or not, answering as `answer` says."""
    table_ = yaml.safe_load((DATA / "phrasings-alex.yaml").read_text())
    base = load_config(EXAMPLE, known_tools=TOOLS.names()).settings
    rules = [
        rule.model_copy(update={"steps": [*rule.steps[:-1], AnswerStep(answer=answer)]})
        for rule in base.rules
    ]
    settings = base.model_copy(
        update={
            "user": UserSettings(**table_["user"]),
            "rules": rules,
            "understanding": UnderstandingSettings(claude=claude),
        }
    )
    return LoadedConfig(settings, EXAMPLE)


async def ask(config: LoadedConfig, llm: Claude | None, question: str, folder: Path) -> Any:
    now = datetime(2026, 11, 25, 10, tzinfo=ZONE)
    calendar = IcsCalendarSource("fixture", path=DATA / "phrasings-alex.ics")
    assistant = build(
        config, llm=llm, clock=lambda: now, data_dir=folder, calendar=calendar,
        weather=FakeWeather(),
    )  # fmt: skip
    return await assistant.handle(Incoming(1, 1, question))


def right(hard: Hard, text: str) -> bool:
    return all(part in text for part in hard.must) and not any(p in text for p in hard.must_not)


def measure() -> tuple[list[Figure], str]:
    os.environ.pop("ANTHROPIC_API_KEY", None)
    template, whole = config_for("template", True), config_for("llm_or_template", True)
    offline = config_for("template", False)
    price = price_of(whole.settings.llm)
    rows, readings, calls, wholes = [], [], [], []
    with running("tests.fakes.anthropic_server") as base, tempfile.TemporaryDirectory() as dir_:
        llm = Claude("sk-ant-bench", **whole.settings.llm.client_options(), base_url=base)
        for number, hard in enumerate(HARD):
            folder = Path(dir_) / str(number)
            by_rules = asyncio.run(ask(offline, None, hard.question, folder / "offline"))
            control(base, "script", {"next": [{"json": hard.reading}]})
            read = asyncio.run(ask(template, llm, hard.question, folder / "read"))
            readings.append(read.usage)
            control(base, "script", {"next": [{"json": hard.reading}]})
            both = asyncio.run(ask(whole, llm, hard.question, folder / "whole"))
            calls.append(both.usage.model_calls)
            wholes.append(both.usage)
            rows.append(
                [
                    hard.question,
                    "right" if right(hard, by_rules.text) else "wrong",
                    "right" if right(hard, read.text) else "wrong",
                    str(both.usage.model_calls),
                    f"{read.usage.input_tokens} / {read.usage.output_tokens}",
                    f"${cost_usd(read.usage, price):.5f}",
                ]
            )
    header = ["question", "offline", "read by Claude", "calls", "reading in/out", "reading cost"]
    total = sum(readings, Usage())
    figures = [
        Figure("model calls per question, Claude reading (max)", [max(calls)], "", "≤ 2"),
        Figure("reading: input tokens per question", [total.input_tokens / len(HARD)], ""),
        Figure("reading: output tokens per question", [total.output_tokens / len(HARD)], ""),
        Figure(
            "reading: dollars per question", [cost_usd(total, price) / len(HARD)], "", note="fake"
        ),
    ]
    figures.append(
        Figure(
            "whole question (reading + answer): dollars",
            [cost_usd(sum(wholes, Usage()), price) / len(HARD)],
            "",
            note="fake",
        )
    )
    figures[0].met = max(calls) <= 2
    return figures, table(rows, header)


def main() -> None:
    figures, detail = measure()
    print(detail)
    print()
    print(figures_table(figures))


if __name__ == "__main__":
    main()
