"""The `tandem` command: run the bot, chat in the terminal, ask once, check a config, sign in."""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import faulthandler
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from contextlib import suppress
from enum import IntEnum
from pathlib import Path

from bot.config import (
    ConfigError,
    GoogleCalendar,
    LoadedConfig,
    Secrets,
    choose_config_path,
    load_config,
)
from bot.core import Assistant
from bot.messages import Outcome, Reply
from bot.redaction import install_redaction, known_secrets
from bot.startup import CannotStart, check_data_folder
from bot.store import open_stores, shared_database
from bot.store.access import CODE_MINUTES
from bot.terminal import TERMINAL_CHAT_ID, chat_in_terminal, owner_says
from bot.tools import TOOLS
from bot.wiring import build
from integrations.listen import ListenError
from integrations.speech import Speaker

log = logging.getLogger("tandem")


class ExitStatus(IntEnum):
    """How `tandem` ends, so that a script can tell an answer from a non-answer."""

    ANSWERED = 0
    FAILED = 1
    BAD_CONFIG = 2
    OUT_OF_SCOPE = 3
    NO_MODEL = 4
    REFUSED = 5
    INCOMPLETE = 6
    INTERRUPTED = 130


EXIT_STATUSES = {
    ExitStatus.ANSWERED: "answered",
    ExitStatus.FAILED: "something went wrong (the reply apologises), the recording could not "
    "be heard or the voice note made, or Tandem cannot start",
    ExitStatus.BAD_CONFIG: "the config file has problems (they are listed)",
    ExitStatus.OUT_OF_SCOPE: "not answered: outside what your rules cover, or a change to the "
    "calendar (Tandem only reads it)",
    ExitStatus.NO_MODEL: "not answered: agent mode needs ANTHROPIC_API_KEY and none is set",
    ExitStatus.REFUSED: "not answered: a limit was reached (the reply says when it resets)",
    ExitStatus.INCOMPLETE: "answered in part: a service it needed (a calendar, the weather, "
    "Claude in agent mode) failed, or the agent stopped short; the reply says what is missing",
    ExitStatus.INTERRUPTED: "interrupted (Ctrl-C)",
}
OUTCOME_STATUS: dict[Outcome, ExitStatus] = {
    "answered": ExitStatus.ANSWERED,
    "incomplete": ExitStatus.INCOMPLETE,
    "failed": ExitStatus.FAILED,
    "out of scope": ExitStatus.OUT_OF_SCOPE,
    "no model": ExitStatus.NO_MODEL,
    "refused": ExitStatus.REFUSED,
}
NO_KEY_FOR_ASK = (
    "Agent mode needs an Anthropic API key, and none is set: {instead} to answer by your "
    "rules, or set ANTHROPIC_API_KEY=sk-ant-... in the environment or a .env file."
)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        return command(args)
    except ConfigError as exc:
        print(f"Tandem cannot start: the config file has problems.\n{exc}", file=sys.stderr)
        return ExitStatus.BAD_CONFIG
    except CannotStart as exc:
        print(f"Tandem cannot start: {exc}", file=sys.stderr)
        return ExitStatus.FAILED
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:  # `tandem ask ... | head -1`: the reader has gone, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitStatus.FAILED


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: $TANDEM_CONFIG, else config/tandem.yaml, else the example)",
    )
    serving = argparse.ArgumentParser(add_help=False)
    serving.add_argument(
        "--webhook",
        metavar="URL",
        help="take updates by webhook at this public https address (e.g. "
        "https://bot.example.com/telegram) instead of polling",
    )
    serving.add_argument("--listen", default="0.0.0.0", help="webhook: address to listen on")
    serving.add_argument("--port", type=int, default=8443, help="webhook: port to listen on")
    serving.add_argument(
        "--worker",
        default=socket.gethostname(),
        help="this worker's name; give each worker sharing a database its own (default: host)",
    )
    serving.add_argument(
        "--role",
        choices=["all", "receiver", "worker"],
        default="all",
        help="receiver: only store updates as runs; worker: only run them (default: both)",
    )
    serving.add_argument(
        "--database",
        metavar="URL",
        help="journal database, e.g. postgresql://user@host/db (default: durable.database_url, "
        "else SQLite in the data folder; TANDEM_DATABASE_URL overrides)",
    )
    parser = argparse.ArgumentParser(
        prog="tandem",
        description="Tandem: a personal assistant for your calendar, in Telegram or the terminal.",
        parents=[common, serving],
    )
    parser.set_defaults(command=run)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    commands.add_parser(
        "run",
        parents=[common, serving],
        help="Telegram if TELEGRAM_BOT_TOKEN is set, else terminal chat",
        description="Serve Tandem on Telegram (long polling, or a webhook with --webhook); "
        "every update is a durable run. Without TELEGRAM_BOT_TOKEN: the terminal chat.",
    ).set_defaults(command=run)
    commands.add_parser(
        "chat",
        parents=[common],
        help="chat in the terminal, whatever is set",
        description="Chat with Tandem in the terminal, even when TELEGRAM_BOT_TOKEN is set: the "
        "same answers and commands as in Telegram, with line editing and history (arrow keys). "
        "/quit or Ctrl-D leaves.",
    ).set_defaults(command=chat)

    statuses = "\n".join(f"  {int(code):>3}  {what}" for code, what in EXIT_STATUSES.items())
    ask_parser = commands.add_parser(
        "ask",
        parents=[common],
        help="ask one question; the reply goes to stdout",
        description="Ask Tandem one question; the reply goes to stdout, and the exit status "
        "says whether it was answered (for scripts and cron).",
        epilog=f"exit statuses:\n{statuses}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ask_parser.add_argument(
        "text", nargs="?", help='the question, e.g. "what\'s on tomorrow?" (or --voice-in)'
    )
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
    ask_parser.add_argument(
        "--voice-in",
        metavar="FILE",
        help="ask with a recording instead (a voice note, or any common audio file); "
        "needs the listen extra: pip install -e '.[listen]'",
    )
    ask_parser.set_defaults(command=ask)

    compare = commands.add_parser(
        "compare",
        parents=[common],
        help="answer one question as a workflow and as an agent, side by side",
        description="Answer one question twice from the same inputs, by your rules (workflow) "
        "and by Claude choosing the tools (agent), and show side by side the steps, model "
        "calls, tokens, cost, time and answer of each. The agent needs ANTHROPIC_API_KEY.",
    )
    compare.add_argument("text", help='the question, e.g. "what will the weather be?"')
    compare.set_defaults(command=compare_modes)

    evaluation = commands.add_parser(
        "eval",
        parents=[common],
        help="run scripted conversations in every mode; report success, tokens, cost and time",
        description="Run the scenarios in every mode and write report.md and report.png. "
        "Without ANTHROPIC_API_KEY the API traffic is replayed from the scenarios' recording.",
    )
    evaluation.add_argument(
        "scenarios", metavar="SCENARIOS.yaml", help="see config/scenarios.example.yaml"
    )
    evaluation.add_argument(
        "--out", metavar="DIR", default="eval-report", help="where the report goes (eval-report)"
    )
    evaluation.add_argument(
        "--record",
        action="store_true",
        help="run against the real APIs and record the traffic anew (needs ANTHROPIC_API_KEY)",
    )
    evaluation.set_defaults(command=run_eval)

    status_parser = commands.add_parser(
        "status",
        parents=[common],
        help="whether the bot is receiving, and how far behind it is (exit status 1 if not)",
        description="Say whether the Telegram bot is receiving updates, when it last did, and "
        "how many updates wait to be answered. Exit status 1 if it is not receiving.",
    )
    status_parser.add_argument(
        "--database", metavar="URL", help="the journal database, as for `tandem run`"
    )
    status_parser.set_defaults(command=status)

    pair_parser = commands.add_parser(
        "pair",
        parents=[common],
        help="print a one-time code that lets someone start using the bot (valid 10 minutes)",
        description=f"Print a one-time pairing code. Whoever sends it to the bot as /pair CODE "
        f"within {CODE_MINUTES} minutes may use the bot from then on, with their own history; "
        "the code works once.",
    )
    pair_parser.add_argument(
        "--database", metavar="URL", help="the shared database, as for `tandem run`"
    )
    pair_parser.set_defaults(command=pair)

    check = commands.add_parser(
        "check-config",
        parents=[common],
        help="validate a config file and list every problem",
        description="Check a config file and list every problem at once, each with its line "
        "or field. Exit status 1 if there are any.",
    )
    check.add_argument("file", nargs="?", help="the file to check (default: as --config)")
    check.set_defaults(command=check_config)

    auth = commands.add_parser(
        "auth",
        help="sign in to a calendar service",
        description="Sign in to a calendar service; the token is kept in its token_file.",
    )
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
    """The config, once its data folder is known to take files (else CannotStart)."""
    config = load_config(choose_config_path(args.config), known_tools=TOOLS.names())
    check_data_folder(config.data_dir)
    return config


