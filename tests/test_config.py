"""A broken config names the file, the rule, the field, what is wrong and what was meant."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, load_config
from bot.tools import TOOLS
from integrations.speech import Speaker
from tests.conftest import EXAMPLE


def problems_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "tandem.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, known_tools=TOOLS.names())
    assert str(path) in str(caught.value)
    return caught.value.problems


def test_the_example_config_is_valid(example_config):
    assert [rule.name for rule in example_config.settings.rules] == [
        "weather",
        "calendar",
        "time",
        "morning-briefing",
    ]
    assert example_config.settings.user.timezone == "Europe/London"


def test_every_problem_is_listed_at_once_with_the_rule_and_a_suggestion(tmp_path):
    problems = problems_of(
        tmp_path,
        """
user:
  timezone: Europe/Lundon
  clok: 24h
rules:
  - name: calendar
    description: my events
    when: {personal_evnt: true}
    steps:
      - tool: search_calender
      - answer: llm_or_template
""",
    )
    text = "\n".join(problems)
    assert (
        "user.timezone: unknown time zone 'Europe/Lundon' (did you mean 'Europe/London'?)" in text
    )
    assert "user.clok: unknown field 'clok' (did you mean 'clock'?)" in text
    assert "rule 'calendar' (rules[0]), when.personal_evnt: unknown field" in text
    assert "did you mean 'personal_event'?" in text
    assert "steps[0].tool: unknown tool 'search_calender' (did you mean 'search_calendar'?)" in text
    assert len(problems) == 4


def test_an_unknown_tool_is_named_with_the_likely_one(tmp_path):
    problems = problems_of(
        tmp_path,
        """
rules:
  - name: events
    description: my events
    when: {keywords: [calendar]}
    steps:
      - tool: search_calender
      - answer: template
""",
    )
    assert problems == [
        "rule 'events' (rules[0]), steps[0].tool: unknown tool 'search_calender' "
        "(did you mean 'search_calendar'?); tools are current_time, search_calendar, speak, "
        "weather_forecast"
    ]


def test_yaml_syntax_errors_give_the_line_where_the_broken_part_starts(tmp_path):
    problems = problems_of(tmp_path, "user:\n  name: [Alex\n")
    assert problems[0].startswith("line 2, column 9: not valid YAML")


def test_an_unclosed_quote_is_reported_on_its_own_line(tmp_path):
    # PyYAML notices only at the next quote, further down the file; the user's line is 8.
    lines = EXAMPLE.read_text().splitlines()
    lines[7] = '  timezone: "Europe/London     # an IANA time zone name'
    problems = problems_of(tmp_path, "\n".join(lines))
    assert len(problems) == 1
    assert problems[0].startswith("line 8, column 3: not valid YAML (while parsing a block mapping")
    noticed = int(problems[0].split(" at line ")[1].split(",")[0])
    assert noticed > 8


def test_a_key_given_twice_is_named_by_line(tmp_path):
    problems = problems_of(
        tmp_path, "user:\n  timezone: Europe/Paris\n  name: Al\n  timezone: UTC\n"
    )
    assert problems == [
        "line 4, column 3: not valid YAML (the key 'timezone' is given twice (first on line 2); "
        "only one can count)"
    ]


def test_a_file_nested_5000_deep_is_a_clear_problem(tmp_path):
    problems = problems_of(tmp_path, "user: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problems == ["the file is nested too deeply to read"]


def test_a_misspelt_calendar_path_and_an_unknown_voice_come_with_the_schema_errors(tmp_path):
    text = (
        "user: {timezone: Mars/Olympus}\n"
        "calendars: [{type: ics, path: sample-calender.ics}]\n"
        "voice: {default_voice: gmw/klingon}\n"
    )
    path = tmp_path / "tandem.yaml"
    path.write_text(text)
    speaker = Speaker()
    try:
        with pytest.raises(ConfigError) as caught:
            load_config(path, TOOLS.names(), voice_problem=speaker.validate_voice)
    finally:
        speaker.close()
    problems = caught.value.problems
    assert problems[0].startswith("user.timezone: unknown time zone 'Mars/Olympus'")
    assert problems[1] == f"calendars[0].path: no such file: {tmp_path / 'sample-calender.ics'}"
    assert problems[2].startswith("voice.default_voice: ")
    assert "gmw/klingon" in problems[2]
    assert len(problems) == 3


def test_check_config_names_a_data_folder_that_cannot_be_written(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("TANDEM_DATA_DIR", str(blocker / "data"))

    assert main(["check-config", str(EXAMPLE)]) == 1

    said = capsys.readouterr().err
    assert f"the data folder {blocker / 'data'} cannot be written to: Not a directory." in said
    assert "Traceback" not in said


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "rules:\n  - name: a\n    description: b\n    when: {}\n"
            "    steps: [{answer: template}]",
            "rule 'a' (rules[0]), when: a trigger needs at least one of keywords",
        ),
        (
            "rules:\n  - name: a\n    description: b\n    when: {regex: '(['}\n"
            "    steps: [{answer: template}]",
            "rule 'a' (rules[0]), when.regex: not a valid regular expression",
        ),
        (
            "rules:\n  - name: a\n    description: b\n    when: {keywords: [x]}\n"
            "    steps: [{tool: current_time}]",
            "rule 'a' (rules[0]): the last step must be an answer step",
        ),
        ("calendars:\n  - type: outlook\n", "calendars[0]: 'type' must be 'ics' or 'google'"),
        ("calendars:\n  - type: ics\n", "calendars[0]: give exactly one of 'path'"),
        ("calendars:\n  - type: ics\n    path: nowhere.ics\n", "calendars[0].path: no such file"),
        ("user:\n  clock: 25h\n", "user.clock: Input should be '24h' or '12h'"),
        ("search:\n  horizon_days: 0\n", "search.horizon_days: Input should be greater than"),
        ("- just\n- a list\n", "the file must be a mapping of sections"),
        (
            "rules:\n  - {name: a, description: b, when: {keywords: [x]}, "
            "steps: [{answer: template}]}\n  - {name: a, description: c, when: {keywords: [y]}, "
            "steps: [{answer: template}]}\n",
            "top level: rule names must be unique; used twice: a",
        ),
    ],
)
def test_each_kind_of_mistake_is_explained(tmp_path, text, expected):
    assert any(problem.startswith(expected) for problem in problems_of(tmp_path, text)), expected


RULE_HEAD = "rules:\n  - name: a\n    description: b\n    when: {keywords: [x]}\n    steps:\n"


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            "      - answr: template\n",
            ["rule 'a' (rules[0]), steps[0].answr: unknown field 'answr' (did you mean 'answer'?)"],
        ),
        (
            "      - search: x\n      - answer: template\n",
            [
                "rule 'a' (rules[0]), steps[0]: a step is either '- tool: NAME' or '- answer: "
                "llm_or_template'"
            ],
        ),
        (
            "      - answer: templat\n",
            [
                "rule 'a' (rules[0]), steps[0].answer: Input should be 'llm_or_template' or "
                "'template'"
            ],
        ),
    ],
)
def test_a_wrong_step_gets_exactly_one_clear_problem(tmp_path, steps, expected):
    assert problems_of(tmp_path, RULE_HEAD + steps) == expected


def test_a_missing_file_is_explained(tmp_path):
    with pytest.raises(ConfigError, match="the file does not exist"):
        load_config(tmp_path / "absent.yaml")


def test_example_calendar_path_is_relative_to_the_file():
    config = load_config(EXAMPLE)
    assert config.resolve("sample-calendar.ics") == EXAMPLE.parent / "sample-calendar.ics"
