"""Workflow mode: the user's own rules decide the path.

The first rule whose trigger matches the message runs its steps in order: each tool step calls a
tool from the registry, and the answer step writes the reply from what they found. Arguments a
step does not set come from the understood question (start, end, text, limit, and part_of_day or
during when it says them) or from an earlier step's result by name. No rule matching is an
honest "outside what my rules cover". Steps are a finite list, so a run's cost is bounded by the
rule itself.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bot import telemetry
from bot.config import AnswerStep, Rule, Settings, ToolStep, Trigger
from bot.engine.answer import write_answer
from bot.engine.run import Run, ToolCall, ToolError
from bot.formatting import View
from bot.messages import Reply, TraceStep
from bot.tools import ToolRegistry
from bot.tools.registry import Focused, ToolResult
from bot.understanding import Question
from integrations.calendar import Event
from integrations.llm import Claude

log = logging.getLogger(__name__)


READ_ONLY = (
    "I can only read your calendar, so I can't change anything in it or send messages. "
    "I can tell you what's on and when, where something is, how long it lasts, whether "
    "you're free, and the weather at your events — e.g. “what's on tomorrow?”."
)


def matches(trigger: Trigger, question: Question) -> bool:
    """Whether a message fits a rule's trigger: any one of its conditions is enough. A question
    about the world fits none: "hot" in "calories in a hot dog" asks for no weather."""
    if question.knowledge:
        return False
    return named_by(trigger, question) or (trigger.personal_event and question.kind == "calendar")


def named_by(trigger: Trigger, question: Question) -> bool:
    """Whether a message has a trigger's own words: a keyword, a phrase or its regex."""
    text = question.text
    lowered = text.lower().replace("’", "'")
    return (
        any(re.search(rf"\b{re.escape(word.lower())}\b", lowered) for word in trigger.keywords)
        or any(phrase.lower() in lowered for phrase in trigger.phrases)
        or bool(trigger.regex and re.search(trigger.regex, text, re.IGNORECASE))
    )


def covered(rules: Sequence[Rule]) -> str:
    """What the message rules answer, a line each."""
    return "\n".join(f"• {rule.description}" for rule in rules if rule.when)


def out_of_scope(rules: Sequence[Rule]) -> str:
    if not covered(rules):
        return "That's outside what my rules cover: no rules are set up yet."
    return f"That's outside what my rules cover. They cover:\n{covered(rules)}"


def no_rule(rules: Sequence[Rule]) -> Reply:
    """The reply when no rule matches the message."""
    return Reply(out_of_scope(rules), (TraceStep("rule", "none"),), outcome="out of scope")


def declined() -> Reply:
    """The reply to a request to change the calendar: Tandem only reads it."""
    return Reply(READ_ONLY, (TraceStep("rule", "read-only"),), outcome="out of scope")


class ToolFailed(Exception):
    """A tool a rule called has a bug: the core apologises rather than guess an answer."""


