"""Workflow mode: the user's own rules decide the path.

The first rule whose trigger matches the message runs its steps in order: each tool step calls a
tool from the registry, and the answer step writes the reply from what they found. Arguments a
step does not set come from the understood question (start, end, text, limit) or from an earlier
step's result by name. No rule matching is an honest "outside what my rules cover". Steps are a
finite list, so a run's cost is bounded by the rule itself.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot import telemetry
from bot.answer import write_answer
from bot.config import AnswerStep, Rule, Settings, ToolStep, Trigger
from bot.formatting import View
from bot.journal import Immediate, Journal
from bot.memory import Turn
from bot.messages import Reply, TraceStep
from bot.tools import ToolInputError, ToolRegistry
from bot.tools.context import ToolContext
from bot.tools.registry import ToolResult
from bot.understanding import Question, asks_about_personal_event
from integrations.calendar import CalendarError, Event
from integrations.llm import Claude

log = logging.getLogger(__name__)


def matches(trigger: Trigger, text: str) -> bool:
    """Whether a message fits a rule's trigger: any one of its conditions is enough."""
    lowered = text.lower().replace("’", "'")
    return (
        any(re.search(rf"\b{re.escape(word.lower())}\b", lowered) for word in trigger.keywords)
        or any(phrase.lower() in lowered for phrase in trigger.phrases)
        or bool(trigger.regex and re.search(trigger.regex, text, re.IGNORECASE))
        or (trigger.personal_event and asks_about_personal_event(text))
    )


def covered(rules: Sequence[Rule]) -> str:
    """What the message rules answer, a line each."""
    return "\n".join(f"• {rule.description}" for rule in rules if rule.when)


def out_of_scope(rules: Sequence[Rule]) -> str:
    if not covered(rules):
        return "That's outside what my rules cover: no rules are set up yet."
    return f"That's outside what my rules cover. They cover:\n{covered(rules)}"


