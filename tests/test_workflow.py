"""Workflow mode on the example rules: the right events, nothing invented, honest limits."""

from __future__ import annotations

import pytest

from bot.config import load_config
from bot.messages import Incoming
from bot.tools import TOOLS
from bot.wiring import build
from integrations.calendar import Event
from tests.conftest import CountingCalendar, at, event


async def ask(assistant, text: str, chat_id: int = 7) -> str:
    return (await assistant.handle(Incoming(chat_id, 42, text))).text


async def test_tomorrow_lists_tomorrows_events_with_times_and_places(make_assistant, week):
    reply = await ask(make_assistant(week), "What's on tomorrow?")
    assert reply == (
        "Tomorrow, Thursday 26 November:\n• 18:30–20:00  Tennis match with Sam — Regent's Park"
    )


async def test_a_subject_finds_the_next_matching_event_far_ahead(make_assistant, week):
    reply = await ask(make_assistant(week), "When is my next dentist appointment?")
    assert "Thursday 10 December" in reply
    assert "08:30–09:00  Dentist check-up — Smile Dental" in reply
    assert "Tennis" not in reply


async def test_all_day_events_are_shown_as_all_day(make_assistant, week):
    reply = await ask(make_assistant(week), "anything on Friday?")
    assert "• all day  Working from home" in reply


async def test_no_events_says_so_and_invents_none(make_assistant, week):
    reply = await ask(make_assistant(week), "What do I have on 2 December?")
    assert reply == "You have nothing on your calendar Wednesday 2 December."
    reply = await ask(make_assistant(week), "when is my next haircut?")
    assert reply == "I found nothing matching “haircut” in the next 90 days."


async def test_an_impossible_date_is_explained_without_a_calendar_call(make_assistant, week):
    reply = await ask(make_assistant(week), "what's on my calendar on 31 February?")
    assert "There is no 31 February" in reply
    assert week.calls == 0


async def test_a_question_no_rule_covers_is_out_of_scope_with_what_is_covered(make_assistant, week):
    reply = await ask(make_assistant(week), "Tell me a joke")
    assert reply.startswith("That's outside what my rules cover. They cover:")
    assert "• Questions about your own events" in reply
    assert week.calls == 0


async def test_the_trace_shows_the_rule_and_the_tool_arguments(make_assistant, week):
    reply = await make_assistant(week).handle(Incoming(1, 1, "what's on tomorrow?"))
    kinds = [(step.kind, step.name) for step in reply.steps]
    assert kinds == [("rule", "calendar"), ("tool", "search_calendar"), ("answer", "template")]
    assert reply.steps[1].detail["start"] == "2026-11-26T00:00:00+00:00"
    assert reply.steps[1].detail["end"] == "2026-11-27T00:00:00+00:00"
    assert reply.usage.model_calls == 0


async def test_twelve_hour_clock_style(tmp_path, make_assistant, week):
    path = tmp_path / "tandem.yaml"
    path.write_text(
        "user: {timezone: Europe/London, clock: 12h}\n"
        "rules:\n  - name: cal\n    description: events\n    when: {personal_event: true}\n"
        "    steps: [{tool: search_calendar}, {answer: template}]\n"
    )
    assistant = make_assistant(week, load_config(path, known_tools=TOOLS.names()))
    assert "6:30 PM–8 PM  Tennis match with Sam" in await ask(assistant, "what's on tomorrow?")


async def test_step_arguments_from_the_rule_override_the_question(tmp_path, make_assistant, week):
    path = tmp_path / "tandem.yaml"
    path.write_text(
        "user: {timezone: Europe/London}\n"
        "rules:\n  - name: next\n    description: my next thing\n"
        "    when: {phrases: ['next thing']}\n"
        "    steps: [{tool: search_calendar, with: {limit: 1, text: ''}}, {answer: template}]\n"
    )
    assistant = make_assistant(week, load_config(path, known_tools=TOOLS.names()))
    reply = await ask(assistant, "what's my next thing?")
    assert "Tennis match with Sam" in reply
    assert "Parkrun" not in reply


@pytest.mark.parametrize("length", [4001, 20_000])
async def test_an_overlong_message_is_refused_kindly(make_assistant, week, length):
    reply = await ask(make_assistant(week), "a" * length)
    assert f"That message is {length:,} characters long; I read up to 4,000" in reply
    assert week.calls == 0


async def test_history_survives_a_restart(tmp_path, example_config, make_assistant, week):
    await ask(make_assistant(week), "what's on tomorrow?", chat_id=5)
    again = make_assistant(week)  # a new process on the same data folder
    turns = again.memory.recent(5)
    assert [turn.role for turn in turns] == ["user", "assistant"]
    assert turns[0].text == "what's on tomorrow?"
    assert "Tennis match with Sam" in turns[1].text
    assert again.memory.recent(6) == []


