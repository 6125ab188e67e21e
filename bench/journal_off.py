"""`tandem run` with the durable journal taken out, for the benchmarks only (not a product mode).

Everything else is the real `tandem run`: the same config, the same python-telegram-bot
application and handlers, the same core and polling loop. Only the journal is the immediate one
(each step simply runs, as in `tandem ask`), an update is answered in a task of its own instead
of a stored DBOS workflow on the per-chat queue, and DBOS is neither configured nor launched.
What `tandem run` costs beyond this is what durability costs.

Run: python -m bench.journal_off run --config FILE ...  (the arguments of `tandem`)
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from telegram import Update

from bot import cli
from bot.engine.journal import Immediate
from bot.telegram import server

_answering: set[asyncio.Task[None]] = set()  # a task nobody holds may be collected mid-answer


async def accept(inbox: server.Inbox, update: dict[str, Any]) -> None:
    """Start answering at once, as a bot without a journal does: nothing is stored."""
    application = server._now_running().application
    task = asyncio.create_task(application.process_update(Update.de_json(update, application.bot)))
    _answering.add(task)
    task.add_done_callback(_answering.discard)


class NoDbos:
    """Stands in for the DBOS class where `serve` configures, launches and destroys it."""

    application_version = ""

    def __init__(self, config: object) -> None:
        pass

    @staticmethod
    def launch() -> None:
        pass

    @staticmethod
    async def register_queue_async(name: str, **options: Any) -> None:
        return None  # updates never reach a queue: `accept` answers them

    @staticmethod
    async def list_workflows_async(**filters: Any) -> list[Any]:
        return []  # nothing is stored, so nothing is left unfinished

    @staticmethod
    def destroy(workflow_completion_timeout_sec: int) -> None:
        pass


def main() -> int:
    server.DbosJournal = Immediate  # type: ignore[misc, assignment]
    server.Inbox.accept = accept  # type: ignore[method-assign]
    server.DBOS = NoDbos  # type: ignore[misc, assignment]
    return cli.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