@dataclass
class Workflow:
    settings: Settings
    llm: Claude | None

    def choose(self, question: Question, follows: str | None = None) -> Rule | None:
        """The first rule whose trigger the message fits, if any; none for a write request,
        which no rule may answer as a search. A follow-up goes to the rule named `follows`,
        the one that answered the question it follows, while that rule exists."""
        if question.kind == "write":
            return None
        rules = [rule for rule in self.settings.rules if rule.when]
        followed = next((rule for rule in rules if rule.name == follows), None)
        return followed or next((rule for rule in rules if matches(rule.when, question)), None)

    def named(self, question: Question) -> bool:
        """Whether the message has a rule's own words ("weather", "what time is it")."""
        return any(rule.when and named_by(rule.when, question) for rule in self.settings.rules)

    async def answer(self, rule: Rule, question: Question, run: Run) -> Reply:
        """Run one rule's steps in `run`; `run.focus` is the event the chat last talked about."""
        with telemetry.invoke_workflow(rule.name, run.conversation):
            run.trace.append(TraceStep("rule", rule.name))
            if question.problem:
                return run.reply(question.problem)
            text = await self._follow(rule, question, run)
        return run.reply(text, speak=rule.voice)

    async def _follow(self, rule: Rule, question: Question, run: Run) -> str:
        """The rule's steps in order, to the text of the reply."""
        found = self._from_question(rule, question, run.focus)
        # A step with `if:` that looked for an event and found none is a probe: the steps after it
        # fall back ("$event.location|$text") and say so, so its "nothing" is shown only alone.
        probes: list[ToolResult] = []
        for batch in batches(rule.steps):
            if isinstance(batch, AnswerStep):
                view = View(
                    run.context.user.clock,
                    run.context.now().date(),
                    question.window.label if question.window else None,
                    question.asks,
                    question.moment is not None,
                    run.context.user.numeric_date_order,
                )
                llm = self.llm if batch.answer == "llm_or_template" else None
                found_things = [r for r in run.results if not any(r is p for p in probes)]
                return await write_answer(question.text, found_things or probes, view, run, llm)
            calls: list[tuple[ToolStep, ToolCall]] = []
            for step in batch:
                if step.if_ and not found.get(step.if_):
                    run.trace.append(TraceStep("skip", step.tool, {"because": f"no {step.if_}"}))
                else:
                    calls.append((step, ToolCall(step.tool, _arguments(run.tools, step, found))))
            # Steps in a batch need nothing from each other: they run at once.
            outcomes = await run.call_tools([call for _, call in calls])
            for (step, _), outcome in zip(calls, outcomes, strict=True):
                if outcome.error is not None:
                    return _failed(rule, outcome.error)
                found[step.save_as or step.tool] = outcome.result
                if outcome.focus is not None:
                    found["event"] = outcome.focus
                elif step.if_ and isinstance(outcome.result, Focused):
                    probes.append(outcome.result)
        raise AssertionError("config validation guarantees a final answer step")

    def _limit(self, question: Question) -> int:
        # The latest of a past window, or the first day without work: none may be cut away.
        if question.asks in ("last", "day_off"):
            return ALL_EVENTS
        return 1 if question.next_only else self.settings.search.max_results

    def _from_question(self, rule: Rule, question: Question, focus: Event | None) -> dict[str, Any]:
        """What steps can use before any tool ran: the question's window, subject and event."""
        # The words that made the rule apply ("rain", "weather") are not what the user asks about.
        keywords = {word.lower() for word in rule.when.keywords} if rule.when else set()
        subject = " ".join(w for w in question.subject.split() if w.lower() not in keywords)
        found = {
            "start": question.window.start if question.window else None,
            "end": question.window.end if question.window else None,
            "text": subject,
            "limit": self._limit(question),
            # "What will the weather be?" names no time or event: it means the last one talked of.
            "event": focus if not (question.window or subject) else None,
        }
        # Only when the question says them, so a search reads (and its trace shows) as before.
        if question.part_of_day:
            found["part_of_day"] = question.part_of_day
        if question.during:
            found["during"] = True
        if question.after:
            found["after"] = question.after
        if question.before:
            found["before"] = question.before
        return found


ALL_EVENTS = 10_000


def _arguments(tools: ToolRegistry, step: ToolStep, found: dict[str, Any]) -> dict[str, Any]:
    """The question's values for the tool's parameters, then the step's own `with`."""
    tool = tools.get(step.tool)
    arguments = {name: found[name] for name in tool.parameter_names if name in found}
    for name, value in step.with_.items():
        if (resolved := _resolve(value, found)) is not None:
            arguments[name] = resolved
    return arguments


def _failed(rule: Rule, error: ToolError) -> str:
    """What the user is told when a rule's tool fails."""
    if error.kind == "unavailable":
        return error.message
    if error.kind == "bug":
        raise ToolFailed(error.message) from error.cause
    log.error("rule %r gives a tool bad arguments: %s", rule.name, error.message)
    return f"My rule “{rule.name}” is set up wrongly ({error.message}). Please check it."


# Known before any step runs.
QUESTION_VALUES = {"start", "end", "text", "limit", "part_of_day", "during", "after", "before"}


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