def quiet_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Its retries are expected and already end in a kind reply; the terminal is not a log.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    install_redaction(known_secrets(Secrets.from_environment()))


def run(args: argparse.Namespace) -> int:
    config = load(args)
    secrets = Secrets.from_environment()
    token = secrets.telegram_bot_token
    if not token:
        print("No TELEGRAM_BOT_TOKEN is set, so Tandem chats here in the terminal.")
        return chat_with(config, secrets)
    fewer_malloc_arenas()
    # Imported here: durable execution is only for the Telegram bot, and DBOS takes 0.3 s.
    from bot.telegram import server

    # `kill -USR1` prints where every thread is (to the log): a stuck bot can say why.
    faulthandler.register(signal.SIGUSR1, all_threads=True)

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_redaction(known_secrets(secrets, config))
    # httpx logs every request URL at INFO, and Bot API URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # It logs a body it cannot parse with a traceback; the error it then raises is logged anyway.
    logging.getLogger("telegram.request").setLevel(logging.CRITICAL)
    if not config.settings.telegram.allowed_user_ids:
        log.warning(
            "telegram.allowed_user_ids is empty, so Tandem will refuse everyone. To allow "
            "yourself: send the bot any message, it replies with your numeric user id; put that "
            "id under telegram.allowed_user_ids in the config file and restart."
        )
    database = shared_database(config, args.database)
    assistant = build(
        config, secrets.anthropic_api_key, journal=server.DbosJournal(), database=database
    )
    webhook = None
    if args.webhook:
        secret = os.environ.get("TELEGRAM_WEBHOOK_SECRET") or server.webhook_secret(token)
        webhook = server.Webhook(args.webhook, args.listen, args.port, secret)
    asyncio.run(server.serve(config, assistant, token, args.worker, webhook, database, args.role))
    return 0


