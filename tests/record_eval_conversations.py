"""Record config/scenarios.example.recording.yaml, which `tandem eval` replays without a key.

Starts the fake Messages API (tests/fakes/anthropic_server.py, a scripted tool-using Claude) and
the fake Open-Meteo (tests/fakes/open_meteo_server.py, its "today" the scenarios' `now`) in
subprocesses, points the anthropic SDK (ANTHROPIC_BASE_URL) and a copy of the example config's
weather URLs at them, and runs the eval in record mode. The traffic is stored under
api.anthropic.com, api.open-meteo.com and geocoding-api.open-meteo.com, so the replay uses the
example config unchanged. The SDK and OpenMeteo parsing the fakes' answers while recording is
the check that they have the documented shape, and the fake Messages API refusing what the real
one refuses is the check on Tandem's requests; afterwards the recording is checked to show what
the eval is for (tests/test_eval.py checks the same on every test run).

Run from the project root:  .venv/bin/python -m tests.record_eval_conversations
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from vcr.request import Request

from bot.config import LoadedConfig, load_config
from bot.eval import ANTHROPIC_API, evaluate, load_scenarios
from bot.tools import TOOLS
from integrations.weather import FORECAST_URL, GEOCODING_URL
from tests.conftest import EXAMPLE, ROOT
from tests.fakes import control, running, without_varying_headers
from tests.test_eval import (
    SCENARIOS,
    recorded_conversations,
    test_every_call_after_the_first_reads_the_prompt_cache,
    test_the_umbrella_question_asks_for_several_forecasts_at_once,
    test_the_weather_follow_up_looks_up_the_calendar_then_the_weather,
)

# The fake takes any key, and the recording filters it out.
FAKE_KEY = "sk-ant-fake"


def as_real_hosts(claude: str, weather: str) -> Callable[[Request], Request]:
    """A vcrpy hook that stores the fakes' traffic as if it had gone to the real APIs."""
    moves = {
        f"{claude}/v1/messages": f"{ANTHROPIC_API}/v1/messages",
        f"{weather}/v1/search": GEOCODING_URL,
        f"{weather}/v1/forecast": FORECAST_URL,
    }

    def rewrite(request: Request) -> Request:
        # Idempotent: vcrpy also runs it on requests it matches and on loaded cassettes.
        for fake, real in moves.items():
            if request.uri.startswith(fake):
                request.uri = real + request.uri.removeprefix(fake)
        request.headers.pop("host", None)
        return request

    return rewrite


def with_weather_at(config: LoadedConfig, base: str) -> LoadedConfig:
    """The config with its Open-Meteo URLs pointed at the fake; nothing else changes."""
    weather = config.settings.weather.model_copy(
        update={"forecast_url": f"{base}/v1/forecast", "geocoding_url": f"{base}/v1/search"}
    )
    return LoadedConfig(config.settings.model_copy(update={"weather": weather}), config.path)


def main() -> int:
    config = load_config(EXAMPLE, known_tools=TOOLS.names())
    scenarios = load_scenarios(SCENARIOS, config)
    today = scenarios.now.date().isoformat()
    with (
        running("tests.fakes.anthropic_server") as claude,
        running("tests.fakes.open_meteo_server", "--today", today) as weather,
        tempfile.TemporaryDirectory() as out,
    ):
        os.environ["ANTHROPIC_BASE_URL"] = claude
        evaluation = asyncio.run(
            evaluate(
                SCENARIOS,
                with_weather_at(config, weather),
                Path(out),
                api_key=FAKE_KEY,
                record=True,
                before_record_request=as_real_hosts(claude, weather),
                before_record_response=without_varying_headers,
            )
        )
        if rejected := control(claude, "rejections")["rejections"]:
            print(f"The fake Messages API rejected Tandem's requests: {rejected}")
            return 1
    print(evaluation.tables())
    recording = scenarios.recording
    conversations = recorded_conversations(recording)
    calls = sum(len(conversation) for conversation in conversations)
    print(f"\n{recording.relative_to(ROOT)}: {calls} agent model calls in {len(conversations)}")
    for conversation in conversations:
        print(f"  {conversation[0].question!r}: {' | '.join(map(str, conversation))}")
    # What the eval is for; an AssertionError here means the fake or the agent changed.
    test_the_weather_follow_up_looks_up_the_calendar_then_the_weather(conversations)
    test_the_umbrella_question_asks_for_several_forecasts_at_once(conversations)
    test_every_call_after_the_first_reads_the_prompt_cache(conversations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
