"""`tandem eval` replaying the example scenarios offline, its judging, and what the recording holds.

The recording (config/scenarios.example.recording.yaml) is made by
tests/record_eval_conversations.py against local fakes of the Messages API and Open-Meteo.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bot.eval import ScenarioTurn, judge
from tests.conftest import EXAMPLE, PROCESS_SECONDS, ROOT
from tests.test_cli import TANDEM

SCENARIOS = ROOT / "config" / "scenarios.example.yaml"
RECORDING = ROOT / "config" / "scenarios.example.recording.yaml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def tandem_eval(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`tandem eval` as a newcomer runs it: no API key, no proxy, nothing but the files."""
    hidden = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "TANDEM_CONFIG", "TANDEM_DATA_DIR")
    env = {key: value for key, value in os.environ.items() if key not in hidden}
    result = subprocess.run(
        [TANDEM or "tandem", "eval", *args, "--config", str(EXAMPLE)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=PROCESS_SECONDS,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.fixture(scope="module")
def example_eval(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The example scenarios, replayed once for the tests below: (stdout, report folder)."""
    folder = tmp_path_factory.mktemp("eval")
    result = tandem_eval(str(SCENARIOS), "--out", str(folder / "report"), cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout, folder / "report"


def rows(table: str, first_column: str) -> dict[str, list[str]]:
    """The rows of the printed Markdown tables, by their first cell."""
    found = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] not in (first_column, "---"):
            found[cells[0]] = cells[1:]
    return found


def per_answer(cell: str) -> float:
    """The average in brackets: "6 (0.75)" -> 0.75, "1,234 (411)" -> 411."""
    found = re.search(r"\(\$?([\d,.]+)", cell)
    assert found, cell
    return float(found[1].replace(",", ""))


def test_eval_writes_the_report_and_the_chart(example_eval):
    stdout, folder = example_eval
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Tandem eval: scenarios.example.yaml")
    assert "| mode | success | model calls |" in markdown
    assert "## Answers" in markdown
    chart = (folder / "report.png").read_bytes()
    assert chart.startswith(PNG_SIGNATURE)
    assert len(chart) > 0
    assert f"Wrote {folder / 'report.md'} and {folder / 'report.png'}" in stdout


def test_the_table_shows_what_each_mode_costs(example_eval):
    stdout, _ = example_eval
    modes = rows(stdout.split("\n\n")[0], "mode")
    assert set(modes) == {"workflow", "agent", "hybrid"}
    calls, cached = 1, 4  # model calls, cached tokens
    assert per_answer(modes["workflow"][calls]) <= 1
    assert per_answer(modes["workflow"][cached]) == 0
    assert per_answer(modes["agent"][calls]) > 1
    assert per_answer(modes["agent"][cached]) > 0


def test_a_days_until_question_is_within_the_rules_and_answered_in_every_mode(example_eval):
    stdout, _ = example_eval
    scenarios = rows(stdout.split("\n\n")[1], "scenario")
    assert scenarios["days until a birthday"] == ["✅ pass"] * 3
    assert scenarios["next dentist appointment"] == ["✅ pass"] * 3


def test_without_a_recording_it_says_how_to_make_one(tmp_path):
    scenarios = tmp_path / "mine.yaml"
    scenarios.write_text(
        "now: 2026-11-23T08:00:00\nrecording: mine.recording.yaml\n"
        "scenarios:\n  - name: one\n    turns:\n      - user: what's on tomorrow?\n"
    )
    result = tandem_eval(str(scenarios), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 1
    assert "There is no recording at" in result.stderr
    assert f"ANTHROPIC_API_KEY=sk-ant-... tandem eval {scenarios} --config {EXAMPLE}" in (
        result.stderr
    )
    assert "--record" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_request_missing_from_the_recording_fails_the_eval(tmp_path):
    scenarios = tmp_path / "changed.yaml"
    scenarios.write_text(
        f"now: 2026-11-23T08:00:00\nrecording: {RECORDING}\nmodes: [agent]\n"
        "scenarios:\n  - name: new\n    turns:\n      - user: what's on tomorrow?\n"
    )
    result = tandem_eval(str(scenarios), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 1
    assert "request(s) are not in the recording" in result.stderr
    assert "POST https://api.anthropic.com/v1/messages" in result.stderr
    assert "--record" in result.stderr


def test_a_weather_request_missing_from_the_recording_fails_without_a_traceback(tmp_path):
    scenarios = tmp_path / "changed.yaml"
    scenarios.write_text(
        f"now: 2026-11-23T08:00:00\nrecording: {RECORDING}\nmodes: [workflow]\n"
        "scenarios:\n  - name: new\n    turns:\n      - user: will it rain at my book club?\n"
    )
    result = tandem_eval(str(scenarios), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 1
    assert "GET https://geocoding-api.open-meteo.com/v1/search?name=The+Lamb" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("answer", "tools", "failure"),
    [
        ("You have Parkrun on Saturday at 09:00.", ["search_calendar"], None),
        ("YOU HAVE PARKRUN ON SATURDAY AT 09:00.", ["search_calendar"], None),
        ("You have Parkrun on Saturday.", ["search_calendar"], "missing “09:00”"),
        ("Parkrun, 09:00", [], "did not call search_calendar"),
        ("Nothing.", [], "missing “Parkrun”, “09:00”; did not call search_calendar"),
    ],
)
def test_judging_an_answer(answer, tools, failure):
    expect, must_call = ["Parkrun", "09:00"], ["search_calendar"]
    turn = ScenarioTurn(user="what's on Saturday?", expect=expect, tools=must_call)
    assert judge(turn, answer, tools) == failure


def test_judging_reads_both_apostrophes_alike():
    turn = ScenarioTurn(user="when is Sam's birthday?", expect=["Sam's birthday"])
    assert judge(turn, "Sam’s birthday is on Saturday 5 December.", []) is None


# --- what the recording holds -------------------------------------------------------------------


@dataclass(frozen=True)
class ModelCall:
    """One recorded agent request to the Messages API, and what the answer asked for."""

    question: str  # the latest message the person wrote
    first: bool  # the first call of its conversation: no assistant turn yet
    asked: tuple[str, ...]  # the tools the answer asked for, in order; () for a final answer
    cache_read: int
    cache_write: int

    def __str__(self) -> str:
        return f"{'+'.join(self.asked) or 'answer'} (cache read {self.cache_read:,})"


def recorded_conversations(recording: Path) -> list[list[ModelCall]]:
    """The agent's model calls in a recording, one list per question answered."""
    interactions = yaml.safe_load(recording.read_text(encoding="utf-8"))["interactions"]
    runs: list[list[ModelCall]] = []
    for interaction in interactions:
        request = interaction["request"]
        if not request["uri"].startswith("https://api.anthropic.com/"):
            continue
        sent = json.loads(request["body"])
        if not sent.get("tools"):
            continue  # the workflow's answer step
        answer = json.loads(interaction["response"]["body"]["string"])
        messages = sent["messages"]
        asked_at = max(
            i
            for i, m in enumerate(messages)
            if m["role"] == "user" and isinstance(m["content"], str)
        )
        call = ModelCall(
            question=messages[asked_at]["content"].split("\n\n")[-1],
            first=not any(message["role"] == "assistant" for message in messages),
            asked=tuple(b["name"] for b in answer["content"] if b["type"] == "tool_use"),
            cache_read=answer["usage"]["cache_read_input_tokens"],
            cache_write=answer["usage"]["cache_creation_input_tokens"],
        )
        if asked_at == len(messages) - 1:  # nothing after the question: a run begins
            runs.append([])
        runs[-1].append(call)
    return runs


@pytest.fixture(scope="module")
def conversations() -> list[list[ModelCall]]:
    return recorded_conversations(RECORDING)


def test_the_weather_follow_up_looks_up_the_calendar_then_the_weather(conversations):
    follow_ups = [run for run in conversations if run[0].question == "What will the weather be?"]
    assert follow_ups, "the agent never answered the follow-up"
    for run in follow_ups:
        assert [call.asked[:1] for call in run] == [
            ("search_calendar",),
            ("weather_forecast",),
            (),
        ]


def test_the_umbrella_question_asks_for_several_forecasts_at_once(conversations):
    umbrella = [run for run in conversations if "umbrella" in run[0].question]
    assert umbrella
    for run in umbrella:
        assert max(call.asked.count("weather_forecast") for call in run) >= 2


def test_every_call_after_the_first_reads_the_prompt_cache(conversations):
    calls = [call for run in conversations for call in run]
    assert calls[0].first and calls[0].cache_write > 0 and calls[0].cache_read == 0
    later = [call for call in calls if not call.first]
    assert later and all(call.cache_read > 0 and call.cache_write == 0 for call in later)