# glibc's mallopt option for the most malloc arenas (M_ARENA_MAX), and how many the bot keeps.
M_ARENA_MAX = -8
MALLOC_ARENAS = 2


def fewer_malloc_arenas() -> None:
    """Hold glibc to MALLOC_ARENAS malloc arenas (MALLOC_ARENA_MAX in the environment wins).

    By default each thread that finds the arenas busy makes another, up to eight per core, and
    each keeps the memory it once held: the bot's threads (DBOS's, the blocking steps') are
    mostly waiting, and taking turns at two arenas costs them nothing measurable.
    """
    if sys.platform != "linux" or "MALLOC_ARENA_MAX" in os.environ:
        return
    with suppress(AttributeError):  # a C library without mallopt has no such arenas
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, MALLOC_ARENAS)  # the C library Python runs on


def chat(args: argparse.Namespace) -> int:
    return chat_with(load(args), Secrets.from_environment())


def chat_with(config: LoadedConfig, secrets: Secrets) -> int:
    quiet_logging()
    asyncio.run(chat_in_terminal(build(config, secrets.anthropic_api_key), config))
    return 0


def ask(args: argparse.Namespace) -> int:
    if (args.text is None) == (args.voice_in is None):
        print("Ask with a question or with --voice-in FILE (one of them).", file=sys.stderr)
        return 2
    quiet_logging()
    assistant = build(load(args), Secrets.from_environment().anthropic_api_key)
    wants_voice = args.voice_out is not None
    text, heard = args.text, None
    if args.voice_in is not None:
        try:
            text = heard = asyncio.run(listen_to(assistant, Path(args.voice_in)))
        except ListenError as exc:
            print(exc, file=sys.stderr)
            return ExitStatus.FAILED
    question = owner_says(text, wants_voice=wants_voice, mode=args.mode, heard=heard)

    async def answer() -> Reply:
        return await assistant.add_voice(await assistant.handle(question))

    reply = asyncio.run(answer())
    status = OUTCOME_STATUS[reply.outcome]
    if status is ExitStatus.NO_MODEL:  # the chat's advice (/mode workflow) does not fit here
        instead = f"drop --mode {args.mode}" if args.mode else "add --mode workflow"
        print(NO_KEY_FOR_ASK.format(instead=instead), file=sys.stderr)
        return status
    print(reply.text)
    if not wants_voice or status is not ExitStatus.ANSWERED:
        return status
    if reply.voice is None:
        print("The voice note could not be made; the reply above is the text.", file=sys.stderr)
        return ExitStatus.FAILED
    Path(args.voice_out).write_bytes(reply.voice.ogg_opus)
    print(f"Voice note ({reply.voice.duration:.1f} s) written to {args.voice_out}", file=sys.stderr)
    return status


