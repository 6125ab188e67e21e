"""Requests to change the calendar are declined plainly, before any rule, in workflow and hybrid."""

from __future__ import annotations

import pytest

from bot.engine.workflow import READ_ONLY
from bot.messages import Incoming
from tests.test_agent import ScriptedClaude, text


async def ask(assistant, words: str) -> str:
    return (await assistant.handle(Incoming(5, 5, words))).text


@pytest.mark.parametrize(
    "request_",
    [
        "cancel my tennis match",
        "move the stand-up to 10",
        "add parkrun on Sunday",
        "remind me",
        "change tennis to 7pm",
        "write down parkrun in the diary",
        "enter my yoga class for Friday",
        "note down a call with Sam on Monday",
        "write back to Sam that I'm running late",
        "ring mrs patel and say ill be late",
        "phone the school and tell them Ruby is ill",
    ],
)
@pytest.mark.parametrize("mode", ["workflow", "hybrid"])
async def test_a_write_request_is_declined_without_a_search_or_a_model_call(
    make_assistant, week, mode, request_
):
    claude = ScriptedClaude(text("I moved it."))
    assistant = make_assistant(week, llm=claude)
    await assistant.handle(Incoming(5, 5, f"/mode {mode}"))

    reply = await ask(assistant, request_)

    assert reply == READ_ONLY
    assert "only read your calendar" in reply
    assert claude.requests == []
    assert week.calls == 0


async def test_a_keyword_rule_does_not_answer_a_write_request_as_a_search(make_assistant, week):
    assistant = make_assistant(week)
    reply = await ask(assistant, "reschedule tennis to Friday")
    assert reply == READ_ONLY
    assert "Tennis match with Sam" not in reply
