"""Agent mode: Claude decides which tools to call, in what order and how often, within limits.

The loop: check the limits, ask Claude, run every tool it asked for at once, hand back the
results, repeat until it answers. The tools are the same registry the workflow rules use; their
schemas come from the tool functions. Limits are one object checked before every model call;
reaching one, or Claude failing, still ends in an answer built from what was found so far.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from bot import telemetry
from bot.config import Settings
from bot.engine.answer import conversation, template_answer
from bot.engine.prompts import system_prompt
from bot.engine.run import Run, ToolCall, ToolOutcome
from bot.engine.usage import Usage
from bot.formatting import View
from bot.messages import Reply, TraceStep
from integrations.llm import Claude, Completion, LlmError

log = logging.getLogger(__name__)

NEEDS_KEY = (
    "Agent mode needs an Anthropic API key, and none is set. Put ANTHROPIC_API_KEY=sk-ant-... "
    "in the environment or in a .env file and restart Tandem (see the README), or switch back "
    "with /mode workflow."
)


@dataclass
class Agent:
    settings: Settings
    llm: Claude | None

    async def answer(self, text: str, run: Run) -> Reply:
        """Answer one message by letting Claude use the tools. Never raises for Claude's sake."""
        if self.llm is None:
            run.trace.append(TraceStep("agent", "no API key"))
            return replace(run.reply(NEEDS_KEY), outcome="no model")
        llm = self.llm
        system = system_prompt("agent", run.context.user, run.context.now(), run.focus)
        messages: list[dict[str, Any]] = conversation(run.history, text)
        specs = [
            {
                "name": tool.name,
                "description": tool.description,
                "input_schema": tool.input_schema(),
            }
            for tool in run.tools
        ]
        run.trace.append(TraceStep("agent", llm.model))
        with telemetry.invoke_agent(llm.model, run.conversation):
            while True:
                if reason := run.limits.exhausted():
                    return self._stopped(f"I reached my limit of {reason}", run)
                started = time.perf_counter()
                try:
                    turn = await self._ask(llm, system, messages, specs, run)
                except LlmError as exc:
                    return self._stopped(f"I can't think right now ({str(exc).rstrip('.')})", run)
                run.add_usage(Usage.of(turn))
                run.trace.append(_model_step(llm.model, turn, time.perf_counter() - started))
                messages.append({"role": "assistant", "content": turn.content})
                if turn.stop_reason != "tool_use" or not turn.tool_calls:
                    if why := turn.shortfall:  # cut off, refused or empty
                        return self._stopped(why, run)
                    return run.reply(turn.text)
                if reason := run.limits.tools_refused(len(turn.tool_calls)):
                    return self._stopped(f"I reached my limit of {reason}", run)
                calls = [ToolCall(c["name"], c["input"], c["id"]) for c in turn.tool_calls]
                outcomes = await run.call_tools(calls)
                messages.append({"role": "user", "content": [_block(o) for o in outcomes]})

    async def _ask(
        self,
        llm: Claude,
        system: str,
        messages: list[dict[str, Any]],
        specs: list[dict[str, Any]],
        run: Run,
    ) -> Completion:
        with telemetry.chat(llm.model, run.conversation) as span:
            turn = await run.journal.step(
                f"chat {llm.model}", llm.converse, system, messages, specs
            )
            telemetry.record_usage(
                span,
                turn.input_tokens,
                turn.output_tokens,
                turn.cache_read_tokens,
                turn.cache_write_tokens,
                turn.stop_reason,
                llm.model,
            )
        return turn

    def _stopped(self, why: str, run: Run) -> Reply:
        """An answer from what the tools found so far, saying why the agent stopped."""
        user = run.context.user
        view = View(user.clock, run.context.now().date(), date_order=user.numeric_date_order)
        found = template_answer(run.results, view)
        text = (
            f"{why}, so here is what I found so far:\n\n{found}"
            if found
            else f"{why}, and I hadn't found anything yet."
        )
        run.trace.append(TraceStep("stopped", why))
        run.shortfalls.append(why)
        return run.reply(text)


def _block(outcome: ToolOutcome) -> dict[str, Any]:
    """A tool's outcome as Claude reads it: its result, or its error to recover from."""
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": outcome.call.call_id}
    if outcome.error is not None:
        return {**block, "content": outcome.error.message, "is_error": True}
    assert outcome.result is not None
    return {**block, "content": outcome.result.for_model()}


def _model_step(model: str, turn: Completion, seconds: float) -> TraceStep:
    detail = {
        "input_tokens": turn.input_tokens,
        "output_tokens": turn.output_tokens,
        "cache_read_tokens": turn.cache_read_tokens,
        "tools_asked": [call["name"] for call in turn.tool_calls],
        "stop_reason": turn.stop_reason,
        "thinking_blocks": len(turn.thinking),
    }
    return TraceStep("model", f"chat {model}", detail, seconds)
