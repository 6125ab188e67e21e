"""Telegram's webhook: each update it posts is stored as a run (bot/telegram/server.py) before
the 2xx that stops Telegram sending it again; `/healthz` says whether this worker receives.

Its own module so that aiohttp is loaded only by a worker that takes a webhook.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Bot, Update

from bot.telegram.receiving import Health, retrying
from bot.telegram.server import PATIENT, Inbox, Webhook, waiting_runs

log = logging.getLogger(__name__)


@dataclass
class Listener:
    inbox: Inbox
    webhook: Webhook
    health: Health = field(init=False)

    def __post_init__(self) -> None:
        self.health = self.inbox.health

    async def receive(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != self.webhook.secret:
            return web.Response(status=403)
        try:
            update = await request.json()
            update = {**update, "update_id": int(update["update_id"])}
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400)
        try:
            await self.inbox.accept(update)
        except Exception as exc:  # not stored: Telegram sends it again after a 5xx
            self.health.failed("store updates", exc)
            log.error("Could not store an update (%s: %s); answered 503", type(exc).__name__, exc)
            return web.Response(status=503)
        self.health.recovered("store updates")
        self.health.stored_updates(1)
        return web.Response(status=200)

    async def healthz(self, request: web.Request) -> web.Response:
        report = self.health.report()
        report.pop("failing")  # error texts stay in the log and `tandem status`
        stored = await waiting_runs()
        report["waiting_runs"] = len(stored)
        report["oldest_waiting_seconds"] = time.time() - min(stored) if stored else 0
        return web.json_response(report, status=200 if report["receiving"] else 503)


async def listen(bot: Bot, inbox: Inbox, webhook: Webhook) -> None:
    listener = Listener(inbox, webhook)
    server = web.Application()
    # Behind a proxy the path is the one in the public address: /telegram in ".../telegram".
    server.router.add_post(urlsplit(webhook.url).path or "/", listener.receive)
    server.router.add_get("/healthz", listener.healthz)
    runner = web.AppRunner(server, access_log=None)
    health, backoff = inbox.health, PATIENT
    await runner.setup()
    try:
        site = web.TCPSite(runner, webhook.listen, webhook.port)
        await retrying(f"listen on port {webhook.port}", site.start, health, backoff)
        await retrying(
            "set the webhook",
            lambda: bot.set_webhook(
                webhook.url, secret_token=webhook.secret, allowed_updates=[Update.MESSAGE]
            ),
            health,
            backoff,
        )
        health.listening = True
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
