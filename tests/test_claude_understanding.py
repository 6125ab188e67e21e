"""With `understanding.claude` and a key, Claude reads the question (one structured-output
call), the rules search as they always do, and the answer step writes from what was found. Every
way that reading can fail falls back to the offline reader, and says so in /trace. Claude is the
fake Messages API (tests/fakes/anthropic_server.py) over real HTTP, scripted per test."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from bot.config import ConfigError, LimitSettings, UnderstandingSettings, load_config
from bot.engine.workflow import READ_ONLY
from bot.messages import Incoming
from bot.tools import TOOLS
from bot.understanding.claude import SCHEMA, Unusable, question_from
from integrations.llm import Claude
from tests.conftest import NOW, example_without
from tests.fakes import silent_server
from tests.fakes.anthropic_rules import rejection

MODEL = "claude-sonnet-5-5"
CLAUDE_READS = example_without(
    understanding=UnderstandingSettings(claude=True),
    limits=LimitSettings(messages_per_minute=1000),
)
TOMORROW = "What's on tomorrow?"
WRITTEN = "You have Tennis match with Sam on Thursday at 18:30 at Regent's Park."  # answer step
TENNIS_FOUND = (
    "Tomorrow, Thursday 26 November:\n• 18:30–20:00  Tennis match with Sam — Regent's Park"
)


def local(day: int, hour: int = 0, month: int = 11) -> str:
    return NOW.replace(month=month, day=day, hour=hour, minute=0).isoformat()


def reading(**fields: Any) -> dict[str, Any]:
    """A structured output as Claude would give it: a calendar list with no time, changed."""
    plain = {
        "kind": "calendar",
        "asks": "list",
        "window": None,
        "moment": None,
        "terms": [],
        "only_next": False,
        "part_of_day": None,
        "during": False,
    }
    return plain | fields


async def ask(assistant, text: str) -> tuple[Any, str]:
    reply = await assistant.handle(Incoming(1, 1, text))
    trace = await assistant.handle(Incoming(1, 1, "/trace"))
    return reply, trace.text


def calls_of(fake) -> list[dict[str, Any]]:
    return fake.requests()


# --- a good reading: the same search, the same answer step ---------------------------------------


async def test_claudes_reading_drives_the_search_and_the_answer_sees_only_its_results(
    fake, make_assistant, week
):
    fake.script({"json": reading(asks="where", terms=["Sam"], only_next=True)})
    assistant = make_assistant(week, config=CLAUDE_READS, llm=fake.client())

    reply, trace = await ask(assistant, "where am I knocking a ball about with Sam?")

    assert reply.text == WRITTEN
    understanding, answer = calls_of(fake)  # two model calls, no more
    assert understanding["output_config"]["format"]["type"] == "json_schema"
    assert understanding["output_config"]["effort"] == "low"
    assert understanding["messages"] == [
        {"role": "user", "content": "where am I knocking a ball about with Sam?"}
    ]
    assert "It is now Wednesday 25 November 2026, 10:00 in Europe/London" in understanding["system"]
    assert "format" not in answer["output_config"]
    # The answer step reads the question and the search's findings, nothing of the reading.
    latest = answer["messages"][-1]["content"]
    assert "<calendar_data>" in latest and "Tennis match with Sam" in latest
    assert "Dentist" not in latest and "only_next" not in latest
    assert f"read by {MODEL} (calendar, asks where)" in trace
    assert "search_calendar(text='Sam', limit=1)" in trace
    assert reply.usage.model_calls == 2


async def test_a_window_read_by_claude_is_searched_in_the_users_zone(fake, make_assistant, week):
    # "the day after the stand-up" is beyond the offline reader; Claude resolves it to Thursday.
    window = {"start": local(26), "end": local(27)}
    fake.script({"json": reading(window=window)})
    assistant = make_assistant(week, config=CLAUDE_READS, llm=fake.client())

    reply, trace = await ask(assistant, "what have I got the day after the stand-up?")

    assert reply.text == WRITTEN
    assert "search_calendar(start='2026-11-26 00:00', end='2026-11-27 00:00', limit=10)" in trace


async def test_claudes_free_at_a_moment_is_answered_from_what_runs_then(fake, make_assistant, week):
    fake.script({"json": reading(asks="free", moment=local(26, 19))})
    assistant = make_assistant(week, config=CLAUDE_READS, llm=fake.client())

    reply, trace = await ask(assistant, "can I squeeze in a call tmrw at seven in the evening?")

    assert reply.text == WRITTEN  # the fake's answer step names what the search returned
    assert "search_calendar(start='2026-11-26 19:00', end='2026-11-26 20:00'" in trace
    assert "read by" in trace and "asks free" in trace


async def test_claudes_parts_of_days_and_stays_reach_the_search(fake, make_assistant, week):
    mornings = {"start": local(26), "end": local(28)}
    fake.script(
        {"json": reading(window=mornings, part_of_day="morning")},
        {"text": WRITTEN},
        {"json": reading(terms=["Sam"], during=True)},
    )
    assistant = make_assistant(week, config=CLAUDE_READS, llm=fake.client())

    _, trace = await ask(assistant, "what's on in the mornings till Friday?")
    assert "part_of_day='morning'" in trace and "read by" in trace

    _, trace = await ask(assistant, "what else is on while I'm with Sam?")
    assert "during=True" in trace and "text='Sam'" in trace


# --- every failure falls back to the offline reader, and the trace says why ----------------------

FALLBACKS = {
    "not JSON": (
        {"text": "Tomorrow, I think."},
        "Claude's reading is unusable: not the JSON asked for",
    ),
    "a kind it does not know": (
        {"json": reading(kind="calendar_question")},
        "Claude's reading is unusable: not the JSON asked for (kind:",
    ),
    "a window that ends before it starts": (
        {"json": reading(window={"start": local(27), "end": local(26)})},
        "Claude's reading is unusable: the window 2026-11-27 00:00 to 2026-11-26 00:00 is not one",
    ),
    "a window in another year": (
        {"json": reading(window={"start": "2031-11-26T00:00:00", "end": "2031-11-27T00:00:00"})},
        "Claude's reading is unusable: 2031-11-26 is too far from today",
    ),
    "a search word the user never said": (
        {"json": reading(terms=["dentist"])},
        "Claude's reading is unusable: the search term 'dentist' is not in the question",
    ),
    "refused": ({"stop_reason": "refusal"}, "Claude declined to answer this"),
    "cut off at max_tokens": ({"stop_reason": "max_tokens"}, "Claude's answer was cut off"),
    "HTTP 500": ({"status": 500}, "Claude answered with an error (HTTP 500)."),
    "overloaded": ({"status": 529}, "Claude is overloaded right now."),
    "a broken body": ({"malformed": True}, "Claude's answer arrived garbled."),
}


@pytest.mark.parametrize(("change", "why"), FALLBACKS.values(), ids=FALLBACKS.keys())
async def test_an_unusable_reading_falls_back_to_the_offline_reader(
    fake, make_assistant, week, change, why
):
    fake.script(change)
    assistant = make_assistant(week, config=CLAUDE_READS, llm=fake.client())

    reply, trace = await ask(assistant, TOMORROW)

    assert reply.text == WRITTEN  # tomorrow's tennis match, read offline
    assert len(calls_of(fake)) == 2  # the reading and the answer step, never a third
    # A call that got no message back reports no usage, so it counts no tokens or dollars.
    got_a_message = not ("status" in change or "malformed" in change)
    assert reply.usage.model_calls == 1 + got_a_message
    assert f"read offline ({why}" in trace
    assert "search_calendar(start='2026-11-26 00:00', end='2026-11-27 00:00', limit=10)" in trace


async def test_claude_not_answering_in_time_falls_back_and_the_template_answers(
    make_assistant, week
):
    with silent_server() as server:  # takes the connection and never answers
        llm = Claude(
            "sk-ant-test", MODEL, 1024, timeout_seconds=0.5, max_retries=0,
            base_url=f"http://127.0.0.1:{server.port}",
        )  # fmt: skip
        assistant = make_assistant(week, config=CLAUDE_READS, llm=llm)

        reply, trace = await ask(assistant, TOMORROW)

        assert server.connections() == 2  # the reading, then the answer step: both timed out
    assert reply.text == TENNIS_FOUND
    assert "read offline (Claude did not answer within 0.5 seconds.)" in trace
    assert reply.usage.model_calls == 0


async def test_a_limit_reached_by_the_reading_leaves_the_answer_to_the_template(
    fake, make_assistant, week
):
    config = example_without(
        understanding=UnderstandingSettings(claude=True),
        llm=CLAUDE_READS.settings.llm.model_copy(
            update={
                "limits": CLAUDE_READS.settings.llm.limits.model_copy(update={"cost_usd": 1e-9})
            }
        ),
    )
    fake.script({"json": reading(asks="where", terms=["Sam"], only_next=True)})
    assistant = make_assistant(week, config=config, llm=fake.client())

    reply, trace = await ask(assistant, "where's tennis with Sam?")

    assert len(calls_of(fake)) == 1  # the reading; then the limit leaves the answer to the template
    assert "read by" in trace and "answer from template" in trace
    assert "Regent's Park" in reply.text


# --- what is not a search stays not a search ------------------------------------------------------


async def test_a_write_request_is_declined_even_when_claude_reads_it_as_a_search(
    fake, make_assistant, week
):
    fake.script({"json": reading(terms=["haircut"])})
    assistant = make_assistant(week, config=CLAUDE_READS, llm=fake.client())

    reply, trace = await ask(assistant, "cancel my haircut")

    assert reply.text == READ_ONLY
    assert week.calls == 0 and len(calls_of(fake)) == 1 == reply.usage.model_calls
    assert "read by claude-sonnet-5-5 (write, asks list)" in trace


async def test_a_write_request_only_claude_recognises_is_declined(fake, make_assistant, week):
    fake.script({"json": reading(kind="write")})
    assistant = make_assistant(week, config=CLAUDE_READS, llm=fake.client())

    reply, _ = await ask(assistant, "could you get rid of the dentist thing in December")

    assert reply.text == READ_ONLY
    assert week.calls == 0 and len(calls_of(fake)) == 1


async def test_out_of_scope_read_by_claude_costs_one_call_and_says_so(fake, make_assistant, week):
    fake.script({"json": reading(kind="other")})
    assistant = make_assistant(week, config=CLAUDE_READS, llm=fake.client())

    reply, trace = await ask(assistant, "what's a good name for a goldfish?")

    assert reply.text.startswith("That's outside what my rules cover.")
    assert week.calls == 0 and reply.usage.model_calls == 1
    assert "1. read by claude-sonnet-5-5 (other, asks list)" in trace
    assert "2. no rule matched" in trace


# --- what it costs shows where every model call's cost shows --------------------------------------


async def test_the_readings_cost_shows_in_usage_and_compare(fake, make_assistant, week):
    assistant = make_assistant(week, config=CLAUDE_READS, llm=fake.client())
    fake.script({"json": reading(window={"start": local(26), "end": local(27)})})

    reply = await assistant.handle(Incoming(1, 1, TOMORROW))
    usage = await assistant.handle(Incoming(1, 1, "/usage"))

    assert len(calls_of(fake)) == reply.usage.model_calls == 2
    assert "Today: 1 message, 2 model calls." in usage.text
    fake.script({"json": reading(window={"start": local(26), "end": local(27)})})
    compare = await assistant.handle(Incoming(1, 1, f"/compare {TOMORROW}"))
    workflow = compare.text.split("AGENT")[0]
    assert f"read by {MODEL} (calendar, asks list)" in workflow
    assert "2 model calls" in workflow


async def test_without_the_setting_claude_does_not_read(fake, make_assistant, week):
    reply = await make_assistant(week, llm=fake.client()).handle(Incoming(1, 1, TOMORROW))

    assert reply.text == WRITTEN
    (only,) = calls_of(fake)
    assert "format" not in only["output_config"]


# --- the reading's own checks ---------------------------------------------------------------------


def read(text: str, **fields: Any):
    return question_from(text, json.dumps(reading(**fields)), NOW, "24h")


def test_times_without_an_offset_are_the_users_and_a_whole_day_is_named_as_one():
    question = read(TOMORROW, window={"start": "2026-11-26T00:00", "end": "2026-11-27T00:00"})

    assert question.window.start == NOW.replace(day=26, hour=0)
    assert question.window.label == "tomorrow"


def test_times_in_another_zone_are_moved_into_the_users():
    question = read(TOMORROW, window={"start": "2026-11-26T01:00+01:00", "end": local(27)})

    assert question.window.start == NOW.replace(day=26, hour=0)
    assert question.window.start.tzinfo == NOW.tzinfo


def test_a_past_last_with_no_window_looks_back_a_year_as_offline():
    question = read("when did I last see the dentist?", asks="last", terms=["dentist"])

    assert question.window.end == NOW and question.window.start == NOW - timedelta(days=365)
    assert question.subject == "dentist"


def test_a_part_of_each_day_names_the_window_as_offline():
    week = {"start": local(30), "end": local(7, month=12)}
    question = read("any free evening next week?", asks="free", window=week, part_of_day="evening")

    assert question.part_of_day == "evening"
    assert question.window.label.endswith(", in the evenings")


def test_during_needs_the_stay_named_and_no_window():
    assert read("what's on while I'm in Cork?", terms=["Cork"], during=True).during
    assert not read("what's on while I'm away?", during=True).during
    day = {"start": local(26), "end": local(27)}
    assert not read("what's on in Cork tomorrow?", terms=["Cork"], window=day, during=True).during


def test_a_near_spelling_of_the_users_word_is_kept():
    assert read("when are my dentists?", terms=["dentist"], only_next=True).subject == "dentist"


@pytest.mark.parametrize(
    "window",
    [
        {"start": "2026-11-26T00:00", "end": "2026-11-26T00:00"},  # empty
        {"start": "2026-01-01T00:00", "end": "2027-06-01T00:00"},  # longer than a year
    ],
)
def test_a_window_that_is_no_window_is_unusable(window):
    with pytest.raises(Unusable):
        read(TOMORROW, window=window)


def test_more_search_terms_than_a_question_names_are_unusable():
    with pytest.raises(Unusable):
        read("tennis tennis tennis", terms=["tennis"] * 7)


# --- the fake refuses what structured outputs refuse ---------------------------------------------


def with_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": TOMORROW}],
        "output_config": {"format": {"type": "json_schema", "schema": schema}},
    }


def closed(**properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


SCHEMA_RULES = {
    "objects must be closed": (
        {"type": "object", "properties": {"a": {"type": "string"}}},
        "'additionalProperties' must be explicitly set to false",
    ),
    "nested objects too": (
        closed(a={"type": "object", "properties": {}}),
        "'additionalProperties' must be explicitly set to false",
    ),
    "no numerical constraints": (closed(n={"type": "integer", "minimum": 1}), "'minimum'"),
    "no string lengths": (closed(s={"type": "string", "maxLength": 9}), "'maxLength'"),
    "minItems only 0 or 1": (
        closed(a={"type": "array", "items": {"type": "string"}, "minItems": 2}),
        "'minItems'",
    ),
    "known string formats only": (closed(s={"type": "string", "format": "phone"}), "'phone'"),
    "no recursion": (
        {"$defs": {"Node": closed(next={"$ref": "#/$defs/Node"})}, "$ref": "#/$defs/Node"},
        "recursive schemas are not supported",
    ),
    "no external references": (closed(a={"$ref": "https://example.com/a.json"}), "not a local"),
}


@pytest.mark.parametrize(("schema", "message"), SCHEMA_RULES.values(), ids=SCHEMA_RULES.keys())
def test_the_fake_refuses_a_schema_structured_outputs_does_not_take(schema, message):
    error = rejection(with_schema(schema))

    assert error is not None and error.status == 400
    assert error.message.startswith("output_config.format.schema: ")
    assert message in error.message


def test_the_reading_schema_as_the_sdk_sends_it_is_taken():
    import anthropic

    assert rejection(with_schema(anthropic.transform_schema(SCHEMA))) is None


def test_the_fakes_unscripted_structured_output_fits_the_schema(fake):
    import anthropic

    status, answer = fake.post(with_schema(anthropic.transform_schema(SCHEMA)))

    assert status == 200 and answer["stop_reason"] == "end_turn"
    question = question_from(TOMORROW, answer["content"][0]["text"], NOW, "24h")
    assert question.kind == "calendar"


# --- the switch -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("cluade: true", "understanding.cluade: unknown field 'cluade' (did you mean 'claude'?)"),
        ("claude: sometimes", "understanding.claude: Input should be a valid boolean"),
    ],
)
def test_the_switch_is_checked_like_every_setting(tmp_path, text, problem):
    path = tmp_path / "tandem.yaml"
    path.write_text(f"understanding:\n  {text}\n")

    with pytest.raises(ConfigError) as caught:
        load_config(path, known_tools=TOOLS.names())

    assert any(found.startswith(problem) for found in caught.value.problems)


def test_the_example_config_writes_out_the_default():
    config = example_without()

    assert config.settings.understanding == UnderstandingSettings(claude=False)
    assert config.settings.llm.effort.understanding == "low"


async def test_a_follow_up_read_by_claude_is_filled_in_from_the_question_it_follows(
    fake, make_assistant, week
):
    # Claude reads only the message: "where is it?" names no event, the chat's last question does.
    assistant = make_assistant(week, config=CLAUDE_READS, llm=fake.client())
    fake.script({"json": reading(asks="when", terms=["dentist"], only_next=True)})
    await ask(assistant, "when's the dentist?")
    fake.script({"json": reading(asks="where", only_next=True)})

    _, trace = await ask(assistant, "where is it?")

    assert "text='dentist'" in trace and "start='2026-12-10 08:30'" in trace
