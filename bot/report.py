"""What a run did, in words: the /trace view and the side-by-side /compare report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.config import Price
from bot.engine.usage import Usage, cost_usd
from bot.messages import TraceStep
from bot.store.memory import RunRecord


def path(steps: Sequence[TraceStep]) -> str:
    """The path a run took, one arrow per step: rule and steps, or model and tool calls."""
    return " → ".join(_step(step) for step in steps)


def _step(step: TraceStep) -> str:
    if step.kind == "rule":
        return "no rule matched" if step.name == "none" else f"rule “{step.name}”"
    if step.kind == "tool":
        return f"{step.name}({_arguments(step.detail)})"
    if step.kind == "answer":
        if step.name != "template":
            return f"answer by {step.name}"
        why = step.detail.get("shortfall") or step.detail.get("llm_error")
        return f"answer from template ({why})" if why else "answer from template"
    if step.kind == "skip":
        return f"skipped {step.name} ({step.detail.get('because', '')})"
    if step.kind == "stopped":
        return f"stopped: {step.name}"
    if step.kind == "understand":
        if step.name == "offline":
            return f"read offline ({step.detail['fallback']})"
        return f"read {step.name} ({step.detail.get('kind')}, asks {step.detail.get('asks')})"
    if step.kind == "model":
        return step.name + _model_notes(step.detail)
    return f"{step.kind} {step.name}"


def _model_notes(detail: dict[str, Any]) -> str:
    """What a trace should say about a model call beyond its name: thinking, an odd stop."""
    notes = []
    if thinking := detail.get("thinking_blocks"):
        notes.append(f"thinking: {thinking} block{'s' if thinking != 1 else ''}")
    if detail.get("stop_reason") not in (None, "end_turn", "tool_use"):
        notes.append(f"stop: {detail['stop_reason']}")
    return f" ({', '.join(notes)})" if notes else ""


def _arguments(detail: dict[str, Any]) -> str:
    shown = []
    for name, value in detail.items():
        text = str(value)
        # ISO times: the minutes are what a person checks; seconds and offsets are noise here.
        if len(text) >= 16 and text[4:5] == "-" and text[10:11] == "T":
            text = text[:16].replace("T", " ")
        shown.append(f"{name}={text!r}" if isinstance(value, str) else f"{name}={text}")
    return ", ".join(shown)


def cost_line(usage: Usage, price: Price, seconds: float) -> str:
    calls = f"{usage.model_calls} model call{'s' if usage.model_calls != 1 else ''}"
    tokens = (
        f"tokens in {usage.input_tokens:,}, out {usage.output_tokens:,}, "
        f"cached {usage.cache_read_tokens:,}"
    )
    return f"{calls} · {tokens} · ≈ ${cost_usd(usage, price):.4f} · {seconds:.2f} s"


def compare_report(results: Sequence[RunRecord], price: Price) -> str:
    parts = [f"Compare: “{results[0].question}”"]
    for result in results:
        parts.append(
            f"{result.mode.upper()}\n"
            f"Answer: {result.answer}\n"
            f"Path: {path(result.steps)}\n"
            f"{cost_line(result.usage, price, result.seconds)}"
        )
    return "\n\n".join(parts)


def trace_report(run: RunRecord | None, price: Price) -> str:
    if run is None:
        return "Nothing has run in this chat yet: ask me something, then /trace shows how."
    lines = [f"Last run ({run.mode}): “{run.question}”"]
    for number, step in enumerate(run.steps, 1):
        took = f" — {step.seconds * 1000:.0f} ms" if step.seconds else ""
        lines.append(f"{number}. {_step(step)}{took}")
    lines.append(cost_line(run.usage, price, run.seconds))
    return "\n".join(lines)
