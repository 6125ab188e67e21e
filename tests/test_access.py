"""Access control with the real core behind Telegram: a stranger costs no calendar or model call."""

from __future__ import annotations

from bot.config import TelegramSettings
from integrations.llm import Completion
from tests.test_telegram import OWNER, STRANGER, running_bot, text_update


class CountingClaude:
    model = "claude-test"

    def __init__(self) -> None:
        self.calls = 0

    async def write(self, system: str, messages: list[dict[str, str]]) -> Completion:
        self.calls += 1
        text = {"type": "text", "text": "Tennis with Sam tomorrow at 18:30."}
        return Completion([text], "end_turn", input_tokens=100, output_tokens=10)


async def test_a_stranger_gets_their_id_and_causes_no_calendar_or_model_call(make_assistant, week):
    claude = CountingClaude()
    assistant = make_assistant(week, llm=claude)
    async with running_bot(assistant) as bot:
        await bot.send(text_update("What's on tomorrow?", user_id=STRANGER))
        await bot.send(text_update("/help", user_id=STRANGER))

    assert all(str(STRANGER) in text for text in bot.api.seen())
    assert all("private assistant" in text for text in bot.api.seen())
    assert (week.calls, claude.calls) == (0, 0)
    assert assistant.memory.recent(STRANGER) == []


async def test_the_owner_gets_an_answer_from_the_calendar(make_assistant, week):
    claude = CountingClaude()
    assistant = make_assistant(week, llm=claude)
    async with running_bot(assistant) as bot:
        await bot.send(text_update("What's on tomorrow?"))

    assert bot.api.seen() == ["Tennis with Sam tomorrow at 18:30."]
    assert (week.calls, claude.calls) == (1, 1)


async def test_an_empty_allowlist_refuses_everyone(make_assistant, week):
    assistant = make_assistant(week)
    async with running_bot(assistant, TelegramSettings(allowed_user_ids=[])) as bot:
        await bot.send(text_update("What's on tomorrow?", user_id=OWNER))

    assert str(OWNER) in bot.api.seen()[0]
    assert week.calls == 0
