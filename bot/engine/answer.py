"""The answer step: Claude writes the reply from what the tools found, or a template does."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from bot.engine.prompts import system_prompt
from bot.engine.run import Run
from bot.engine.usage import Usage
from bot.formatting import View
from bot.messages import TraceStep
from bot.store.memory import Turn
from bot.tools.registry import ToolResult
from integrations.llm import Claude, LlmError

log = logging.getLogger(__name__)


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


def template_answer(results: Sequence[ToolResult], view: View) -> str:
    """What the tools found, as each says it to a person: never an invented event."""
    return "\n\n".join(filter(None, (result.for_person(view) for result in results)))


async def write_answer(
    question: str, results: Sequence[ToolResult], view: View, run: Run, llm: Claude | None
) -> str:
    """The reply text from what the tools found; its model call and path go into `run`."""
    template = template_answer(results, view)
    if llm is None:
        run.trace.append(TraceStep("answer", "template"))
        return template
    if reached := run.limits.exhausted():
        run.trace.append(TraceStep("answer", "template", {"limit": reached}))
        return template
    findings = "\n\n".join(result.for_model() for result in results) or "(no tool was called)"
    latest = f"{question}\n\n<tool_results>\n{findings}\n</tool_results>"
    started = time.perf_counter()
    try:
        system = system_prompt("answer", run.context.user, run.context.now())
        completion = await run.journal.step(
            f"chat {llm.model}", llm.write, system, conversation(run.history, latest)
        )
    except LlmError as exc:
        log.warning("answer step fell back to the template: %s", exc)
        run.trace.append(TraceStep("answer", "template", {"llm_error": str(exc)}))
        return template
    run.add_usage(Usage.of(completion))
    seconds = time.perf_counter() - started
    if (shortfall := completion.shortfall) is None:
        run.trace.append(TraceStep("answer", f"chat {llm.model}", seconds=seconds))
        return completion.text
    # Cut off, refused or empty: the template says what was found, and why it is the one saying it.
    log.warning("answer step fell back to the template: %s", completion.stop_reason)
    run.trace.append(TraceStep("answer", "template", {"shortfall": shortfall}, seconds))
    return f"{shortfall}, so here is what I found:\n\n{template}" if template else f"{shortfall}."
