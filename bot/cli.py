"""The `tandem` command: run the bot, chat in the terminal, ask once, check a config, sign in."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from bot.config import (
    ConfigError,
    GoogleCalendar,
    LoadedConfig,
    Secrets,
    choose_config_path,
    load_config,
)
from bot.core import Assistant, open_speaker
from bot.messages import Incoming
from bot.schedule import SlotLedger
from bot.terminal import TERMINAL_CHAT_ID, chat_in_terminal
from bot.tools import TOOLS

log = logging.getLogger("tandem")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        return command(args)
    except ConfigError as exc:
        print(f"Tandem cannot start: the config file has problems.\n{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: $TANDEM_CONFIG, else config/tandem.yaml, else the example)",
    )
    parser = argparse.ArgumentParser(
        prog="tandem",
        description="Tandem: a personal assistant for your calendar, in Telegram or the terminal.",
        parents=[common],
    )
    parser.set_defaults(command=run)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    commands.add_parser(
        "run", parents=[common], help="Telegram if TELEGRAM_BOT_TOKEN is set, else terminal chat"
    ).set_defaults(command=run)
    commands.add_parser(
        "chat", parents=[common], help="chat in the terminal, whatever is set"
    ).set_defaults(command=chat)

    ask_parser = commands.add_parser(
        "ask", parents=[common], help="ask one question; the reply goes to stdout"
    )
    ask_parser.add_argument("text", help='the question, e.g. "what\'s on tomorrow?"')
    ask_parser.add_argument(
        "--mode",
        choices=["workflow", "agent", "hybrid"],
        help="answer in this mode (default: the config's mode)",
    )
    ask_parser.add_argument(
        "--voice-out",
        metavar="FILE.ogg",
        help="also write the reply as a voice note (OGG/Opus, as Telegram plays it)",
    )
    ask_parser.set_defaults(command=ask)

    compare = commands.add_parser(
        "compare",
        parents=[common],
        help="answer one question as a workflow and as an agent, side by side",
    )
    compare.add_argument("text", help='the question, e.g. "what will the weather be?"')
    compare.set_defaults(command=compare_modes)

    check = commands.add_parser(
        "check-config", parents=[common], help="validate a config file and list every problem"
    )
    check.add_argument("file", nargs="?", help="the file to check (default: as --config)")
    check.set_defaults(command=check_config)

    auth = commands.add_parser("auth", help="sign in to a calendar service")
    services = auth.add_subparsers(title="services", metavar="SERVICE", required=True)
    google = services.add_parser(
        "google",
        parents=[common],
        help="sign in to Google Calendar (read-only)",
        description="Sign in to Google Calendar with read-only access. Prints a URL to open; "
        "no browser is started on this machine.",
    )
    google.add_argument("--port", type=int, default=8085, help="local port for the redirect")
    google.add_argument(
        "--paste",
        action="store_true",
        help="paste the address the browser ends on, instead of forwarding the port",
    )
    google.set_defaults(command=auth_google)
    return parser


def load(args: argparse.Namespace) -> LoadedConfig:
    return load_config(choose_config_path(args.config), known_tools=TOOLS.names())


def quiet_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Its retries are expected and already end in a kind reply; the terminal is not a log.
    logging.getLogger("urllib3").setLevel(logging.ERROR)


def run(args: argparse.Namespace) -> int:
    config = load(args)
    secrets = Secrets.from_environment()
    if not secrets.telegram_bot_token:
        print("No TELEGRAM_BOT_TOKEN is set, so Tandem chats here in the terminal.")
        return chat_with(config, secrets)
    from bot.telegram_app import run as run_telegram

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    assistant = Assistant.from_config(config, secrets)
    settings = config.settings
    chat_id = settings.scheduler.chat_id or next(iter(settings.telegram.allowed_user_ids), None)
    schedule = (SlotLedger(config.data_dir / "tandem.sqlite3"), chat_id) if chat_id else None
    if schedule is None and any(rule.schedule for rule in settings.rules):
        log.warning("Scheduled rules are off: set scheduler.chat_id or telegram.allowed_user_ids")
    run_telegram(assistant, settings.telegram, secrets.telegram_bot_token, schedule)
    return 0


def chat(args: argparse.Namespace) -> int:
    return chat_with(load(args), Secrets.from_environment())


def chat_with(config: LoadedConfig, secrets: Secrets) -> int:
    quiet_logging()
    asyncio.run(chat_in_terminal(Assistant.from_config(config, secrets), config))
    return 0


def ask(args: argparse.Namespace) -> int:
    quiet_logging()
    assistant = Assistant.from_config(load(args), Secrets.from_environment())
    wants_voice = args.voice_out is not None
    question = Incoming(
        TERMINAL_CHAT_ID, TERMINAL_CHAT_ID, args.text, wants_voice=wants_voice, mode=args.mode
    )
    reply = asyncio.run(assistant.handle(question))
    print(reply.text)
    if not wants_voice:
        return 0
    if reply.voice is None:
        print("The voice note could not be made; the reply above is the text.", file=sys.stderr)
        return 1
    Path(args.voice_out).write_bytes(reply.voice.ogg_opus)
    print(f"Voice note ({reply.voice.duration:.1f} s) written to {args.voice_out}", file=sys.stderr)
    return 0


def compare_modes(args: argparse.Namespace) -> int:
    quiet_logging()
    assistant = Assistant.from_config(load(args), Secrets.from_environment())
    message = Incoming(TERMINAL_CHAT_ID, TERMINAL_CHAT_ID, f"/compare {args.text}")
    print(asyncio.run(assistant.handle(message)).text)
    return 0


def check_config(args: argparse.Namespace) -> int:
    path = choose_config_path(args.file or args.config)
    try:
        config = load_config(path, known_tools=TOOLS.names())
        open_speaker(config).close()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    settings = config.settings
    print(
        f"{path}: OK — {len(settings.rules)} rule(s), {len(settings.calendars)} calendar(s), "
        f"time zone {settings.user.timezone}."
    )
    return 0


def auth_google(args: argparse.Namespace) -> int:
    from integrations.calendar import CalendarError
    from integrations.calendar.google import GoogleCalendarSource
    from integrations.calendar.google_auth import sign_in

    config = load(args)
    entries = [entry for entry in config.settings.calendars if isinstance(entry, GoogleCalendar)]
    entry = entries[0] if entries else GoogleCalendar(type="google")
    try:
        credentials = sign_in(
            config.resolve(entry.client_secret_file),
            config.resolve(entry.token_file),
            port=args.port,
            paste=args.paste,
        )
        calendars = GoogleCalendarSource(entry.name, ["primary"], credentials).list_calendars()
    except CalendarError as exc:
        print(exc, file=sys.stderr)
        return 1
    print("\nYour calendars; list the ids you want under calendar_ids in the config file:")
    for calendar in calendars:
        print(f"  {calendar.id}  ({calendar.summary}{', primary' if calendar.primary else ''})")
    if not entries:
        print("The config has no Google calendar yet: add one (see config/tandem.example.yaml).")
    return 0
