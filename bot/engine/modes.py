"""The two modes behind one door: the rule is chosen once, and either mode answers in one `Run`.

workflow: the rule that matches answers, or none does and the reply says what the rules cover.
agent: Claude uses the tools. hybrid: the rule if one matches, else the agent.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.config import Mode, Rule, Settings
from bot.engine.agent import Agent
from bot.engine.journal import Journal
from bot.engine.run import Run
from bot.engine.usage import RunLimits, price_of
from bot.engine.workflow import Workflow, declined, no_rule
from bot.messages import Reply
from bot.store.memory import Conversation, RunRecord, Turn
from bot.tools import TOOLS, ToolRegistry
from bot.tools.calendar_search import understand_for
from bot.tools.context import ToolContext
from integrations.calendar import Event
from integrations.llm import Claude

MODES: dict[Mode, str] = {
    "workflow": "your rules decide the path: fixed steps, bounded cost; what no rule covers is "
    "out of scope",
    "agent": "Claude decides which tools to call, in what order, within hard limits",
    "hybrid": "your rules first; when no rule matches, the agent takes over",
}


@dataclass(frozen=True)
class Answered:
    reply: Reply
    record: RunRecord


@dataclass
class Engine:
    settings: Settings
    llm: Claude | None
    journal: Journal
    tools: ToolRegistry = TOOLS
    workflow: Workflow = field(init=False)
    agent: Agent = field(init=False)

    def __post_init__(self) -> None:
        self.workflow = Workflow(self.settings, self.llm)
        self.agent = Agent(self.settings, self.llm)

    def start(
        self,
        conversation: Conversation,
        context: ToolContext,
        history: Sequence[Turn],
        focus: Event | None,
    ) -> Run:
        """A new run with these inputs, within the configured per-run limits."""
        limits = RunLimits(self.settings.llm.limits, price_of(self.settings.llm))
        return Run(conversation, context, history, focus, self.tools, self.journal, limits)

    async def answer(self, text: str, mode: Mode, run: Run) -> Answered:
        """Answer `text` in `mode`; the record says which mode answered and what it did."""
        started = time.perf_counter()
        question = None if mode == "agent" else understand_for(run.context, text)
        rule = self.workflow.choose(question) if question else None
        # A request to change the calendar is declined before any rule, and before hybrid's agent.
        writes = question is not None and question.kind == "write"
        if question is None or (mode == "hybrid" and rule is None and not writes):
            reply = await self.agent.answer(text, run)
            ran = "agent" if mode == "agent" else "hybrid → agent"
        else:
            ran = "workflow" if mode == "workflow" else "hybrid → workflow"
            if writes:
                reply = declined()
            elif rule is None:
                reply = no_rule(self.settings.rules)
            else:
                reply = await self.workflow.answer(rule, question, run)
        seconds = time.perf_counter() - started
        return Answered(reply, RunRecord(ran, text, reply.text, reply.steps, reply.usage, seconds))

    async def answer_scheduled(self, rule: Rule, run: Run) -> Reply:
        """A scheduled rule's question, answered by that rule."""
        assert rule.schedule is not None
        return await self.workflow.answer(rule, understand_for(run.context, rule.schedule.ask), run)
