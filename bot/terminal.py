"""The terminal front end: the same core as Telegram, one line in, one reply out."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import termios
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.config import LoadedConfig, Rule
from bot.core import Assistant
from bot.messages import Incoming, Reply
from bot.schedule import Scheduler

TERMINAL_CHAT_ID = 0
PROMPT = "you › "
LEAVE = ("/quit", "/exit")
HISTORY_LINES = 1000
END_BRACKETED_PASTE = "\x1b[?2004l"  # what readline sends when a line is read whole


async def chat_in_terminal(assistant: Assistant, config: LoadedConfig) -> None:
    print(f"Tandem — calendar assistant ({config.path}). Type /help for ideas, /quit to leave.")

    voice_dir = config.data_dir / "voice"

    async def fire(rule: Rule, slot: datetime) -> None:
        reply = await assistant.add_voice(await assistant.run_scheduled(rule, TERMINAL_CHAT_ID))
        said = "\n".join(filter(None, (reply.text, voice_line(reply, voice_dir))))
        print(f"\ntandem (scheduled) › {said}\n{PROMPT}", end="", flush=True)

    slots, clock = assistant.stores.slots, assistant.context.clock
    scheduler = Scheduler.for_settings(assistant.settings, slots, fire, clock)
    scheduled = asyncio.create_task(scheduler.run_forever())
    try:
        longest = config.settings.limits.max_message_chars
        with line_editing(config.data_dir / "terminal-history", longest):
            await converse(assistant, voice_dir)
    finally:
        scheduled.cancel()


@contextlib.contextmanager
def line_editing(history: Path, longest: int) -> Iterator[None]:
    """Arrow keys, Ctrl-R and the history of earlier chats at the prompt (GNU readline), and
    a paste taken whole, newlines and all, as one message (bracketed paste; the terminal's own
    line limit of 4095 characters does not apply, since readline reads key by key). Lines
    longer than `longest` (refused anyway) are not kept; the terminal is left as it was found,
    even when Ctrl-C ends a line being read."""
    import readline  # input() edits lines once this is imported

    readline.parse_and_bind("set enable-bracketed-paste on")
    readline.set_history_length(HISTORY_LINES)
    with contextlib.suppress(OSError):
        readline.read_history_file(history)
    found = _terminal_settings()
    try:
        yield
    finally:
        kept = [
            readline.get_history_item(n)
            for n in range(1, readline.get_current_history_length() + 1)
        ]
        readline.clear_history()
        for line in kept:
            if line and len(line) <= longest:
                readline.add_history(line)
        with contextlib.suppress(OSError):
            history.touch(mode=0o600)  # what the owner asked is theirs alone
            readline.write_history_file(history)
        if found is not None:
            termios.tcsetattr(sys.stdin, termios.TCSADRAIN, found)
            print(END_BRACKETED_PASTE, end="", flush=True)


def _terminal_settings() -> list[Any] | None:
    """The terminal's settings (echo, line mode...), if the input is one."""
    try:
        return termios.tcgetattr(sys.stdin) if sys.stdin.isatty() else None
    except (termios.error, ValueError):
        return None


async def read_line(prompt: str) -> str:
    """A line typed at the prompt. It is read in a daemon thread: Ctrl-C cancels the wait and
    Tandem leaves at once, where a thread of asyncio's pool would be waited for, at exit, until
    the next Enter."""
    loop = asyncio.get_running_loop()
    typed: asyncio.Future[str] = loop.create_future()

    def read() -> None:
        try:
            line = input(prompt)
        except BaseException as exc:  # EOFError (Ctrl-D), or a line that cannot be decoded
            loop.call_soon_threadsafe(_settle, typed, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, typed, line, None)

    threading.Thread(target=read, name="tandem-prompt", daemon=True).start()
    return await typed


def _settle(typed: asyncio.Future[str], line: str | None, error: BaseException | None) -> None:
    if typed.done():  # the wait was given up (Ctrl-C): nobody reads this line
        return
    if error is not None:
        typed.set_exception(error)
    else:
        typed.set_result(line or "")


def owner_says(text: str, **details: Any) -> Incoming:
    """A message from the owner at their own terminal: not held to the per-minute limit."""
    return Incoming(TERMINAL_CHAT_ID, TERMINAL_CHAT_ID, text, paced=False, **details)


def voice_line(reply: Reply, voice_dir: Path) -> str:
    """Where the reply's voice note was written, or why there is none; "" if none was asked."""
    if reply.voice is None:
        return "" if reply.voice_language is None else "(the voice note could not be made)"
    voice_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = voice_dir / f"reply-{datetime.now():%Y%m%d-%H%M%S-%f}.ogg"
    path.write_bytes(reply.voice.ogg_opus)
    return f"(voice note, {reply.voice.duration:.0f} s: {path})"


async def converse(assistant: Assistant, voice_dir: Path) -> None:
    """Read lines until /quit or end of input; every line goes to the core, commands too."""
    while True:
        try:
            line = await read_line(PROMPT)
        except (EOFError, KeyboardInterrupt):
            print()
            return
        text = line.strip()
        if text in LEAVE:
            return
        if text:
            reply = await assistant.handle(owner_says(text))
            print(f"tandem › {reply.text}")
            if reply.voice_language is not None:  # the text first: the note takes a while
                print(voice_line(await assistant.add_voice(reply), voice_dir))
            print()
