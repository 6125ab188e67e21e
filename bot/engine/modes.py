"""The two modes behind one door: the rule is chosen once, and either mode answers in one `Run`.

workflow: the rule that matches answers, or none does and the reply says what the rules cover.
agent: Claude uses the tools. hybrid: the rule if one matches, else the agent.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from bot.config import Mode, Rule, Settings
from bot.engine.agent import Agent
from bot.engine.journal import Journal
from bot.engine.run import Run
from bot.engine.understand import read_question
from bot.engine.usage import RunLimits, price_of
from bot.engine.workflow import Workflow, declined, no_rule
from bot.messages import Reply, TraceStep
from bot.small_talk import small_talk_reply, without_small_talk
from bot.store.memory import Conversation, RunRecord, Turn
from bot.tools import TOOLS, ToolRegistry
from bot.tools.context import ToolContext
from bot.tools.registry import Focused
from bot.understanding import Question
from bot.understanding.followups import Asked, follow_up
from integrations.calendar import Event
from integrations.llm import Claude

MODES: dict[Mode, str] = {
    "workflow": "your rules decide the path: fixed steps, bounded cost; what no rule covers is "
    "out of scope",
    "agent": "Claude decides which tools to call, in what order, within hard limits",
    "hybrid": "your rules first; when no rule matches, the agent takes over",
}
NO_KEY_WARNING = (
    "No ANTHROPIC_API_KEY is set, so {effect}. Set the key in the environment or a .env file "
    "and restart Tandem (see the README), or go back with /mode workflow."
)
NO_KEY_EFFECT: dict[Mode, str] = {
    "agent": "agent mode cannot answer yet",
    "hybrid": "questions no rule covers get the rules' reply until then",
}


@dataclass(frozen=True)
class Answered:
    reply: Reply
    record: RunRecord
    asked: Asked | None = None  # the calendar question a rule answered, for a follow-up to it


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
        asked: Asked | None = None,
    ) -> Run:
        """A new run with these inputs, within the configured per-run limits; `asked` is the
        chat's last calendar question, which a follow-up leaves unsaid."""
        limits = RunLimits(self.settings.llm.limits, price_of(self.settings.llm))
        return Run(conversation, context, history, focus, self.tools, self.journal, limits, asked)

    async def answer(self, text: str, mode: Mode, run: Run) -> Answered:
        """Answer `text` in `mode`; the record says which mode answered and what it did."""
        started = time.perf_counter()
        # A greeting before a question is not part of what to look up.
        read = None if mode == "agent" else await self.read(without_small_talk(text), run)
        question = read and self._follow(read, run)
        # A follow-up ("and friday?") is answered by the rule that answered what it follows.
        follows = run.asked.rule if run.asked and question != read else None
        rule = self.workflow.choose(question, follows) if question else None
        # A request to change the calendar is declined before any rule, and before hybrid's agent;
        # hybrid without a key answers what no rule covers as the rules do, honestly.
        writes = question is not None and question.kind == "write"
        agent_takes = mode == "hybrid" and rule is None and not writes and self.llm is not None
        if question is None or agent_takes:
            reply = await self.agent.answer(text, run)
            ran = "agent" if mode == "agent" else "hybrid → agent"
        else:
            ran = "workflow" if mode == "workflow" else "hybrid → workflow"
            if writes:
                reply = _after_reading(declined(), run)
            elif rule is None:
                reply = _after_reading(_small_talk(text) or no_rule(self.settings.rules), run)
            else:
                reply = await self.workflow.answer(rule, question, run)
        seconds = time.perf_counter() - started
        record = RunRecord(ran, text, reply.text, reply.steps, reply.usage, seconds)
        if question is None or rule is None or question.kind != "calendar" or agent_takes:
            return Answered(reply, record)
        asked = Asked(question, _found_event(run), rule.name, run.context.now())
        return Answered(reply, record, asked)

    async def answer_scheduled(self, rule: Rule, run: Run) -> Reply:
        """A scheduled rule's question, answered by that rule."""
        assert rule.schedule is not None
        return await self.workflow.answer(rule, await self.read(rule.schedule.ask, run), run)

    def _follow(self, question: Question, run: Run) -> Question:
        """The question with what it leaves unsaid taken from the chat's last one, if it is a
        follow-up to it; a message that names a rule's own words ("what time is it?", "and the
        weather?") is that rule's, never a follow-up."""
        if run.asked is None or self.workflow.named(question):
            return question
        user = run.context.user
        now = run.context.now()
        return follow_up(question, run.asked, now, user.clock, user.numeric_date_order)

    async def read(self, text: str, run: Run) -> Question:
        """The question as the rules see it: read by Claude if so configured, else offline."""
        llm = self.llm if self.settings.understanding.claude else None
        return await read_question(text, run, llm)


def _found_event(run: Run) -> Event | None:
    """The event this run's answer was about (not one an earlier message talked about)."""
    return next((r.focus for r in run.results if isinstance(r, Focused) and r.focus), None)


def _after_reading(reply: Reply, run: Run) -> Reply:
    """A reply no rule wrote, with how the question was read and what reading it cost."""
    return replace(reply, steps=(*run.trace, *reply.steps), usage=run.usage)


def _small_talk(text: str) -> Reply | None:
    """A one-line reply to a greeting, a thanks or an "ok" that no rule covers."""
    said = small_talk_reply(text)
    return None if said is None else Reply(said, (TraceStep("rule", "small talk"),))
