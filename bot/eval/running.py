"""Scenarios run on Tandem as bot/wiring.py builds it, turn after turn as a person asks."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from bot.config import Mode
from bot.core import Assistant
from bot.engine.usage import Usage
from bot.eval.scenarios import Scenario, ScenarioResult, TurnResult, judge
from bot.messages import SORRY
from bot.store.memory import RunRecord

log = logging.getLogger(__name__)


async def run_scenarios(
    assistant: Assistant, scenarios: Sequence[Scenario], mode: Mode
) -> list[ScenarioResult]:
    """Every scenario in one mode, one chat each, turn after turn as a person would ask."""
    results = []
    for chat_id, scenario in enumerate(scenarios, 1):
        turns = []
        for turn in scenario.turns:
            run = await _answer(assistant, chat_id, turn.user, mode)
            tools = [step.name for step in run.steps if step.kind == "tool"]
            turns.append(TurnResult(turn.user, run, judge(turn, run.answer, tools)))
        results.append(ScenarioResult(scenario.name, mode, tuple(turns)))
    return results


async def _answer(assistant: Assistant, chat_id: int, text: str, mode: Mode) -> RunRecord:
    """Answer one message and remember it in the chat, as `Assistant.handle` does."""
    started = time.perf_counter()
    try:
        answered = await assistant.answer(chat_id, chat_id, text, mode)
    except Exception as exc:  # one broken answer is a failed turn, not a failed eval
        log.exception("the eval's message %r could not be answered in %s mode", text, mode)
        failed = f"{SORRY} ({type(exc).__name__}: {exc})"
        return RunRecord(mode, text, failed, (), Usage(), time.perf_counter() - started)
    return answered.record
