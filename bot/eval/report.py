"""The eval's report: Markdown tables and a chart of the modes side by side."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import LoadedConfig, Mode
from bot.eval.scenarios import ModeSummary, ScenarioResult
from bot.report import path as run_path

if TYPE_CHECKING:
    from bot.eval import Evaluation

    pass


def summary_table(summaries: Sequence[ModeSummary]) -> str:
    """Per mode: success, then totals with the average per answer in brackets."""
    lines = [
        "| mode | success | model calls | input tokens | output tokens | cached tokens "
        "| cache writes | cost | time |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in summaries:
        n, usage = max(s.answers, 1), s.usage
        rate = s.passed / s.scenarios if s.scenarios else 0.0
        lines.append(
            f"| {s.mode} | {s.passed}/{s.scenarios} ({rate:.0%}) "
            f"| {usage.model_calls} ({usage.model_calls / n:.2f}) "
            f"| {usage.input_tokens:,} ({usage.input_tokens / n:,.0f}) "
            f"| {usage.output_tokens:,} ({usage.output_tokens / n:,.0f}) "
            f"| {usage.cache_read_tokens:,} ({usage.cache_read_tokens / n:,.0f}) "
            f"| {usage.cache_write_tokens:,} ({usage.cache_write_tokens / n:,.0f}) "
            f"| ${s.cost_usd:.4f} (${s.cost_usd / n:.4f}) "
            f"| {s.seconds:.2f} s ({s.seconds / n:.2f} s) |"
        )
    return "\n".join(lines)


def scenario_table(results: dict[Mode, list[ScenarioResult]]) -> str:
    """One row per scenario, one column per mode: pass, or fail and why."""
    modes = list(results)
    lines = [
        "| scenario | " + " | ".join(modes) + " |",
        "| --- |" + " --- |" * len(modes),
    ]
    names = [result.scenario for result in results[modes[0]]] if modes else []
    for index, name in enumerate(names):
        cells = []
        for mode in modes:
            result = results[mode][index]
            cells.append("✅ pass" if result.passed else f"❌ fail: {_cell(result.reason)}")
        lines.append(f"| {_cell(name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report_markdown(evaluation: Evaluation, config: LoadedConfig) -> str:
    scenarios = evaluation.scenarios
    answers = sum(len(s.turns) for s in scenarios.scenarios)
    model = config.settings.llm.model
    parts = [
        f"# Tandem eval: {scenarios.path.name}",
        f"Clock: {scenarios.now:%A %d %B %Y, %H:%M} ({scenarios.now.tzinfo}) · "
        f"{len(scenarios.scenarios)} scenarios, {answers} answers per mode · model {model} · "
        f"config {config.path} · traffic {evaluation.source}.",
        "## Per mode",
        "Success is the share of scenarios whose every answer passed. The other columns are "
        "totals, with the average per answer in brackets; cached tokens are prompt-cache reads, "
        "cost is from the config's price table.",
        summary_table(evaluation.summaries),
        f"![per-answer averages by mode]({evaluation.chart_path.name})",
        "## Per scenario",
        scenario_table(evaluation.results),
        "## Answers",
    ]
    for mode, results in evaluation.results.items():
        for result in results:
            parts.append(f"### {result.scenario} — {mode}")
            for turn in result.turns:
                verdict = "pass" if turn.failure is None else f"fail: {turn.failure}"
                parts.append(
                    f"- **{turn.user}** ({turn.run.mode}, {verdict})\n"
                    f"  - Answer: {_quoted(turn.run.answer)}\n"
                    f"  - Path: {run_path(turn.run.steps) or '(none)'}"
                )
    return "\n\n".join(parts) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _quoted(text: str) -> str:
    return " / ".join(line.strip() for line in text.splitlines() if line.strip())


METRICS: list[tuple[str, Callable[[ModeSummary], float]]] = [
    ("success (%)", lambda s: 100 * s.passed / s.scenarios if s.scenarios else 0.0),
    ("model calls / answer", lambda s: s.usage.model_calls / max(s.answers, 1)),
    ("input tokens / answer", lambda s: s.usage.input_tokens / max(s.answers, 1)),
    ("output tokens / answer", lambda s: s.usage.output_tokens / max(s.answers, 1)),
    ("cached tokens / answer", lambda s: s.usage.cache_read_tokens / max(s.answers, 1)),
    ("cost / answer (US cents)", lambda s: 100 * s.cost_usd / max(s.answers, 1)),
    ("time / answer (s)", lambda s: s.seconds / max(s.answers, 1)),
]


def draw_chart(summaries: Sequence[ModeSummary], path: Path) -> None:
    """One small panel per metric, each with a bar per mode (each panel has its own scale)."""
    # Imported here, and without pyplot: only the eval draws, and it needs no display.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    figure = Figure(figsize=(14, 6.5), layout="constrained")
    FigureCanvasAgg(figure)
    panels = figure.subplots(2, 4).flatten()
    colours = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3"]
    modes = [summary.mode for summary in summaries]
    for panel, (title, metric) in zip(panels, METRICS, strict=False):
        values = [metric(summary) for summary in summaries]
        bars = panel.bar(modes, values, color=colours[: len(modes)])
        panel.bar_label(bars, fmt=_bar_label, fontsize=8)
        panel.set_title(title, fontsize=10)
        panel.tick_params(axis="x", labelsize=9)
        panel.margins(y=0.15)
    keys = [
        Patch(color=colour, label=f"{summary.mode}: {summary.passed}/{summary.scenarios}")
        for colour, summary in zip(colours, summaries, strict=False)
    ]
    panels[-1].axis("off")
    panels[-1].legend(handles=keys, loc="center", title="scenarios passed", frameon=False)
    figure.suptitle("Tandem eval by mode: success, and averages per answer")
    figure.savefig(path, dpi=100)


def _bar_label(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
