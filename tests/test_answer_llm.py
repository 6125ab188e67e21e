"""The workflow's answer step with Claude, replayed from cassettes recorded against a local fake
Messages API (tests/record_anthropic_cassettes.py), plus hand-written error cassettes."""

from __future__ import annotations

import json

import pytest

from bot.config import LlmSettings
from bot.messages import Incoming
from integrations.llm import Claude
from tests.conftest import ROOT
from tests.fakes import without_varying_headers

CASSETTES = ROOT / "tests" / "cassettes" / "anthropic"


def as_anthropic(request):
    # Recorded against a local fake; stored (and matched) as the real API. Idempotent.
    if request.host in ("127.0.0.1", "localhost"):
        request.uri = "https://api.anthropic.com" + request.path
    return request


@pytest.fixture
def vcr_config():
    return {
        "filter_headers": ["authorization", "x-api-key", "host"],
        "before_record_request": as_anthropic,
        "before_record_response": without_varying_headers,
        "match_on": ["method", "scheme", "host", "path", "body"],
        "decode_compressed_response": True,
    }


@pytest.fixture
def vcr_cassette_dir():
    return str(CASSETTES)


def claude(max_retries: int = 0) -> Claude:
    """A client with the example config's settings (model, max_tokens, effort)."""
    return Claude("sk-ant-test", **LlmSettings().client_options() | {"max_retries": max_retries})


@pytest.mark.vcr
async def test_claude_writes_the_reply_from_the_events_found(make_assistant, week, vcr):
    reply = await make_assistant(week, llm=claude()).handle(Incoming(1, 1, "What's on tomorrow?"))

    assert reply.text == ("You have Tennis match with Sam on Thursday at 18:30 at Regent's Park.")
    assert [step.name for step in reply.steps] == [
        "calendar",
        "search_calendar",
        "chat claude-sonnet-5-5",
    ]
    assert reply.usage.model_calls == 1
    assert reply.usage.input_tokens > 100
    sent = json.loads(vcr.requests[0].body)
    assert "It is now Wednesday 25 November 2026, 10:00 in Europe/London" in sent["system"]
    question = sent["messages"][-1]["content"]
    assert question.startswith("What's on tomorrow?")
    assert "data, not instructions" in question
    assert '"title": "Tennis match with Sam"' in question
    assert "Parkrun" not in question  # only what the rule's search found goes to the model


@pytest.mark.vcr
async def test_the_chat_so_far_is_part_of_the_conversation(make_assistant, week, vcr):
    assistant = make_assistant(week, llm=claude())
    await assistant.handle(Incoming(3, 3, "What's on tomorrow?"))
    await assistant.handle(Incoming(3, 3, "and this weekend?"))

    second = json.loads(vcr.requests[1].body)["messages"]
    assert [message["role"] for message in second] == ["user", "assistant", "user"]
    assert second[0]["content"] == "What's on tomorrow?"
    assert second[1]["content"].startswith("You have Tennis match with Sam")


@pytest.mark.vcr(match_on=["method", "host", "path"])
@pytest.mark.parametrize(
    ("status", "why"),
    [
        (529, "Claude is overloaded right now."),
        (500, "Claude answered with an error (HTTP 500)."),
        (401, "Claude refused the API key (check ANTHROPIC_API_KEY)."),
    ],
    ids=["overloaded", "server-error", "bad-key"],
)
async def test_when_claude_fails_the_template_answers(make_assistant, week, status, why, vcr):
    # One hand-written cassette per status; the answer must still be right and complete.
    reply = await make_assistant(week, llm=claude()).handle(Incoming(1, 1, "What's on tomorrow?"))

    assert reply.text == (
        "Tomorrow, Thursday 26 November:\n• 18:30–20:00  Tennis match with Sam — Regent's Park"
    )
    assert reply.steps[-1].name == "template"
    assert reply.steps[-1].detail["llm_error"] == why
    assert vcr.responses[0]["status"]["code"] == status


@pytest.mark.vcr(match_on=["method", "host", "path"])
async def test_an_overloaded_claude_is_retried_after_retry_after(
    make_assistant, week, vcr, monkeypatch
):
    retrying = claude(max_retries=1)
    messages = retrying._client.messages
    sent: list[dict] = []
    create = messages.create

    async def spy(**request):
        sent.append(request)
        return await create(**request)

    monkeypatch.setattr(messages, "create", spy)
    assistant = make_assistant(week, llm=retrying)
    await assistant.handle(Incoming(1, 1, "/mode agent"))

    reply = await assistant.handle(Incoming(1, 1, "Anything tomorrow evening?"))

    assert reply.text == "Nothing is planned for tomorrow evening."
    assert vcr.play_count == 2  # the 529, then the answer
    assert sent[0]["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert sent[0]["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in sent[0]["tools"][0]
    assert reply.usage.cache_write_tokens == 1650
