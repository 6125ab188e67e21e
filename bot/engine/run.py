"""One run: the state an answer is built in, and the one place a tool is called.

Both modes answer a message inside a `Run`. It holds what they are given (the conversation, the
person's tool context, the history, the event in focus, the journal) and what they produce (the
trace, the usage, the tool results, the text to read aloud). `Run.call_tools` is the tool
executor: each call is timed, traced (an OpenTelemetry span), journaled (as a read: a tool only
looks things up, see bot/tools/registry.py), and a failure becomes a `ToolError` the caller
acts on — the rules engine stops with a reply, the agent hands it to Claude. The focus and
spoken text a result carries are recorded here, for both modes alike.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bot import telemetry
from bot.engine.journal import Journal
from bot.engine.usage import RunLimits, Usage
from bot.messages import Outcome, Reply, TraceStep
from bot.store.memory import Conversation, Turn
from bot.tools import ToolInputError, ToolRegistry
from bot.tools.context import ToolContext
from bot.tools.registry import Focused, Partial, Spoken, ToolResult
from bot.understanding.followups import Asked
from integrations.calendar import CalendarError, Event

log = logging.getLogger(__name__)

# unknown: no such tool; arguments: they do not fit the tool; unavailable: the service behind it
# failed (a calendar, a forecast); bug: the tool itself raised something unexpected.
ErrorKind = Literal["unknown", "arguments", "unavailable", "bug"]


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]
    call_id: str | None = None  # the model's tool_use id; None when a rule calls the tool


@dataclass(frozen=True)
class ToolError:
    kind: ErrorKind
    message: str  # for a person or a model to read; never a traceback
    cause: Exception | None = None  # what a tool with a bug raised, for the log


@dataclass(frozen=True)
class ToolOutcome:
    call: ToolCall
    result: ToolResult | None
    error: ToolError | None
    step: TraceStep

    @property
    def focus(self) -> Event | None:
        """The event the result is about, if it is about one."""
        return self.result.focus if isinstance(self.result, Focused) else None


@dataclass
class Run:
    conversation: Conversation
    context: ToolContext
    history: Sequence[Turn]
    focus: Event | None  # the event last talked about; tool results move it on
    tools: ToolRegistry
    journal: Journal
    limits: RunLimits  # and what the run has used so far
    asked: Asked | None = None  # the chat's last calendar question, for a follow-up to it
    trace: list[TraceStep] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)
    spoken: str = ""  # what a tool asked to read aloud
    # What the answer lacks because a service failed or the agent stopped short, in words for
    # a person: a reply with any is "incomplete", not "answered".
    shortfalls: list[str] = field(default_factory=list)

    @property
    def usage(self) -> Usage:
        return self.limits.usage

    def add_usage(self, usage: Usage) -> None:
        self.limits.usage += usage

    def reply(self, text: str, speak: bool = False) -> Reply:
        """The reply to the message, with the run's path, usage, focus and speech."""
        spoken = self.spoken
        outcome: Outcome = "incomplete" if self.shortfalls else "answered"
        speaks = speak or bool(spoken)
        return Reply(
            text, tuple(self.trace), self.usage, self.focus, speaks, spoken, outcome=outcome
        )

    async def call_tools(self, calls: Sequence[ToolCall]) -> list[ToolOutcome]:
        """Make the calls at once (they need nothing from each other); record them in order."""
        self.limits.tool_calls += len(calls)
        outcomes = await asyncio.gather(*(self._call(call) for call in calls))
        for outcome in outcomes:
            self.trace.append(outcome.step)
            if outcome.error is not None and outcome.error.kind in ("unavailable", "bug"):
                self.shortfalls.append(outcome.error.message)
            if (result := outcome.result) is None:
                continue
            if isinstance(result, Partial) and result.missing:
                self.shortfalls.append(result.missing)
            self.results.append(result)
            self.focus = outcome.focus or self.focus
            if isinstance(result, Spoken) and result.spoken:
                self.spoken = result.spoken
        return outcomes

    async def _call(self, call: ToolCall) -> ToolOutcome:
        started = time.perf_counter()
        conversation = self.conversation
        with telemetry.execute_tool(call.name, call.call_id, conversation, call.arguments) as span:
            result, error = await self._outcome(call)
            if error is None and result is not None:
                telemetry.record_content(span, "gen_ai.tool.call.result", result.for_model())
            elif error is not None:
                telemetry.record_error(span, error.kind, error.message)
        detail = {**_shown(call.arguments), **({"error": error.message} if error else {})}
        step = TraceStep("tool", call.name, detail, time.perf_counter() - started)
        return ToolOutcome(call, result, error, step)

    async def _outcome(self, call: ToolCall) -> tuple[ToolResult | None, ToolError | None]:
        if call.name not in self.tools.names():
            return None, ToolError("unknown", f"There is no tool named {call.name!r}.")
        tool = self.tools.get(call.name)
        try:
            # A tool only looks things up: its result is journaled with the step after it.
            result = await self.journal.read(
                f"tool {tool.name}", tool.call, self.context, call.arguments
            )
        except ToolInputError as exc:
            return None, ToolError("arguments", str(exc))
        except (CalendarError, ValueError) as exc:
            return None, ToolError("unavailable", str(exc))
        except Exception as exc:  # a tool's bug must not end the conversation
            log.exception("tool %s failed", call.name)
            return None, ToolError("bug", f"The tool failed ({type(exc).__name__}).", exc)
        return result, None


def _shown(arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments as a trace shows them: times as ISO text, empty ones left out."""
    return {
        name: value.isoformat() if hasattr(value, "isoformat") else value
        for name, value in arguments.items()
        if value not in (None, "")
    }
