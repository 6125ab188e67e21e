"""The phrasing tables: questions asked through Tandem's core, as `tandem ask` asks them.

A table (tests/data/phrasings-*.yaml) names a calendar, the person, and a fixed clock; each row
is a question, its family, and what the answer must and must not contain (case-insensitive).
An item of "must" may itself be a list: any one of its texts will do ("1 h 30" or "90 min").
A third item says why a row is a known gap: it is expected to fail until closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bot.config import LoadedConfig, UserSettings, load_config
from bot.core import Assistant
from bot.messages import Incoming
from bot.tools import TOOLS
from bot.wiring import build
from integrations.calendar.ics import IcsCalendarSource
from tests.conftest import FakeWeather

DATA = Path(__file__).resolve().parent / "data"
EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "tandem.example.yaml"
TABLES = sorted(DATA.glob("phrasings-*.yaml"))


@dataclass(frozen=True)
class Row:
    table: str
    family: str
    question: str
    must: list[str | list[str]] = field(default_factory=list)
    must_not: list[str] = field(default_factory=list)
    gap: str = ""  # a known gap, said why: the row is expected to fail until it is closed

    def problems(self, reply: str) -> list[str]:
        said = reply.lower()
        missing = [
            f"missing {texts!r}"
            for texts in self.must
            if not any(text.lower() in said for text in _alternatives(texts))
        ]
        wrong = [f"has {text!r}" for text in self.must_not if text.lower() in said]
        return missing + wrong


def load_table(path: Path) -> tuple[dict[str, Any], list[Row]]:
    table = yaml.safe_load(path.read_text())
    rows = []
    for family, entries in table["families"].items():
        for entry in entries:
            question, *checks = entry if isinstance(entry, list) else [entry]
            must = checks[0] if checks else []
            must_not = checks[1] if len(checks) > 1 else []
            gap = checks[2] if len(checks) > 2 else ""
            rows.append(Row(path.stem, family, question, _list(must), _list(must_not), gap))
    return table, rows


def _alternatives(texts: str | list[str]) -> list[str]:
    return [texts] if isinstance(texts, str) else texts


def _list(value: str | list[Any] | None) -> list[Any]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def assistant_for(
    table: dict[str, Any], data_dir: Path, later: Callable[[], timedelta] | None = None
) -> Assistant:
    """The example config with the table's person and calendar, on the table's clock (moved
    on by `later()`, when given, at each reading)."""
    base = load_config(EXAMPLE, known_tools=TOOLS.names())
    user = UserSettings(**table["user"])
    settings = base.settings.model_copy(update={"user": user})
    config = LoadedConfig(settings, EXAMPLE)
    now = datetime.fromisoformat(str(table["now"])).replace(tzinfo=ZoneInfo(user.timezone))
    calendar = IcsCalendarSource("fixture", path=DATA / table["calendar"])
    return build(
        config,
        llm=None,
        clock=(lambda: now + later()) if later else (lambda: now),
        data_dir=data_dir,
        calendar=calendar,
        weather=FakeWeather(),
    )


def ask(assistant: Assistant, question: str, chat: int) -> str:
    return asyncio.run(assistant.handle(Incoming(chat, chat, question))).text
