"""Tandem against a Messages API that behaves like today's: the fake (tests/fakes/
anthropic_server.py) rejects what the real API rejects, and can answer with thinking blocks,
every stop reason and a broken body. Each rule is shown to be checked; every stop reason is
shown to reach the user as an honest answer, in workflow and in agent mode."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.config import LlmSettings, Price, load_config
from bot.engine.answer import conversation
from bot.engine.usage import Usage, cost_usd
from bot.messages import Incoming
from bot.store.memory import Turn
from bot.tools import TOOLS
from integrations.llm import CONTINUE, StepEffort
from tests.conftest import EXAMPLE, FakeClaude
from tests.fakes.anthropic_rules import rejection

TOMORROW = "What's on tomorrow?"
WRITTEN = "You have Tennis match with Sam on Thursday at 18:30 at Regent's Park."  # answer step
ANSWERED = "You have Tennis match with Sam on Thursday 26 November at 18:30 at Regent's Park."
MATCH = "• 18:30–20:00  Tennis match with Sam — Regent's Park"
FOUND = f"Tomorrow, Thursday 26 November:\n{MATCH}"  # the template


# --- the rules: a request that breaks one gets the API's error ----------------------------------

ASKED = {
    "role": "assistant",
    "content": [{"type": "tool_use", "id": "toolu_01A", "name": "search_calendar", "input": {}}],
}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "No events."}
VALID = {
    "model": "claude-sonnet-5-5",
    "max_tokens": 1024,
    "messages": [{"role": "user", "content": TOMORROW}],
}
MARKED = {"type": "text", "text": "You are Tandem.", "cache_control": {"type": "ephemeral"}}


def broken(**changes: Any) -> dict[str, Any]:
    return {key: value for key, value in {**VALID, **changes}.items() if value is not None}


RULES = {
    "max_tokens is required": (broken(max_tokens=None), "max_tokens: Field required"),
    "tool_result blocks come first": (
        broken(
            messages=[
                VALID["messages"][0],
                ASKED,
                {"role": "user", "content": [{"type": "text", "text": "and?"}, RESULT]},
            ]
        ),
        "tool_result blocks must come first",
    ),
    "every tool_use gets a tool_result": (
        broken(messages=[VALID["messages"][0], ASKED, {"role": "user", "content": "and?"}]),
        "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_01A",
    ),
    "no tool_result for an unknown tool_use": (
        broken(
            messages=[
                VALID["messages"][0],
                ASKED,
                {"role": "user", "content": [RESULT, {**RESULT, "tool_use_id": "toolu_01B"}]},
            ]
        ),
        "unexpected `tool_use_id` found in `tool_result` blocks: toolu_01B",
    ),
    "no empty text block": (
        broken(messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}]),
        "text content blocks must be non-empty",
    ),
    "no empty content": (
        broken(messages=[{"role": "user", "content": []}]),
        "all messages must have non-empty content",
    ),
    "at most four cache breakpoints": (
        broken(system=[MARKED] * 5),
        "A maximum of 4 blocks with cache_control may be provided. Found 5.",
    ),
    "no assistant prefill": (
        broken(messages=[*VALID["messages"], {"role": "assistant", "content": "You have"}]),
        "does not support assistant message prefill",
    ),
    "tool_choice only auto or none": (
        broken(tool_choice={"type": "any"}),
        "tool_choice.type: 'any' is not supported on claude-sonnet-5-5",
    ),
    "no temperature": (broken(temperature=0.2), "temperature: sampling parameters"),
    "no top_p": (broken(top_p=0.9), "top_p: sampling parameters"),
    "no top_k": (broken(top_k=5), "top_k: sampling parameters"),
    "thinking cannot be disabled": (
        broken(thinking={"type": "disabled"}),
        "'disabled' is not supported on claude-sonnet-5-5; use 'between_tools'",
    ),
    "effort is low to max": (
        broken(output_config={"effort": "extreme"}),
        "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'",
    ),
}


@pytest.mark.sends_rejected_requests
@pytest.mark.parametrize(("body", "message"), RULES.values(), ids=RULES.keys())
def test_a_request_that_breaks_a_rule_gets_the_apis_400(fake, body, message):
    status, answer = fake.post(body)

    assert status == 400
    assert answer["type"] == "error"
    assert answer["error"]["type"] == "invalid_request_error"
    assert message in answer["error"]["message"]
    assert fake.rejections() == [{"status": 400, "message": answer["error"]["message"]}]
    assert fake.post(VALID)[0] == 200  # the same request, unbroken, is taken


@pytest.mark.sends_rejected_requests
def test_an_unknown_model_is_not_found(fake):
    status, answer = fake.post(broken(model="claude-sonnet-9"))

    assert status == 404
    assert answer["error"] == {"type": "not_found_error", "message": "model: claude-sonnet-9"}
    assert all(fake.post(broken(model=model))[0] == 200 for model in LlmSettings().prices)


def test_a_paused_turn_may_end_with_the_assistant(fake):
    paused = {"role": "assistant", "content": [{"type": "server_tool_use", "id": "srvtoolu_1",
                                                "name": "web_search", "input": {}}]}  # fmt: skip
    assert fake.post(broken(messages=[*VALID["messages"], paused]))[0] == 200


SYSTEM = "It is now Wednesday 25 November 2026, 10:00 in Europe/London."
TOOL_REQUEST = broken(
    system=SYSTEM,
    tools=[
        {"name": "search_calendar", "description": "Search.", "input_schema": {"type": "object"}}
    ],
)


def first_turn_with_thinking(fake: FakeClaude) -> dict[str, Any]:
    fake.script({"thinking": "The user asks about tomorrow."})
    status, answer = fake.post(TOOL_REQUEST)
    assert status == 200 and answer["stop_reason"] == "tool_use"
    return answer


def after(answer: dict[str, Any], content: list[dict[str, Any]]) -> dict[str, Any]:
    """The request after `answer`: its turn (as `content`) and a result for its tool call."""
    result = {**RESULT, "tool_use_id": answer["content"][1]["id"]}
    turns = [{"role": "assistant", "content": content}, {"role": "user", "content": [result]}]
    return {**TOOL_REQUEST, "messages": [*TOOL_REQUEST["messages"], *turns]}


@pytest.mark.sends_rejected_requests
def test_a_changed_thinking_block_is_rejected(fake):
    answer = first_turn_with_thinking(fake)
    changed = [{**answer["content"][0], "thinking": "Something else."}, answer["content"][1]]

    status, error = fake.post(after(answer, changed))

    assert status == 400
    assert "Invalid `signature` in `thinking` block" in error["error"]["message"]
    assert fake.post(after(answer, answer["content"]))[0] == 200


@pytest.mark.sends_rejected_requests
def test_a_thinking_block_left_out_of_the_tool_loop_is_rejected(fake):
    answer = first_turn_with_thinking(fake)

    status, error = fake.post(after(answer, answer["content"][1:]))

    assert status == 400
    assert "Expected `thinking` or `redacted_thinking`" in error["error"]["message"]


def test_the_history_never_holds_an_empty_message():
    history = [Turn("user", "Hi"), Turn("assistant", ""), Turn("user", "  ")]

    messages = conversation(history, TOMORROW)

    assert messages == [{"role": "user", "content": f"Hi\n\n{TOMORROW}"}]
    assert rejection({**VALID, "messages": messages}) is None


# --- every stop reason reaches the user honestly, in both modes ----------------------------------

CASES = {
    "cut off, then finished": ([{"stop_reason": "max_tokens"}], None, 2),
    "cut off twice": (
        [{"stop_reason": "max_tokens"}, {"stop_reason": "max_tokens"}],
        "Claude's answer was cut off",
        2,
    ),
    "refused": ([{"stop_reason": "refusal"}], "Claude declined to answer this", 1),
    "context window full": (
        [{"stop_reason": "model_context_window_exceeded"}],
        "our conversation grew too long for Claude",
        1,
    ),
    "paused, then finished": ([{"stop_reason": "pause_turn"}], None, 2),
    "empty": ([{"empty": True}], "Claude gave no answer", 1),
}


@pytest.mark.parametrize(("changes", "why", "calls"), CASES.values(), ids=CASES.keys())
async def test_the_answer_step_handles_every_stop_reason(
    fake, make_assistant, week, changes, why, calls
):
    fake.script(*changes)
    assistant = make_assistant(week, llm=fake.client())

    reply = await assistant.handle(Incoming(1, 1, TOMORROW))

    expected = WRITTEN if why is None else f"{why}, so here is what I found:\n\n{FOUND}"
    assert reply.text == expected
    assert reply.usage.model_calls == calls == len(fake.requests())
    if why is not None:
        trace = await assistant.handle(Incoming(1, 1, "/trace"))
        assert f"answer from template ({why})" in trace.text


@pytest.mark.parametrize(("changes", "why", "calls"), CASES.values(), ids=CASES.keys())
async def test_the_agent_handles_every_stop_reason(fake, make_assistant, week, changes, why, calls):
    assistant = make_assistant(week, llm=fake.client())
    await assistant.handle(Incoming(1, 1, "/mode agent"))
    fake.script({}, *changes)  # the first call asks for the calendar; the second answers

    reply = await assistant.handle(Incoming(1, 1, TOMORROW))

    if why is None:
        assert reply.text == ANSWERED
    else:
        assert reply.text.startswith(f"{why}, so here is what I found so far:\n\n")
        assert reply.text.endswith(MATCH)
    assert reply.usage.model_calls == 1 + calls == len(fake.requests())


async def test_an_agent_refused_at_once_says_so(fake, make_assistant, week):
    assistant = make_assistant(week, llm=fake.client())
    await assistant.handle(Incoming(1, 1, "/mode agent"))
    fake.script({"stop_reason": "refusal", "explanation": "Not something I can help with."})

    reply = await assistant.handle(Incoming(1, 1, TOMORROW))

    assert reply.text == "Claude declined to answer this, and I hadn't found anything yet."
    assert week.calls == 0


async def test_a_cut_off_reply_is_continued_in_a_user_turn(fake, make_assistant, week):
    fake.script({"stop_reason": "max_tokens"})

    await make_assistant(week, llm=fake.client()).handle(Incoming(1, 1, TOMORROW))

    first, second = fake.requests()
    cut = second["messages"][-2]
    assert cut["role"] == "assistant"
    assert WRITTEN.startswith(cut["content"][0]["text"])
    assert second["messages"][-1] == {
        "role": "user",
        "content": [{"type": "text", "text": CONTINUE}],
    }
    assert second["messages"][:-2] == first["messages"]


async def test_a_paused_turn_is_sent_back_as_it_came(fake, make_assistant, week):
    fake.script({"stop_reason": "pause_turn"})

    await make_assistant(week, llm=fake.client()).handle(Incoming(1, 1, TOMORROW))

    first, second = fake.requests()
    assert second["messages"][:-1] == first["messages"]
    assert second["messages"][-1]["content"][0]["type"] == "server_tool_use"


# --- a body that is not a message -----------------------------------------------------------------


async def test_a_broken_body_in_workflow_mode_gets_the_template(fake, make_assistant, week):
    fake.script({"malformed": True})

    reply = await make_assistant(week, llm=fake.client()).handle(Incoming(1, 1, TOMORROW))

    assert reply.text == FOUND
    assert reply.steps[-1].detail == {"llm_error": "Claude's answer arrived garbled."}


async def test_a_broken_body_in_agent_mode_gets_a_kind_message(fake, make_assistant, week):
    assistant = make_assistant(week, llm=fake.client())
    await assistant.handle(Incoming(1, 1, "/mode agent"))
    fake.script({}, {"malformed": True})

    reply = await assistant.handle(Incoming(1, 1, TOMORROW))

    assert reply.text.startswith(
        "I can't think right now (Claude's answer arrived garbled), so here is what I found so "
        "far:\n\n"
    )
    assert reply.text.endswith(MATCH)


# --- thinking, empty blocks, rejected requests ----------------------------------------------------


async def test_thinking_blocks_go_back_unchanged_across_a_two_tool_loop(fake, make_assistant, week):
    assistant = make_assistant(week, llm=fake.client())
    await assistant.handle(Incoming(1, 1, "/mode agent"))
    fake.script(
        {"thinking": "Find the tennis match first.", "empty_text": True},
        {"thinking": "Now the forecast at Regent's Park."},
        {"thinking": "Rain is likely."},
    )

    reply = await assistant.handle(Incoming(1, 1, "Will it rain at my tennis match?"))

    _, second, third = fake.requests()
    turns = [m for m in third["messages"] if m["role"] == "assistant"]
    assert [turn["content"][0]["thinking"] for turn in turns] == [
        "Find the tennis match first.",
        "Now the forecast at Regent's Park.",
    ]
    assert second["messages"][1] == turns[0]  # the same blocks, signature and all
    assert {"type": "text", "text": ""} not in turns[0]["content"]  # dropped, not sent back
    assert [call["name"] for turn in turns for call in turn["content"][1:]] == [
        "search_calendar",
        "weather_forecast",
    ]
    assert "Yes, take an umbrella for Tennis match with Sam" in reply.text
    assert "Rain is likely" not in reply.text and "tennis match first" not in reply.text
    assert reply.steps[1].detail["thinking_blocks"] == 1
    trace = await assistant.handle(Incoming(1, 1, "/trace"))
    assert "chat claude-sonnet-5-5 (thinking: 1 block)" in trace.text
    assert "Rain is likely" not in trace.text  # what it thought stays out of the chat


@pytest.mark.sends_rejected_requests
async def test_a_rejected_request_is_logged_with_the_apis_message(
    fake, make_assistant, week, caplog
):
    llm = fake.client(StepEffort(answer="extreme"))  # type: ignore[arg-type]

    with caplog.at_level(logging.ERROR, logger="integrations.llm"):
        reply = await make_assistant(week, llm=llm).handle(Incoming(1, 1, TOMORROW))

    assert reply.text == FOUND
    why = "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"
    assert reply.steps[-1].detail == {
        "llm_error": f"Claude rejected the request (HTTP 400: {why})."
    }
    assert caplog.messages == [
        f"Claude rejected the request (HTTP 400 invalid_request_error, request req_fake): {why}"
    ]


async def test_every_request_names_the_effort_of_its_step(fake, make_assistant, week):
    assistant = make_assistant(week, llm=fake.client())
    await assistant.handle(Incoming(1, 1, TOMORROW))
    await assistant.handle(Incoming(1, 1, "/mode agent"))
    await assistant.handle(Incoming(1, 1, TOMORROW))

    efforts = [request["output_config"]["effort"] for request in fake.requests()]
    assert efforts == ["low", "medium", "medium"]
    assert {request["max_tokens"] for request in fake.requests()} == {4096}
    assert not any("thinking" in request or "temperature" in request for request in fake.requests())


# --- prices ------------------------------------------------------------------------------------


def test_the_example_config_prices_both_models_as_their_pages_do():
    llm = load_config(EXAMPLE, known_tools=TOOLS.names()).settings.llm

    assert llm.prices["claude-sonnet-5-5"] == Price(
        input=2, output=10, cache_write=2.50, cache_read=0.10
    )
    assert llm.prices["claude-haiku-5-5"] == Price(
        input=0.10, output=0.50, cache_write=0.125, cache_read=0.01
    )
    assert llm == LlmSettings()  # the example writes out the defaults


@pytest.mark.parametrize(
    ("model", "dollars"), [("claude-sonnet-5-5", 0.0575), ("claude-haiku-5-5", 0.003125)]
)
def test_the_cost_of_a_run_comes_from_the_configured_price(model, dollars):
    usage = Usage(
        model_calls=3,
        input_tokens=10_000,
        output_tokens=2_000,
        cache_read_tokens=50_000,
        cache_write_tokens=5_000,
    )

    assert cost_usd(usage, LlmSettings(model=model).prices[model]) == pytest.approx(dollars)
