"""The terminal front end: the same core as Telegram, one line in, one reply out."""

from __future__ import annotations

import asyncio

from bot.config import LoadedConfig
from bot.core import Assistant
from bot.messages import Incoming

TERMINAL_CHAT_ID = 0
PROMPT = "you › "


async def chat_in_terminal(assistant: Assistant, config: LoadedConfig) -> None:
    print(f"Tandem — calendar assistant ({config.path}). Type /help for ideas, /quit to leave.")
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
