"""Reading a question for the rules: offline, or by Claude when `understanding.claude` is on.

Claude's reading is one model call with structured output: bot/understanding/claude.py gives
its shape and checks it. It is counted, limited and journaled like every model call. A reading
that failed (an API error, a timeout), was refused, cut off or is unusable falls back to the
offline reader (bot/understanding), and the trace says why. A request to change the calendar
that its words alone show ("cancel my haircut") is declined whatever Claude read.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from bot.engine.prompts import system_prompt
from bot.engine.run import Run
from bot.engine.usage import Usage
from bot.messages import TraceStep
from bot.tools.calendar_search import understand_for
from bot.understanding import Question, understand
from bot.understanding.claude import SCHEMA, Unusable, question_from
from integrations.llm import Claude, LlmError

log = logging.getLogger(__name__)


async def read_question(text: str, run: Run, llm: Claude | None) -> Question:
    """`text` understood: by `llm` when given, else (or when its reading fails) offline."""
    if llm is None:
        return understand_for(run.context, text)
    if reached := run.limits.exhausted():
        return _offline(text, run, f"limit reached: {reached}")
    now, user = run.context.now(), run.context.user
    started = time.perf_counter()
    try:
        completion = await run.journal.step(
            f"understand with {llm.model}",
            llm.extract,
            system_prompt("understand", user, now),
            [{"role": "user", "content": text}],
            SCHEMA,
        )
    except LlmError as exc:
        return _offline(text, run, str(exc))
    run.add_usage(Usage.of(completion))
    if completion.stop_reason != "end_turn":
        return _offline(text, run, completion.shortfall or f"stop: {completion.stop_reason}")
    try:
        question = question_from(text, completion.text, now, user.clock)
    except Unusable as exc:
        return _offline(text, run, f"Claude's reading is unusable: {exc}")
    if question.kind != "write" and understand(text, now, clock=user.clock).kind == "write":
        question = dataclasses.replace(question, kind="write")
    detail = {"kind": question.kind, "asks": question.asks}
    seconds = time.perf_counter() - started
    run.trace.append(TraceStep("understand", f"by {llm.model}", detail, seconds))
    return question


def _offline(text: str, run: Run, why: str) -> Question:
    log.warning("the question was read offline: %s", why)
    run.trace.append(TraceStep("understand", "offline", {"fallback": why}))
    return understand_for(run.context, text)
