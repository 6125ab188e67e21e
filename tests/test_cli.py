"""The `tandem` command run as a real process, as a newcomer would run it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, LONDON, PROCESS_SECONDS
from tests.fakes import running

TANDEM = shutil.which("tandem", path=str(Path(sys.executable).parent))

# What the sample calendar holds every week, by weekday (Monday first).
WEEKLY = [
    ["Team stand-up", "Yoga class"],
    ["Team stand-up", "Tennis match with Sam"],
    ["Team stand-up"],
    ["Team stand-up", "Choir rehearsal"],
    ["Working from home", "Team stand-up"],
    ["Parkrun"],
    ["Lunch with Mum and Dad"],
]


def tandem(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("TELEGRAM_BOT_TOKEN", "ANTHROPIC_API_KEY", "TANDEM_CONFIG")
    }
    env["TANDEM_DATA_DIR"] = str(cwd / "data")
    result = subprocess.run(
        [TANDEM or "tandem", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=PROCESS_SECONDS,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def is_tomorrows_listing(text: str, asked: datetime) -> bool:
    """Whether `text` lists the sample calendar's day after `asked`, or after now: midnight may
    pass while the question is answered."""
    for day in {asked.date(), datetime.now(asked.tzinfo).date()}:
        tomorrow = day + timedelta(days=1)
        heading = f"Tomorrow, {tomorrow:%A} {tomorrow.day} {tomorrow:%B}:"
        if text.splitlines()[0] == heading and all(t in text for t in WEEKLY[tomorrow.weekday()]):
            return True
    return False


def test_ask_whats_on_tomorrow_from_the_sample_calendar(tmp_path):
    asked = datetime.now(LONDON)
    result = tandem("ask", "what's on tomorrow?", cwd=tmp_path)
    assert result.returncode == 0
    assert is_tomorrows_listing(result.stdout, asked), result.stdout


def test_ask_finds_the_next_dentist_appointment(tmp_path):
    result = tandem("ask", "When is my next dentist appointment?", cwd=tmp_path)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "Your next “dentist”:"
    assert "Thursday" in lines[1]  # the day before, its heading is "Tomorrow, Thursday …"
    assert "08:30–09:00  Dentist check-up with Dr. Patel — Smile Dental" in lines[2]


def test_python_dash_m_bot_does_the_same(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "what time is it?"],
        cwd=tmp_path,
        env={**os.environ, "TANDEM_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=PROCESS_SECONDS,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("It's ")


def test_run_without_a_token_chats_in_the_terminal(tmp_path):
    result = tandem("run", cwd=tmp_path, stdin="what's on tomorrow?\ntell me a joke\n/quit\n")
    assert result.returncode == 0
    assert "No TELEGRAM_BOT_TOKEN is set" in result.stdout
    assert "tandem › Tomorrow, " in result.stdout
    assert "tandem › That's outside what my rules cover." in result.stdout


def test_check_config_lists_every_problem_and_fails(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "user:\n  timezone: Mars/Olympus\n"
        "rules:\n  - name: events\n    description: my events\n"
        "    when: {keywords: [calendar]}\n"
        "    steps:\n      - tool: search_calender\n      - answr: template\n"
    )
    result = tandem("check-config", str(broken), cwd=tmp_path)
    assert result.returncode == 1
    assert str(broken) in result.stderr
    assert "user.timezone: unknown time zone 'Mars/Olympus'" in result.stderr
    assert "rule 'events' (rules[0]), steps[1].answr: unknown field 'answr'" in result.stderr


def test_check_config_passes_the_example(tmp_path):
    result = tandem("check-config", str(EXAMPLE), cwd=tmp_path)
    assert result.returncode == 0
    assert "OK — 4 rule(s), 1 calendar(s), time zone Europe/London" in result.stdout


def test_a_broken_config_stops_ask_with_an_explanation(tmp_path):
    broken = tmp_path / "tandem.yaml"
    broken.write_text("user: [\n")
    result = tandem("ask", "what's on tomorrow?", "--config", str(broken), cwd=tmp_path)
    assert result.returncode == 2
    assert "Tandem cannot start: the config file has problems." in result.stderr
    assert "not valid YAML" in result.stderr


@pytest.mark.parametrize("command", [[], ["ask"], ["check-config"], ["auth", "google"]])
def test_every_command_explains_itself(tmp_path, command):
    result = tandem(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "usage: tandem" in result.stdout


@pytest.fixture
def open_meteo(tmp_path):
    """The local fake Open-Meteo in its own process, and a config that points at it."""
    today = datetime.now(LONDON).date().isoformat()
    with running("tests.fakes.open_meteo_server", "--today", today) as base:
        config = tmp_path / "tandem.yaml"
        config.write_text(
            EXAMPLE.read_text()
            .replace("https://api.open-meteo.com", base)
            .replace("https://geocoding-api.open-meteo.com", base)
            .replace("path: sample-calendar.ics", f"path: {EXAMPLE.parent / 'sample-calendar.ics'}")
        )
        yield config


def test_the_weather_follow_up_in_the_terminal_is_for_that_event(tmp_path, open_meteo):
    result = tandem(
        "chat",
        "--config",
        str(open_meteo),
        cwd=tmp_path,
        stdin="what's on Saturday?\nwhat will the weather be?\n/quit\n",
    )
    replies = result.stdout.split("tandem › ")[1:]
    assert "09:00–10:00  Parkrun — Hampstead Heath, London" in replies[0]
    assert "(For Hampstead Heath, London, I used London.)" in replies[1]
    assert "Weather in London, Saturday" in replies[1]
    assert " at 09:00: " in replies[1]


def test_ask_writes_a_voice_note_that_telegram_plays_as_a_bubble(tmp_path):
    import soundfile

    result = tandem("ask", "what's on tomorrow?", "--voice-out", "reply.ogg", cwd=tmp_path)
    assert result.returncode == 0
    assert "Voice note (" in result.stderr
    info = soundfile.info(tmp_path / "reply.ogg")
    assert (info.format, info.subtype, info.channels, info.samplerate) == ("OGG", "OPUS", 1, 48000)
    assert 2 < info.duration < 60


def test_ask_tells_scripts_an_answer_from_a_non_answer_by_its_exit_status(tmp_path):
    assert tandem("ask", "what's on tomorrow?", cwd=tmp_path).returncode == 0
    outside = tandem("ask", "how tall is the eiffel tower?", cwd=tmp_path)
    assert outside.returncode == 3
    assert outside.stdout.startswith("That's outside what my rules cover.")


def test_ask_in_agent_mode_without_a_key_says_what_to_do_here(tmp_path):
    result = tandem("ask", "--mode", "agent", "what's on tomorrow?", cwd=tmp_path)
    assert result.returncode == 4
    assert "drop --mode agent" in result.stderr
    assert "ANTHROPIC_API_KEY" in result.stderr
    assert "/mode" not in result.stderr + result.stdout


def test_ask_help_lists_every_exit_status(tmp_path):
    from bot.cli import EXIT_STATUSES

    shown = tandem("ask", "--help", cwd=tmp_path).stdout
    for status, meaning in EXIT_STATUSES.items():
        assert f"{int(status):>3}  {meaning.split()[0]}" in shown


@pytest.mark.parametrize(
    "command",
    ["run", "chat", "ask", "compare", "eval", "status", "pair", "check-config", "auth"],
)
def test_every_subcommand_says_what_it_does_in_its_help(tmp_path, command):
    _usage, _, rest = tandem(command, "--help", cwd=tmp_path).stdout.partition("\n\n")
    described = rest.split("\n\n")[0]  # the paragraph between the usage and the options
    assert not described.startswith(("positional arguments", "options")), described
    assert len(described.split()) >= 8


def test_the_readme_lists_the_exit_statuses_tandem_ask_uses():
    from bot.cli import EXIT_STATUSES

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    rows = {f"| {int(status)} | {meaning} |" for status, meaning in EXIT_STATUSES.items()}
    assert rows <= set(readme.splitlines())


def closed_port() -> int:
    """A local port nothing listens on: connecting is refused at once."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_one_calendar_that_cannot_be_read_costs_only_its_own_events(tmp_path):
    config = tmp_path / "tandem.yaml"
    sample = EXAMPLE.parent / "sample-calendar.ics"
    broken = Path(__file__).parent / "data" / "not-a-calendar.ics"  # a web page saved as .ics
    config.write_text(
        EXAMPLE.read_text().replace(
            "    path: sample-calendar.ics",
            f"    path: {sample}\n  - type: ics\n    name: Work\n    path: {broken}",
        )
    )
    asked = datetime.now(LONDON)
    result = tandem("ask", "--config", str(config), "what's on tomorrow?", cwd=tmp_path)

    assert result.returncode == 6, result  # answered in part
    assert is_tomorrows_listing(result.stdout, asked), result.stdout  # before: none at all
    assert "Your calendar “Work” could not be read" in result.stdout