async def test_memory_keeps_only_the_last_turns(make_assistant, week):
    assistant = make_assistant(week)
    for number in range(15):
        await ask(assistant, f"what's on tomorrow? ({number})")
    turns = assistant.memory.recent(7)
    assert len(turns) == 20
    assert turns[0].text == "what's on tomorrow? (5)"


async def test_a_google_calendar_without_sign_in_says_how_to_sign_in(tmp_path):
    path = tmp_path / "tandem.yaml"
    path.write_text(
        "user: {timezone: Europe/London}\n"
        f"calendars:\n  - type: google\n    token_file: {tmp_path / 'absent.json'}\n"
        "rules:\n  - name: cal\n    description: events\n    when: {personal_event: true}\n"
        "    steps: [{tool: search_calendar}, {answer: template}]\n"
    )
    config = load_config(path, known_tools=TOOLS.names())
    assistant = build(config, data_dir=tmp_path)
    reply = await ask(assistant, "what's on tomorrow?")
    assert "tandem auth google" in reply
    assert "Traceback" not in reply


async def test_no_calendar_configured_is_explained(tmp_path):
    path = tmp_path / "tandem.yaml"
    path.write_text(
        "rules:\n  - name: cal\n    description: events\n    when: {personal_event: true}\n"
        "    steps: [{tool: search_calendar}, {answer: template}]\n"
    )
    config = load_config(path, known_tools=TOOLS.names())
    assistant = build(config, data_dir=tmp_path)
    assert "No calendar is set up yet" in await ask(assistant, "what's on tomorrow?")


@pytest.fixture
def away() -> CountingCalendar:
    """A stay in Cork with things to do there, one at home after it, mornings and evenings."""
    return CountingCalendar(
        [
            Event("Cork with Mam", at(30, 0), at(3, 0, month=12), all_day=True, location="Cork"),
            event("Flight EI713 to Cork", at(30, 8), 90),
            event("Coffee with Aoife", at(1, 10, month=12), location="Cork"),
            event("Pub quiz", at(2, 20, month=12), 120),
            event("Choir", at(4, 19, month=12), 120),
            event("Eye test", at(20, 9), 30, location="Specsavers"),
            event("Plumber", at(4, 8, month=12), 120, description="Mobile 021 555 0192."),
        ]
    )


async def test_while_away_lists_every_event_the_stay_holds(make_assistant, away):
    reply = await ask(make_assistant(away), "What have I got on while I'm in Cork?")
    assert "Coffee with Aoife" in reply and "Pub quiz" in reply
    assert "Choir" not in reply  # after the stay
    count = await ask(make_assistant(away), "How many things are on while I'm in Cork?")
    assert count.startswith("3 events while")
    free = await ask(make_assistant(away), "Am I free while I'm in Cork?")
    assert free.startswith("No, while Cork with Mam")
    alone = await ask(make_assistant(away), "Anything else on while I'm at choir?")
    assert alone.startswith("Nothing else is on your calendar while Choir")


async def test_a_part_of_each_day_keeps_only_what_takes_up_some_of_it(make_assistant, away):
    reply = await ask(make_assistant(away), "Which evenings am I out next week?")
    assert "Pub quiz" in reply and "Choir" in reply
    assert "Plumber" not in reply and "Coffee with Aoife" not in reply
    reply = await ask(make_assistant(away), "Anything on in the mornings next week?")
    assert "Coffee with Aoife" in reply and "Flight EI713" in reply and "Plumber" in reply
    assert "Pub quiz" not in reply and "Cork with Mam" not in reply  # all day is no morning


async def test_an_event_asked_for_by_name_that_has_been_is_said_with_its_day(make_assistant, away):
    reply = await ask(make_assistant(away), "When's my eye test?")
    assert "Eye test" in reply and "Friday 20 November" in reply


async def test_a_phone_number_is_in_the_notes(make_assistant, away):
    reply = await ask(make_assistant(away), "What's the plumber's phone number?")
    assert "021 555 0192" in reply


async def test_free_parts_of_days_are_the_days_nothing_takes_them_up(make_assistant, away):
    reply = await ask(make_assistant(away), "Am I free any evening next week?")
    free, taken = reply.split("\n", 1)
    assert free.startswith("Yes") and "Monday 30 November" in free
    assert "Wednesday 2 December" not in free and "Friday 4 December" not in free
    assert "Pub quiz" in taken and "Choir" in taken
