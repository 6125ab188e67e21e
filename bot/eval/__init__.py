"""`tandem eval`: the same conversations in every mode, judged and measured side by side.

A scenarios file (see config/scenarios.example.yaml) fixes the clock and lists conversations;
each turn names the facts its answer must contain and the tools it must call. Every scenario
runs in every mode, in a chat of its own, on an assistant built from the config with a fresh
temporary memory. The report says, per mode, how many scenarios passed, how many model calls and
tokens the answers took, what they cost (the config's price table) and how long they took; per
scenario, what passed and why the rest failed; and the answers themselves, with the path each
took.

Where the HTTP traffic comes from:
- no ANTHROPIC_API_KEY: replayed from the file's `recording` (a vcrpy cassette of the Messages API
  and Open-Meteo traffic), so an eval runs offline, in CI, on any day. Times are then local
  processing only, not the APIs' latency.
- a key: live, against the real APIs.
- a key and `--record`: live, and recorded into `recording` for later replays.

Writes DIR/report.md and DIR/report.png (a chart: one group per metric, a bar per mode).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import LoadedConfig, Mode
from bot.engine.usage import price_of
from bot.eval.report import draw_chart, report_markdown, scenario_table, summary_table
from bot.eval.running import run_scenarios
from bot.eval.scenarios import (
    EvalError,
    ModeSummary,
    ScenarioResult,
    Scenarios,
    ScenarioTurn,
    judge,
    load_scenarios,
    summarize,
)
from bot.eval.traffic import ANTHROPIC_API, OneRequestAtATime, choose_traffic
from bot.wiring import build

if TYPE_CHECKING:
    from vcr.request import Request

__all__ = [
    "ANTHROPIC_API",
    "EvalError",
    "Evaluation",
    "ScenarioTurn",
    "evaluate",
    "judge",
    "load_scenarios",
]


@dataclass(frozen=True)
class Evaluation:
    scenarios: Scenarios
    results: dict[Mode, list[ScenarioResult]]
    summaries: list[ModeSummary]
    source: str  # where the traffic came from, in words
    markdown_path: Path
    chart_path: Path

    def tables(self) -> str:
        return f"{summary_table(self.summaries)}\n\n{scenario_table(self.results)}"


async def evaluate(
    scenarios_path: Path,
    config: LoadedConfig,
    out_dir: Path,
    api_key: str | None,
    record: bool = False,
    before_record_request: Callable[[Request], Request] | None = None,
    before_record_response: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Evaluation:
    """Run every scenario in every mode and write the report; EvalError when it cannot.

    The hooks are vcrpy's, for recording (tests/record_eval_conversations.py uses them to store
    the traffic of local fakes under the real APIs' addresses).
    """
    scenarios = load_scenarios(scenarios_path, config)
    traffic = choose_traffic(
        scenarios, config, api_key, record, before_record_request, before_record_response
    )
    results: dict[Mode, list[ScenarioResult]] = {}
    with tempfile.TemporaryDirectory(prefix="tandem-eval-") as data, traffic.context:
        for mode in scenarios.modes:
            session = OneRequestAtATime() if traffic.under_vcr else None
            # A fresh memory for each mode, and the scenarios' clock for everything.
            assistant = build(
                config,
                llm=traffic.llm,
                clock=lambda: scenarios.now,
                data_dir=Path(data) / mode,
                session=session,
            )
            try:
                results[mode] = await run_scenarios(assistant, scenarios.scenarios, mode)
            finally:
                assistant.memory.close()
    price = price_of(config.settings.llm)
    summaries = [summarize(mode, results[mode], price) for mode in scenarios.modes]
    out_dir.mkdir(parents=True, exist_ok=True)
    evaluation = Evaluation(
        scenarios, results, summaries, traffic.source, out_dir / "report.md", out_dir / "report.png"
    )
    evaluation.markdown_path.write_text(report_markdown(evaluation, config), encoding="utf-8")
    draw_chart(summaries, evaluation.chart_path)
    return evaluation
