"""Every command in the command table, sent through the Telegram front end to the real core;
what spends model calls is counted against the person's allowances; a tool that breaks inside
a command still gets a kind answer, in Telegram and in the terminal chat."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.commands import COMMANDS
from bot.config import LimitSettings, LoadedConfig
from bot.core import Assistant
from bot.messages import SORRY
from bot.terminal import converse
from integrations.calendar import Event
from tests.conftest import CountingCalendar, example_without
from tests.test_agent import SATURDAY, ScriptedClaude, text, tools
from tests.test_telegram import running_bot, text_update
from tests.test_voice_replies import FakeSpeaker

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# What to send for each command, and what the person then reads in the reply.
SENT_AND_SEEN: dict[str, tuple[list[str], str]] = {
    "start": (["/start"], "I'm Tandem"),
    "help": (["/help"], "/compare — "),
    "say": (["/say what's on tomorrow?"], "Tennis match with Sam"),
    "voice": (["/voice always"], "Voice replies: always"),
    "mode": (["/mode hybrid"], "Mode: hybrid"),
    "compare": (["/compare what's on tomorrow?"], "WORKFLOW\nAnswer: Tomorrow, Thursday"),
    "trace": (["what's on tomorrow?", "/trace"], "search_calendar("),
    "usage": (["what's on tomorrow?", "/usage"], "Today: 1 message"),
}


def test_every_command_in_the_table_has_a_telegram_test() -> None:
    assert set(SENT_AND_SEEN) == {command.name for command in COMMANDS}


@pytest.mark.parametrize("name", sorted(SENT_AND_SEEN))
async def test_each_command_is_answered_through_telegram(
    name: str, make_assistant: Callable[..., Assistant], week: CountingCalendar
) -> None:
    assistant = make_assistant(week)
    assistant.voice.speaker = FakeSpeaker()  # type: ignore[assignment]
    sent, seen = SENT_AND_SEEN[name]
    async with running_bot(assistant) as bot:  # type: ignore[arg-type]
        for words in sent:
            await bot.send(text_update(words))

    last = bot.api.seen()[-1]
    assert seen in last
    assert "don't know that command" not in last
    if name == "say":
        assert len(bot.api.named("sendVoice")) == 1


async def test_help_lists_every_command_with_its_line_as_well_as_the_rules(
    make_assistant: Callable[..., Assistant], week: CountingCalendar
) -> None:
    async with running_bot(make_assistant(week)) as bot:
        await bot.send(text_update("/help"))

    (shown,) = bot.api.seen()
    assert "My rules cover:" in shown
    for command in COMMANDS:
        assert f"/{command.name} — {command.help}" in shown


def budgeted(daily_tokens: int) -> LoadedConfig:
    """The example config with a small daily token allowance."""
    return example_without(
        limits=LimitSettings(messages_per_minute=1000, daily_tokens=daily_tokens)
    )


async def test_compare_is_counted_against_the_daily_allowance_and_refused_when_over(
    make_assistant: Callable[..., Assistant], week: CountingCalendar
) -> None:
    claude = ScriptedClaude(tools(("search_calendar", SATURDAY)), text("Parkrun at nine."))
    assistant = make_assistant(week, config=budgeted(daily_tokens=2000), llm=claude)
    async with running_bot(assistant) as bot:  # type: ignore[arg-type]
        await bot.send(text_update("/compare what's on Saturday?"))
        await bot.send(text_update("/usage"))
        await bot.send(text_update("/compare what's on Saturday?"))

    compared, usage, refused = bot.api.seen()
    assert "AGENT\nAnswer: Parkrun at nine." in compared
    assert usage.startswith("Today: 1 message, 3 model calls.")  # the agent's two, the answer's one
    assert "Tokens: 0 of" not in usage
    assert refused.startswith("You've used today's 2,000 model tokens.")
    assert len(claude.requests) == 2  # the refused /compare asked Claude nothing


class BrokenCalendar:
    """A calendar with a bug: every search raises something no one expected."""

    name = "broken"

    def events(self, start: object, end: object) -> list[Event]:
        raise RuntimeError("index out of range in the calendar code")


@pytest.mark.parametrize("words", ["/compare what's on tomorrow?", "/say what's on tomorrow?"])
async def test_a_tool_that_raises_in_a_command_is_answered_kindly_in_telegram(
    words: str, make_assistant: Callable[..., Assistant]
) -> None:
    assistant = make_assistant(BrokenCalendar())
    async with running_bot(assistant) as bot:  # type: ignore[arg-type]
        await bot.send(text_update(words))
        await bot.send(text_update("/mode"))

    broken, mode = bot.api.seen()
    assert broken == SORRY
    assert mode.startswith("Mode: workflow")  # and the chat goes on


@pytest.fixture
def typed(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[str]], None]:
    """Lines typed into the terminal chat, one per prompt, then end of input."""

    def type_lines(lines: list[str]) -> None:
        pending: Iterator[str] = iter(lines)

        def answer(prompt: str = "") -> str:
            try:
                return next(pending)
            except StopIteration:
                raise EOFError from None

        monkeypatch.setattr(builtins, "input", answer)

    return type_lines


async def test_a_tool_that_raises_in_a_command_is_answered_kindly_in_the_terminal(
    make_assistant: Callable[..., Assistant],
    typed: Callable[[list[str]], None],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    typed(["/compare what's on tomorrow?", "/mode"])
    await converse(make_assistant(BrokenCalendar()), tmp_path)

    replies = capsys.readouterr().out.split("tandem › ")[1:]
    assert replies[0].strip() == SORRY
    assert replies[1].startswith("Mode: workflow")
    assert "Traceback" not in capsys.readouterr().err