def test_ask_with_the_weather_service_unreachable_exits_6_saying_what_is_missing(tmp_path):
    nowhere = f"http://127.0.0.1:{closed_port()}"
    config = tmp_path / "tandem.yaml"
    config.write_text(
        EXAMPLE.read_text()
        .replace("https://api.open-meteo.com", nowhere)
        .replace("https://geocoding-api.open-meteo.com", nowhere)
        .replace("path: sample-calendar.ics", f"path: {EXAMPLE.parent / 'sample-calendar.ics'}")
    )
    result = tandem(
        "ask", "--config", str(config), "will it rain at my tennis match?", cwd=tmp_path
    )

    assert result.returncode == 6, result  # before: 0, as if the rain had been answered
    assert "Tennis match with Sam" in result.stdout
    assert "Weather unavailable right now: the weather service isn't answering." in result.stdout


def test_ask_in_agent_mode_with_claude_overloaded_exits_6_with_what_it_found(tmp_path):
    from tests.fakes import control, untouched_environment

    with running("tests.fakes.anthropic_server") as claude:
        overloaded = {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"},
        }
        control(
            claude,
            "fault",
            {"path": "/v1/messages", "status": 529, "body": overloaded, "times": -1},
        )
        environment = untouched_environment() | {
            "ANTHROPIC_API_KEY": "sk-ant-test-0000000000",
            "ANTHROPIC_BASE_URL": claude,
            "TANDEM_DATA_DIR": str(tmp_path / "data"),
        }
        result = subprocess.run(
            [TANDEM or "tandem", "ask", "--mode", "agent", "what's on tomorrow?"],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=PROCESS_SECONDS,
        )

    assert result.returncode == 6, result  # before: 0, the apology counted as an answer
    assert result.stdout.startswith("I can't think right now (Claude is overloaded right now)")
    assert "Traceback" not in result.stderr and "sk-ant-test" not in result.stdout + result.stderr
