"""The answer step: Claude writes the reply from what the tools found, or a template does."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime

from bot.config import UserSettings
from bot.formatting import View
from bot.journal import Journal
from bot.memory import Turn
from bot.messages import TraceStep, Usage
from bot.tools.context import ToolContext
from bot.tools.registry import ToolResult
from integrations.llm import Claude, LlmError

log = logging.getLogger(__name__)


def system_prompt(user: UserSettings, now: datetime) -> str:
    clock = "24-hour" if user.clock == "24h" else "12-hour (am/pm)"
    return (
        f"You are Tandem, the personal assistant of {user.name}, who lives in {user.home}. "
        f"It is now {now:%A %d %B %Y, %H:%M} in {user.timezone}.\n"
        "Answer the user's latest message using only the tool results it contains. If they hold "
        "nothing relevant, say so plainly: never invent events, times, places or people. "
        f"Give times in the {clock} clock in {user.timezone}, with the weekday and date. "
        "Reply in the user's language, briefly, in plain text without Markdown."
    )


def conversation(history: Sequence[Turn], latest: str) -> list[dict[str, str]]:
    """Earlier turns plus the latest message, starting with the user and alternating roles."""
    messages: list[dict[str, str]] = []
    for turn in [*history, Turn("user", latest)]:
        if not turn.text.strip():
            continue  # the API rejects empty content
        if messages and messages[-1]["role"] == turn.role:
            messages[-1]["content"] += "\n\n" + turn.text
        elif messages or turn.role == "user":
            messages.append({"role": turn.role, "content": turn.text})
    return messages


async def write_answer(
    question: str,
    results: Sequence[ToolResult],
    view: View,
    context: ToolContext,
    history: Sequence[Turn],
    llm: Claude | None,
    journal: Journal,
) -> tuple[str, Usage, TraceStep]:
    """The reply text, what it cost, and how it was written."""
    template = "\n\n".join(filter(None, (result.for_person(view) for result in results)))
    if llm is None:
        return template, Usage(), TraceStep("answer", "template")
    findings = "\n\n".join(result.for_model() for result in results) or "(no tool was called)"
    latest = f"{question}\n\n<tool_results>\n{findings}\n</tool_results>"
    started = time.perf_counter()
    try:
        system = system_prompt(context.user, context.now())
        completion = await journal.step(
            f"chat {llm.model}", llm.write, system, conversation(history, latest)
        )
    except LlmError as exc:
        log.warning("answer step fell back to the template: %s", exc)
        return template, Usage(), TraceStep("answer", "template", {"llm_error": str(exc)})
    usage = Usage(
        model_calls=completion.model_calls,
        input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens,
        cache_read_tokens=completion.cache_read_tokens,
        cache_write_tokens=completion.cache_write_tokens,
    )
    seconds = time.perf_counter() - started
    if (shortfall := completion.shortfall) is None:
        return completion.text, usage, TraceStep("answer", f"chat {llm.model}", seconds=seconds)
    # Cut off, refused or empty: the template says what was found, and why it is the one saying it.
    log.warning("answer step fell back to the template: %s", completion.stop_reason)
    text = f"{shortfall}, so here is what I found:\n\n{template}" if template else f"{shortfall}."
    step = TraceStep("answer", "template", {"shortfall": shortfall}, seconds)
    return text, usage, step
