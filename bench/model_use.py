"""5. Model use per answer, per mode, over the example scenarios.

`tandem eval config/scenarios.example.yaml` on the example config, replaying its recorded
conversations (no key, no network): for each mode, model calls, input / output / cached tokens
and cost per answer, and for agent mode which of its model calls read the prompt cache. The
replay answers the same every time, so each figure is one run.
Run: .venv/bin/python -m bench.model_use
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from bench.common import EXAMPLE, ROOT, Figure, figures_table, scratch, table
from bot.config import load_config
from bot.engine.usage import cost_usd
from bot.eval import evaluate
from bot.store.memory import RunRecord
from bot.tools import TOOLS

SCENARIOS = ROOT / "config" / "scenarios.example.yaml"


def model_steps(run: RunRecord) -> list[dict[str, int]]:
    """The run's model calls in order, each with its token counts."""
    return [step.detail for step in run.steps if step.kind == "model"]


def measure() -> tuple[list[Figure], str]:
    os.environ.pop("ANTHROPIC_API_KEY", None)  # replay, never the real API
    config = load_config(EXAMPLE, known_tools=TOOLS.names())
    price = config.settings.llm.prices[config.settings.llm.model]
    with scratch() as folder:
        evaluation = asyncio.run(evaluate(SCENARIOS, config, Path(folder), None))
    rows, figures = [], []
    for summary in evaluation.summaries:
        runs = [turn.run for result in evaluation.results[summary.mode] for turn in result.turns]
        answers, usage = len(runs), summary.usage
        calls = [run.usage.model_calls for run in runs]
        rows.append(
            [
                summary.mode,
                f"{summary.passed}/{summary.scenarios}",
                str(answers),
                f"{usage.model_calls / answers:.2f} (max {max(calls)})",
                f"{usage.input_tokens / answers:.0f}",
                f"{usage.output_tokens / answers:.0f}",
                f"{usage.cache_read_tokens / answers:.0f}",
                f"{usage.cache_write_tokens / answers:.0f}",
                f"${cost_usd(usage, price) / answers:.4f}",
            ]
        )
        if summary.mode == "workflow":
            most = Figure("5. workflow: most model calls in one answer", [max(calls)], "")
            most.target, most.met = "≤ 1", max(calls) <= 1
            figures.append(most)
        if summary.mode == "agent":
            later = [step for run in runs for step in model_steps(run)[1:]]
            read = sum(step.get("cache_read_tokens", 0) > 0 for step in later)
            first = [model_steps(run)[0] for run in runs if model_steps(run)]
            cached = Figure(
                "5. agent: calls from the 2nd on that read the cache",
                [read / len(later) * 100 if later else 0.0],
                "%",
                "all",
                note=(
                    f"{read} of {len(later)}; first calls reading it: "
                    f"{sum(step.get('cache_read_tokens', 0) > 0 for step in first)} of "
                    f"{len(first)}"
                ),
            )
            cached.met = bool(later) and read == len(later)
            figures.append(cached)
    header = [
        "mode",
        "passed",
        "answers",
        "model calls/answer",
        "input",
        "output",
        "cache read",
        "cache write",
        "cost/answer",
    ]
    detail = (
        f"  per answer ({evaluation.source}; tokens per answer, prices of "
        f"{config.settings.llm.model}):\n"
        + "\n".join(f"    {line}" for line in table(rows, header).splitlines())
    )
    return figures, detail


def main() -> None:
    figures, detail = measure()
    print("Model use over the example scenarios:")
    print(figures_table(figures))
    print(detail)


if __name__ == "__main__":
    main()
