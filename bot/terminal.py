"""The terminal front end: the same core as Telegram, one line in, one reply out."""

from __future__ import annotations

import asyncio

from bot.config import LoadedConfig
from bot.core import Assistant
from bot.messages import Incoming, Reply
from bot.schedule import SlotLedger

TERMINAL_CHAT_ID = 0
PROMPT = "you › "


async def chat_in_terminal(assistant: Assistant, config: LoadedConfig) -> None:
    print(f"Tandem — calendar assistant ({config.path}). Type /help for ideas, /quit to leave.")

    async def show(reply: Reply) -> None:
        print(f"\ntandem (scheduled) › {reply.text}\n{PROMPT}", end="", flush=True)

    ledger = SlotLedger(config.data_dir / "tandem.sqlite3")
    scheduled = asyncio.create_task(
        assistant.scheduler(ledger, TERMINAL_CHAT_ID, show).run_forever()
    )
    try:
        await _converse(assistant)
    finally:
        scheduled.cancel()


async def _converse(assistant: Assistant) -> None:
    while True:
        try:
            line = await asyncio.to_thread(input, PROMPT)
        except (EOFError, KeyboardInterrupt):
            print()
            return
        text = line.strip()
        if text in ("/quit", "/exit"):
            return
        if not text:
            continue
        if text in ("/help", "/start"):
            reply = assistant.help_text()
        else:
            reply = (
                await assistant.handle(Incoming(TERMINAL_CHAT_ID, TERMINAL_CHAT_ID, text))
            ).text
        print(f"tandem › {reply}\n")