@dataclass
class Workflow:
    settings: Settings
    tools: ToolRegistry
    llm: Claude | None
    journal: Journal = field(default_factory=Immediate)

    def choose(self, text: str) -> Rule | None:
        return next(
            (rule for rule in self.settings.rules if rule.when and matches(rule.when, text)), None
        )

    async def run(
        self,
        question: Question,
        context: ToolContext,
        history: Sequence[Turn],
        focus: Event | None = None,
        conversation: int | str = "",
    ) -> Reply:
        """Answer a message with the first rule that matches it, or say no rule covers it."""
        rule = self.choose(question.text)
        if rule is None:
            return Reply(out_of_scope(self.settings.rules), (TraceStep("rule", "none"),))
        return await self.run_rule(rule, question, context, history, focus, conversation)

    async def run_rule(
        self,
        rule: Rule,
        question: Question,
        context: ToolContext,
        history: Sequence[Turn],
        focus: Event | None = None,
        conversation: int | str = "",
    ) -> Reply:
        """Run one rule's steps. `focus` is the event the chat last talked about."""
        with telemetry.invoke_workflow(rule.name, conversation):
            reply = await self._run_steps(rule, question, context, history, focus, conversation)
        return replace(reply, speak=rule.voice)

    async def _run_steps(
        self,
        rule: Rule,
        question: Question,
        context: ToolContext,
        history: Sequence[Turn],
        focus: Event | None,
        conversation: int | str,
    ) -> Reply:
        trace = [TraceStep("rule", rule.name)]
        if question.problem:
            return Reply(question.problem, tuple(trace))
        found = self._from_question(rule, question, focus)
        results: list[ToolResult] = []
        # A step with `if:` that looked for an event and found none is a probe: the steps after it
        # fall back ("$event.location|$text") and say so, so its "nothing" is shown only alone.
        empty_probes: list[ToolResult] = []
        for batch in batches(rule.steps):
            if isinstance(batch, AnswerStep):
                view = View(
                    context.user.clock,
                    context.now().date(),
                    question.window.label if question.window else None,
                )
                llm = self.llm if batch.answer == "llm_or_template" else None
                shown = results or empty_probes
                text, usage, answered = await write_answer(
                    question.text, shown, view, context, history, llm, self.journal
                )
                return Reply(text, (*trace, answered), usage, found.get("event"))
            calls = []
            for step in batch:
                if step.if_ and not found.get(step.if_):
                    trace.append(TraceStep("skip", step.tool, {"because": f"no {step.if_}"}))
                else:
                    calls.append((step, self._arguments(step, found)))
            # Steps in a batch need nothing from each other: wait for all of them at once.
            outcomes = await asyncio.gather(
                *(self._call(step, arguments, context, conversation) for step, arguments in calls),
                return_exceptions=True,
            )
            for (step, arguments), outcome in zip(calls, outcomes, strict=True):
                if isinstance(outcome, BaseException):  # a tool's bug: the core apologises
                    raise outcome
                result, seconds = outcome
                if isinstance(result, CalendarError):
                    failed = TraceStep("tool", step.tool, {"error": str(result)})
                    return Reply(str(result), (*trace, failed))
                if isinstance(result, ToolInputError):
                    log.error("rule %r gives a tool bad arguments: %s", rule.name, result)
                    message = (
                        f"My rule “{rule.name}” is set up wrongly ({result}). Please check it."
                    )
                    return Reply(message, tuple(trace))
                trace.append(TraceStep("tool", step.tool, _shown(arguments), seconds))
                found[step.save_as or step.tool] = result
                if (event := getattr(result, "focus", None)) is not None:
                    found["event"] = event
                elif step.if_ and hasattr(result, "focus"):
                    empty_probes.append(result)
                    continue
                results.append(result)
        raise AssertionError("config validation guarantees a final answer step")

    def _arguments(self, step: ToolStep, found: dict[str, Any]) -> dict[str, Any]:
        """The question's values for the tool's parameters, then the step's own `with`."""
        tool = self.tools.get(step.tool)
        arguments = {name: found[name] for name in tool.parameter_names if name in found}
        for name, value in step.with_.items():
            if (resolved := _resolve(value, found)) is not None:
                arguments[name] = resolved
        return arguments

    async def _call(
        self,
        step: ToolStep,
        arguments: dict[str, Any],
        context: ToolContext,
        conversation: int | str,
    ) -> tuple[ToolResult | BaseException, float]:
        started = time.perf_counter()
        tool = self.tools.get(step.tool)
        with telemetry.execute_tool(tool.name, None, conversation, arguments):
            try:
                result = await self.journal.step(f"tool {tool.name}", tool.call, context, arguments)
            except (CalendarError, ToolInputError) as exc:
                return exc, time.perf_counter() - started
        return result, time.perf_counter() - started

    def _from_question(self, rule: Rule, question: Question, focus: Event | None) -> dict[str, Any]:
        """What steps can use before any tool ran: the question's window, subject and event."""
        # The words that made the rule apply ("rain", "weather") are not what the user asks about.
        keywords = {word.lower() for word in rule.when.keywords} if rule.when else set()
        subject = " ".join(w for w in question.subject.split() if w.lower() not in keywords)
        return {
            "start": question.window.start if question.window else None,
            "end": question.window.end if question.window else None,
            "text": subject,
            "limit": 1 if question.next_only else self.settings.search.max_results,
            # "What will the weather be?" names no time or event: it means the last one talked of.
            "event": focus if not (question.window or subject) else None,
        }


QUESTION_VALUES = {"start", "end", "text", "limit"}  # known before any step runs


def batches(steps: Sequence[ToolStep | AnswerStep]) -> Iterator[list[ToolStep] | AnswerStep]:
    """The steps in order, consecutive tool steps that use no earlier result grouped together."""
    batch: list[ToolStep] = []
    for step in steps:
        if isinstance(step, AnswerStep) or (batch and _uses_earlier(step)):
            if batch:
                yield batch
            batch = []
        if isinstance(step, AnswerStep):
            yield step
        else:
            batch.append(step)
    if batch:
        yield batch


def _uses_earlier(step: ToolStep) -> bool:
    """Whether a step reads something an earlier step found ($event, $search_calendar, ...)."""
    names = {step.if_} if step.if_ else set()
    for value in step.with_.values():
        if isinstance(value, str) and value.startswith("$"):
            names |= {part.strip().removeprefix("$").split(".")[0] for part in value.split("|")}
    return bool(names - QUESTION_VALUES)


def _resolve(value: Any, found: dict[str, Any]) -> Any:
    """`$name` or `$name.field` in a step's `with` means a value found earlier, and
    `$a|$b` the first of them that was found; anything else is a literal."""
    if not (isinstance(value, str) and value.startswith("$")):
        return value
    for choice in value.split("|"):
        name, _, field = choice.strip().removeprefix("$").partition(".")
        known = found.get(name)
        if field and known is not None:
            known = getattr(known, field, None)
        if known not in (None, ""):
            return known
    return None


def _shown(arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value.isoformat() if hasattr(value, "isoformat") else value
        for name, value in arguments.items()
        if value not in (None, "")
    }