async def listen_to(assistant: Assistant, recording: Path) -> str:
    try:
        audio = recording.read_bytes()
    except OSError as exc:
        raise ListenError(f"Cannot read {recording}: {exc.strerror or exc}") from None
    return await assistant.hear(audio, TERMINAL_CHAT_ID)


def compare_modes(args: argparse.Namespace) -> int:
    quiet_logging()
    assistant = build(load(args), Secrets.from_environment().anthropic_api_key)
    message = owner_says(f"/compare {args.text}")
    print(asyncio.run(assistant.handle(message)).text)
    return 0


def run_eval(args: argparse.Namespace) -> int:
    # Imported here: vcrpy and matplotlib are loaded only for an eval.
    from bot.eval import EvalError, evaluate

    quiet_logging()
    try:
        evaluation = asyncio.run(
            evaluate(
                Path(args.scenarios),
                load(args),
                Path(args.out),
                Secrets.from_environment().anthropic_api_key,
                record=args.record,
            )
        )
    except EvalError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(evaluation.tables())
    print(f"\nWrote {evaluation.markdown_path} and {evaluation.chart_path}")
    return 0


def status(args: argparse.Namespace) -> int:
    from bot.status import describe
    from bot.telegram.server import database_url

    config = load(args)
    token = Secrets.from_environment().telegram_bot_token
    database = database_url(config, shared_database(config, args.database))
    telegram = config.settings.telegram
    healthy, report = describe(config.data_dir, database, token, telegram.base_url)
    print(report)
    return 0 if healthy else 1


def pair(args: argparse.Namespace) -> int:
    config = load(args)
    database = shared_database(config, args.database)
    code = open_stores(config.data_dir, config.settings, database).access.new_code()
    print(
        f"Pairing code: {code}\n"
        f"Ask the person to send this to your bot within {CODE_MINUTES} minutes (it works once):\n"
        f"  /pair {code}\n"
        "They get their own history. To give them their own calendar, add them under 'people:' "
        "in the config file; until then they see no one's events."
    )
    return 0


def check_config(args: argparse.Namespace) -> int:
    path = choose_config_path(args.file or args.config)
    speaker = Speaker()
    try:
        config = load_config(path, TOOLS.names(), voice_problem=speaker.validate_voice)
        check_data_folder(config.data_dir)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    except CannotStart as exc:
        print(f"{path}: 1 problem:\n  - {exc}", file=sys.stderr)
        return 1
    finally:
        speaker.close()
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
