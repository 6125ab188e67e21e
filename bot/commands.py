"""Every command Tandem takes, listed once: its name, its line in /help and in Telegram's menu,
what answers it, and whether it spends model calls (then it passes the person's allowances first
and what it used is counted).

The handlers stand on the core's public face (bot/core.py); bot/wiring.py hands the table to the
core, Telegram registers a handler and publishes its menu from it, and the terminal chat and
`tandem` take the same commands through the core.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.engine.usage import price_of
from bot.messages import Incoming, Reply
from bot.report import trace_report

if TYPE_CHECKING:
    from bot.core import Assistant

GREETING = (
    "Hi{name}! I'm Tandem, your personal assistant for your own calendar. "
    "Ask me in plain words about your day, your week, or when something is happening."
)

Handler = Callable[["Assistant", Incoming, str], Awaitable[Reply]]


@dataclass(frozen=True)
class Command:
    name: str
    help: str  # one line, for /help and Telegram's command menu
    handler: Handler  # (core, the message, the text after the command)
    spends: bool = False


async def _start(core: Assistant, message: Incoming, argument: str) -> Reply:
    return Reply(f"{GREETING.format(name='')}\n\n{core.help_text()}")


async def _help(core: Assistant, message: Incoming, argument: str) -> Reply:
    return Reply(core.help_text())


async def _say(core: Assistant, message: Incoming, argument: str) -> Reply:
    if not argument:
        return Reply("Tell me what to read out, e.g. “/say what's on tomorrow?”")
    return await core.ask(message, argument, wants_voice=True)


async def _voice(core: Assistant, message: Incoming, argument: str) -> Reply:
    return core.set_voice_mode(message.conversation, argument)


async def _mode(core: Assistant, message: Incoming, argument: str) -> Reply:
    return core.set_mode(message.conversation, argument)


async def _trace(core: Assistant, message: Incoming, argument: str) -> Reply:
    last = core.memory.last_run(message.conversation)
    return Reply(trace_report(last, price_of(core.settings.llm)))


async def _compare(core: Assistant, message: Incoming, argument: str) -> Reply:
    if not argument:
        return Reply("Ask it a question, e.g. “/compare what will the weather be?”")
    return await core.compare(message, argument)


async def _usage(core: Assistant, message: Incoming, argument: str) -> Reply:
    now = core.context_for(message.user_id).now()
    return Reply(core.stores.allowances.report(message.user_id, now))


COMMANDS = (
    Command("start", "what I am and what I can do", _start),
    Command("help", "what my rules cover, and these commands", _help),
    Command("say", "answer a question with a voice note too: /say what's on tomorrow?", _say, True),
    Command("voice", "show or set voice replies: /voice off, always or on_request", _voice),
    Command("mode", "show or set the mode: /mode workflow, agent or hybrid", _mode),
    Command("compare", "a question as a workflow and as an agent, side by side", _compare, True),
    Command("trace", "how the last answer was found, step by step", _trace),
    Command("usage", "what you have used today, and your limits", _usage),
)
