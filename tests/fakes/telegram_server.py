"""A small stand-in for the Telegram Bot API, for end-to-end tests of the real `tandem run`.

One bot, any number of chats. Tandem (python-telegram-bot) is pointed at it with
`telegram.base_url: http://127.0.0.1:<port>/bot`; tests queue users' messages and read what the
bot sent through a control API. Parameters are read from the query string and from a JSON,
form-urlencoded or multipart/form-data body, as the real server does; method names are
case-insensitive. Every answer is `{"ok": true, "result": ...}` or
`{"ok": false, "error_code": n, "description": "..."}` with HTTP status n.

It speaks, at /bot<TOKEN>/<method>:
- getMe            the bot (its id is the token's number), with is_bot, can_join_groups, ...
- getUpdates       offset (confirms and drops every update below it; negative: keep the last
                   -offset), limit (1-100), timeout (long poll: answers as soon as an update is
                   queued), allowed_updates (remembered; later updates of other kinds are not
                   queued). A newer getUpdates ends a waiting one with 409 Conflict; so does a
                   set webhook.
- sendMessage      chat_id, text, parse_mode (HTML is checked: unsupported or unbalanced tags
                   give 400 "can't parse entities"; the text, parsed, must be 1-4096 UTF-16
                   units), reply_parameters (a ReplyParameters object: message_id required;
                   chat_id, allow_sending_without_reply, quote optional; a message that does
                   not exist gives 400 "message to be replied not found" unless sending
                   without reply is allowed; a quote must be an exact substring of it).
                   Returns a Message (date in seconds, text without markup), with
                   reply_to_message when it replies to one.
- sendChatAction   chat_id, action.
- sendVoice        chat_id, voice (an uploaded file, "attach://<name>", or a file_id sent
                   before), duration, caption. Returns a Message with a `voice` object.
- getFile          file_id of a sent voice or of a file a user sent; the bytes are at
                   /file/bot<TOKEN>/<file_path>. Over 20 MB: 400 "file is too big".
- setWebhook       url (http is allowed here, unlike Telegram), secret_token,
                   drop_pending_updates, allowed_updates, max_connections.
- deleteWebhook    drop_pending_updates.   getWebhookInfo   url, pending_update_count, errors.
- setMyCommands / getMyCommands / deleteMyCommands, close, logOut.
Anything else: 404 "Not Found: method not found". A token other than `--token` (when given)
or not shaped like one: 401 "Unauthorized".

Webhook mode: while a webhook is set, queued updates are POSTed to it as JSON with the header
X-Telegram-Bot-Api-Secret-Token (when a secret was set), one at a time per chat and in order,
chats in parallel. A delivery that gets no 2xx is retried after 0.2 s, doubling up to 2 s,
until it succeeds or the webhook is removed; an update is never dropped. Deleting the webhook
leaves undelivered updates for getUpdates.

The control API for tests, under /_test/:
- POST /_test/updates    a message from a user, queued as an update; the fake assigns the
                         update_id and the message_id. Body: {"user_id": 111, "text": "hi"} with
                         optional chat_id (default: the user's private chat; negative: a
                         group), first_name, language_code, sticker (an emoji, instead of text),
                         voice / audio / document / video_note (a recording instead of text:
                         {"data_base64", "duration", "mime_type", "file_name"}, kept for
                         getFile) and message (fields merged into the Message). A leading
                         /command gets its bot_command entity. A JSON list queues several at
                         once (one getUpdates then returns them all). Answers {"update_id",
                         "message_id"} (or a list of them).
- POST /_test/resend     {"update_id": n}: queue an update made before once more, as Telegram
                         does when the bot's confirmation (offset) never reached it: a bot
                         that starts afresh fetches it again. Answers {"update_id": n}.
- GET  /_test/sent       everything the bot sent (sendMessage, sendChatAction, sendVoice), in
                         order: {"seq", "at", "method", "chat_id", ...the call's fields}; a
                         voice's bytes are in voice.data_base64. `?chat_id=` filters;
                         `?since=<seq>` gives only what was sent after that one.
- GET  /_test/confirmed  {"offset": the highest getUpdates offset given, "pending": [update
                         ids not yet confirmed or delivered], "delivered": [ids POSTed to a
                         webhook with a 2xx answer]}.
- GET  /_test/state      the webhook (url, secret_token), the commands, getUpdates calls so
                         far and when the first came (epoch seconds), and the calls refused
                         (e.g. by --flood-once).
- POST /_test/reset      forget updates, sent messages, webhook and commands (ids keep
                         increasing, so a bot that stays up is not confused).

Any request can be made to fail as the real service fails (an error status, an HTML page, a
body cut off, dripping or without end, silence): `POST /_test/fault`, see tests/fakes/faults.py.

Run: python -m tests.fakes.telegram_server [--port 0] [--token 123:TEST] [--flood-once]
It prints "PORT <n>" once listening. `--flood-once` makes the first sendMessage answer 429
"Too Many Requests: retry after 1" with parameters.retry_after = 1. Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import email.parser
import email.policy
import itertools
import json
import re
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.fakes.faults import Faults, intercept

Params = dict[str, Any]

MESSAGE_LIMIT = 4096  # UTF-16 code units, after entity parsing
FIRST_UPDATE_ID = 10_001
RETRY_FIRST, RETRY_MAX = 0.2, 2.0  # webhook redelivery backoff, seconds
WEBHOOK_TIMEOUT = 10.0

# fmt: off
CHAT_ACTIONS = {
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
}
HTML_TAGS = {  # what Telegram's HTML parse mode accepts
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code",
    "pre", "blockquote", "tg-emoji",
}
UPDATE_KINDS = (
    "message", "edited_message", "channel_post", "edited_channel_post", "callback_query",
    "inline_query", "my_chat_member", "chat_member",
)
# fmt: on
# What a user can send as a recording: the folder and extension Telegram's file_path uses.
RECORDING_KINDS = {
    "voice": ("voice", ".oga"),
    "audio": ("music", ".mp3"),
    "document": ("documents", ".bin"),
    "video_note": ("video_notes", ".mp4"),
}
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # getFile serves files up to 20 MB
COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{5,32})?")


class ApiError(Exception):
    """A Bot API error answer: HTTP status `code` and {"ok": false, ...}."""

    def __init__(self, code: int, description: str, parameters: Params | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


CONFLICT_OTHER_POLL = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)


# --- reading parameters ---------------------------------------------------------------------


@dataclass
class Upload:
    """A file in a multipart/form-data request."""

    filename: str
    mime_type: str
    data: bytes


def read_params(query: str, content_type: str, body: bytes) -> Params:
    """The call's parameters from the query string and the body, however it is encoded."""
    params: Params = dict(parse_qsl(query))
    if not body:
        return params
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json":
        decoded = json.loads(body)
        if not isinstance(decoded, dict):
            raise ApiError(400, "Bad Request: the request body must be a JSON object")
        params.update(decoded)
    elif kind == "multipart/form-data":
        params.update(read_multipart(content_type, body))
    else:  # application/x-www-form-urlencoded, as python-telegram-bot sends
        params.update(parse_qsl(body.decode(), keep_blank_values=True))
    return params


def read_multipart(content_type: str, body: bytes) -> Params:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: Params = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if not isinstance(name, str):
            continue
        filename = part.get_filename()
        if filename is not None:
            fields[name] = Upload(filename, part.get_content_type(), payload)
        else:
            fields[name] = payload.decode(part.get_content_charset() or "utf-8")
    return fields


def integer(params: Params, name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: wrong parameter {name} in request") from None


def flag(params: Params, name: str) -> bool:
    value = params.get(name, False)
    return value is True or str(value).lower() in ("true", "1")


def json_field(params: Params, name: str) -> Any:
    """A structured parameter: JSON text in query strings and forms, a value in JSON bodies."""
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None
    return value


def chat_id_of(params: Params) -> int | str:
    value = params.get("chat_id")
    if value is None or value == "":
        raise ApiError(400, "Bad Request: chat_id is empty")
    if isinstance(value, str) and value.startswith("@"):
        return value  # a channel's @username
    return int(integer(params, "chat_id") or 0)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class TelegramHtml(HTMLParser):
    """Checks text in parse_mode HTML as Telegram does (tags only) and keeps its plain text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.plain: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            raise ApiError(
                400, f'Bad Request: can\'t parse entities: Unsupported start tag "{tag}"'
            )
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            raise ApiError(400, f'Bad Request: can\'t parse entities: Unexpected end tag "{tag}"')
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.plain.append(data)

    @classmethod
    def plain_text(cls, text: str) -> str:
        parser = cls()
        parser.feed(text)
        parser.close()
        if parser.open:
            raise ApiError(
                400,
                "Bad Request: can't parse entities: "
                f'Can\'t find end tag corresponding to start tag "{parser.open[-1]}"',
            )
        return "".join(parser.plain)


# --- the bot's world: updates, chats, what was sent ------------------------------------------


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    allowed_updates: list[str] | None
    delivering: set[int | None] = field(default_factory=set)  # chats with a sender running
    last_error_date: int | None = None
    last_error_message: str | None = None


class FakeTelegram:
    """All state, behind one lock; `changed` wakes long polls and webhook senders."""

    def __init__(self, token: str | None, flood_once: bool) -> None:
        self.token = token
        self.flood_left = 1 if flood_once else 0
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.update_ids = itertools.count(FIRST_UPDATE_ID)
        self.file_ids = itertools.count(1)
        self.message_ids: dict[int | str, itertools.count[int]] = {}
        self.poll_generation = 0
        self.reset()

    def reset(self) -> None:
        with self.changed:
            self.pending: list[Params] = []
            self.made: dict[int, Params] = {}  # every update queued, by id (for resend)
            self.sent: list[Params] = []
            self.refused: list[Params] = []
            self.delivered: list[int] = []
            self.chats: dict[int | str, Params] = {}
            self.messages: dict[tuple[str, int], Params] = {}  # (chat id, message id): message
            self.files: dict[str, tuple[str, Upload]] = {}  # file_id -> (file_path, upload)
            self.offset = 0
            self.allowed_updates: list[str] | None = None
            self.webhook: Webhook | None = None
            self.commands: list[Any] = []
            self.get_updates_calls = 0
            self.first_get_updates_at: float | None = None
            self.changed.notify_all()

    # Shapes of Bot API objects.

    def bot_user(self, token: str) -> Params:
        return {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": "Tandem (fake)",
            "username": "tandem_fake_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def chat(self, chat_id: int | str) -> Params:
        if chat_id in self.chats:
            return self.chats[chat_id]
        if isinstance(chat_id, int) and chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
        return {"id": chat_id, "type": "group", "title": f"Group {chat_id}"}

    def next_message_id(self, chat_id: int | str) -> int:
        return next(self.message_ids.setdefault(chat_id, itertools.count(1)))

    # The control API's side.

    def queue_messages(self, specs: list[Params]) -> list[Params]:
        """Queue users' messages as updates, all at once (see POST /_test/updates)."""
        with self.changed:
            queued = [self.queue_message(spec) for spec in specs]
            self.changed.notify_all()
            self.start_webhook_senders()
            return queued

    def queue_message(self, spec: Params) -> Params:
        """Queue one message as an update (call with the lock held)."""
        user_id = int(spec["user_id"])
        chat_id = int(spec.get("chat_id", user_id))
        user = {
            "id": user_id,
            "is_bot": False,
            "first_name": spec.get("first_name", f"User {user_id}"),
            "language_code": spec.get("language_code", "en"),
        }
        if chat_id not in self.chats:
            self.chats[chat_id] = (
                {"id": chat_id, "type": "private", "first_name": user["first_name"]}
                if chat_id > 0
                else {"id": chat_id, "type": "group", "title": f"Group {chat_id}"}
            )
        message: Params = {
            "message_id": self.next_message_id(chat_id),
            "from": user,
            "chat": self.chats[chat_id],
            "date": int(spec.get("date", time.time())),
        }
        if "sticker" in spec:
            message["sticker"] = sticker(str(spec["sticker"]))
        elif kinds := [kind for kind in RECORDING_KINDS if kind in spec]:
            message[kinds[0]] = self.receive_file(kinds[0], spec[kinds[0]])
        elif "text" in spec:
            message["text"] = text = str(spec["text"])
            entities = command_entities(text)
            if entities:
                message["entities"] = entities
        message.update(spec.get("message", {}))
        if self.allowed_updates and "message" not in self.allowed_updates:
            return {"update_id": None, "message_id": message["message_id"]}  # not created
        update = {"update_id": next(self.update_ids), "message": message}
        self.messages[(str(chat_id), message["message_id"])] = message
        self.pending.append(update)
        self.made[update["update_id"]] = update
        return {"update_id": update["update_id"], "message_id": message["message_id"]}

    def receive_file(self, kind: str, spec: Params) -> Params:
        """A file a user sent (call with the lock held): kept for getFile, described as the
        Bot API describes a Voice, Audio, Document or VideoNote."""
        folder, extension = RECORDING_KINDS[kind]
        number = next(self.file_ids)
        file_id = f"AwACAgQAAxkBAAFake{kind.title().replace('_', '')}{number:04d}"
        data = base64.b64decode(spec["data_base64"])
        mime_type = spec.get("mime_type", "video/mp4" if kind == "video_note" else "audio/ogg")
        name = spec.get("file_name", f"recording{extension}")
        self.files[file_id] = (f"{folder}/file_{number}{extension}", Upload(name, mime_type, data))
        described: Params = {"file_id": file_id, "file_unique_id": file_id[-12:]}
        described["file_size"] = len(data)
        if kind != "document":
            described["duration"] = int(spec.get("duration", 1))
        if kind == "video_note":
            described["length"] = 240
        else:
            described["mime_type"] = mime_type
        if kind in ("audio", "document"):
            described["file_name"] = name
        return described

    def resend(self, update_id: int) -> Params:
        """Queue an update made before once more (see POST /_test/resend)."""
        with self.changed:
            if update_id not in self.made:
                raise ApiError(404, f"Not Found: no update {update_id} was made")
            if all(u["update_id"] != update_id for u in self.pending):
                self.pending.append(self.made[update_id])
                self.pending.sort(key=lambda u: u["update_id"])
            self.changed.notify_all()
            self.start_webhook_senders()
        return {"update_id": update_id}

    def sent_list(self, chat_id: str | None, since: int = 0) -> list[Params]:
        with self.lock:
            return [
                s
                for s in self.sent[since:]  # seq n is at index n - 1
                if chat_id is None or str(s["chat_id"]) == chat_id
            ]

    def confirmed(self) -> Params:
        with self.lock:
            return {
                "offset": self.offset,
                "pending": [u["update_id"] for u in self.pending],
                "delivered": list(self.delivered),
            }

    def state(self) -> Params:
        with self.lock:
            hook = self.webhook
            return {
                "webhook": hook and {"url": hook.url, "secret_token": hook.secret_token},
                "commands": self.commands,
                "allowed_updates": self.allowed_updates,
                "get_updates_calls": self.get_updates_calls,
                "first_get_updates_at": self.first_get_updates_at,
                "refused": self.refused,
            }

    def record(self, method: str, chat_id: int | str, **fields: Any) -> None:
        """Remember one thing the bot sent (call with the lock held)."""
        entry = {"seq": len(self.sent) + 1, "at": time.time(), "method": method}
        self.sent.append({**entry, "chat_id": chat_id, **fields})

    # getUpdates and the webhook.

    def get_updates(self, params: Params) -> list[Params]:
        offset = integer(params, "offset", 0) or 0
        limit = min(max(integer(params, "limit", 100) or 100, 1), 100)
        timeout = max(integer(params, "timeout", 0) or 0, 0)
        allowed = json_field(params, "allowed_updates")
        deadline = time.monotonic() + timeout
        with self.changed:
            self.get_updates_calls += 1
            if self.first_get_updates_at is None:
                self.first_get_updates_at = time.time()
            if self.webhook is not None:
                raise ApiError(409, CONFLICT_WEBHOOK)
            if allowed is not None:
                self.allowed_updates = list(allowed) or None  # [] means "all kinds"
            self.confirm(offset)
            self.poll_generation += 1
            mine = self.poll_generation
            self.changed.notify_all()  # an older poll still waiting now ends with 409
            while True:
                if self.poll_generation != mine:
                    raise ApiError(409, CONFLICT_OTHER_POLL)
                if self.webhook is not None:
                    raise ApiError(409, CONFLICT_WEBHOOK)
                ready = [u for u in self.pending if u["update_id"] >= offset][:limit]
                left = deadline - time.monotonic()
                if ready or left <= 0:
                    return ready
                self.changed.wait(left)

    def confirm(self, offset: int) -> None:
        """Drop the updates an offset confirms (call with the lock held)."""
        if offset > 0:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
            self.offset = max(self.offset, offset)
        elif offset < 0 and len(self.pending) > -offset:  # keep only the last -offset
            self.pending = self.pending[offset:]
            self.offset = max(self.offset, self.pending[0]["update_id"])

    def set_webhook(self, params: Params) -> bool:
        url = str(params.get("url") or "")
        with self.changed:
            if flag(params, "drop_pending_updates"):
                self.pending.clear()
            if not url:
                self.webhook = None
            else:
                if urlsplit(url).scheme not in ("http", "https"):
                    raise ApiError(400, "Bad Request: bad webhook: invalid webhook URL specified")
                allowed = json_field(params, "allowed_updates")
                self.webhook = Webhook(
                    url,
                    params.get("secret_token") or None,
                    integer(params, "max_connections", 40) or 40,
                    list(allowed) if allowed is not None else None,
                )
                if allowed is not None:
                    self.allowed_updates = list(allowed) or None
                self.start_webhook_senders()
            self.changed.notify_all()
        return True

    def webhook_info(self) -> Params:
        with self.lock:
            hook = self.webhook
            info: Params = {
                "url": hook.url if hook else "",
                "has_custom_certificate": False,
                "pending_update_count": len(self.pending),
            }
            if hook is not None:
                info["max_connections"] = hook.max_connections
                if hook.allowed_updates is not None:
                    info["allowed_updates"] = hook.allowed_updates
                if hook.last_error_date is not None:
                    info["last_error_date"] = hook.last_error_date
                    info["last_error_message"] = hook.last_error_message
            return info

    def start_webhook_senders(self) -> None:
        """One sender thread per chat with pending updates (call with the lock held)."""
        hook = self.webhook
        if hook is None:
            return
        for key in {chat_key(u) for u in self.pending} - hook.delivering:
            hook.delivering.add(key)
            threading.Thread(target=self.deliver_chat, args=(hook, key), daemon=True).start()

    def deliver_chat(self, hook: Webhook, key: int | None) -> None:
        """POST one chat's updates to the webhook in order, each until it gets a 2xx."""
        delay = RETRY_FIRST
        while True:
            with self.lock:
                head = next((u for u in self.pending if chat_key(u) == key), None)
                if self.webhook is not hook or head is None:
                    hook.delivering.discard(key)
                    return
            error = post_update(hook, head)
            with self.lock:
                if error is None:
                    if head in self.pending:
                        self.pending.remove(head)
                        self.delivered.append(head["update_id"])
                    delay = RETRY_FIRST
                    continue
                hook.last_error_date, hook.last_error_message = int(time.time()), error
            time.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)


def chat_key(update: Params) -> int | None:
    for kind in UPDATE_KINDS:
        chat = (update.get(kind) or {}).get("chat")
        if chat is not None:
            return int(chat["id"])
    return None


def post_update(hook: Webhook, update: Params) -> str | None:
    """POST one update to the webhook: None on a 2xx, else what went wrong."""
    headers = {"Content-Type": "application/json"}
    if hook.secret_token:
        headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
    request = urllib.request.Request(
        hook.url, json.dumps(update).encode(), headers=headers, method="POST"
    )
    try:
        with NO_PROXY.open(request, timeout=WEBHOOK_TIMEOUT) as response:
            response.read()
            return None
    except urllib.error.HTTPError as exc:
        return f"Wrong response from the webhook: {exc.code} {exc.reason}"
    except (OSError, ValueError) as exc:
        return f"Connection failed: {exc}"


NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def sticker(emoji: str) -> Params:
    return {
        "file_id": "CAACAgIAAxkBAAEFakeSticker",
        "file_unique_id": "AgADFakeSticker",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": emoji,
    }


def command_entities(text: str) -> list[Params]:
    """bot_command entities, as Telegram marks /commands (offsets in UTF-16 units)."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_length(text[: match.start()]),
            "length": utf16_length(match.group()),
        }
        for match in COMMAND.finditer(text)
    ]


# --- the Bot API methods ----------------------------------------------------------------------


def send_message(fake: FakeTelegram, token: str, params: Params) -> Params:
    chat_id = chat_id_of(params)
    text = str(params.get("text") or "")
    parse_mode = params.get("parse_mode") or None
    if parse_mode is not None and parse_mode not in ("HTML", "Markdown", "MarkdownV2"):
        raise ApiError(400, "Bad Request: unsupported parse_mode")
    plain = TelegramHtml.plain_text(text) if parse_mode == "HTML" else text
    if not plain.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if utf16_length(plain) > MESSAGE_LIMIT:
        raise ApiError(400, "Bad Request: message is too long")
    with fake.lock:
        replied_to = reply_target(fake, chat_id, params)
        if fake.flood_left:
            fake.flood_left -= 1
            fake.refused.append({"at": time.time(), "method": "sendMessage", "chat_id": chat_id})
            raise ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        message = {
            "message_id": fake.next_message_id(chat_id),
            "from": fake.bot_user(token),
            "chat": fake.chat(chat_id),
            "date": int(time.time()),
            "text": plain,
        }
        if replied_to is not None:
            message["reply_to_message"] = replied_to
        fake.messages[(str(chat_id), message["message_id"])] = message
        fake.record(
            "sendMessage",
            chat_id,
            text=text,
            parse_mode=parse_mode,
            message_id=message["message_id"],
            reply_to_message_id=replied_to and replied_to["message_id"],
        )
    return message


def reply_target(fake: FakeTelegram, chat_id: int | str, params: Params) -> Params | None:
    """The message `reply_parameters` points at; None to send without a reply (call with the
    lock held). Raises as the Bot API does for what it cannot parse or find."""
    if params.get("reply_parameters") in (None, ""):
        return None
    wanted = json_field(params, "reply_parameters")
    if not isinstance(wanted, dict) or not isinstance(wanted.get("message_id"), int):
        raise ApiError(400, "Bad Request: can't parse reply parameters JSON object")
    chat = wanted.get("chat_id", chat_id)
    target = fake.messages.get((str(chat), wanted["message_id"]))
    if target is None:
        if wanted.get("allow_sending_without_reply") is True:
            return None
        raise ApiError(400, "Bad Request: message to be replied not found")
    quote = wanted.get("quote")
    if quote is not None and (not isinstance(quote, str) or quote not in target.get("text", "")):
        raise ApiError(400, "Bad Request: quote not found")
    return {key: value for key, value in target.items() if key != "reply_to_message"}


def send_chat_action(fake: FakeTelegram, token: str, params: Params) -> bool:
    chat_id = chat_id_of(params)
    action = params.get("action")
    if action not in CHAT_ACTIONS:
        raise ApiError(400, "Bad Request: wrong parameter action in request")
    with fake.lock:
        fake.record("sendChatAction", chat_id, action=action)
    return True


def send_voice(fake: FakeTelegram, token: str, params: Params) -> Params:
    chat_id = chat_id_of(params)
    voice = params.get("voice")
    if isinstance(voice, str) and voice.startswith("attach://"):
        voice = params.get(voice.removeprefix("attach://"))
    duration = integer(params, "duration")
    with fake.lock:
        if isinstance(voice, str) and voice in fake.files:
            file_id, upload = voice, fake.files[voice][1]
        elif isinstance(voice, Upload):
            file_id = f"AwACAgQAAxkBAAFakeVoice{next(fake.file_ids):04d}"
            fake.files[file_id] = (f"voice/file_{len(fake.files)}.oga", voice)
            upload = voice
        elif voice:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        else:
            raise ApiError(400, "Bad Request: there is no voice in the request")
        message: Params = {
            "message_id": fake.next_message_id(chat_id),
            "from": fake.bot_user(token),
            "chat": fake.chat(chat_id),
            "date": int(time.time()),
            "voice": {
                "file_id": file_id,
                "file_unique_id": file_id[-12:],
                "duration": duration or 0,
                "mime_type": "audio/ogg",
                "file_size": len(upload.data),
            },
        }
        if params.get("caption"):
            message["caption"] = params["caption"]
        fake.record(
            "sendVoice",
            chat_id,
            duration=duration,
            caption=params.get("caption"),
            message_id=message["message_id"],
            voice={
                "file_id": file_id,
                "filename": upload.filename,
                "mime_type": upload.mime_type,
                "size": len(upload.data),
                "data_base64": base64.b64encode(upload.data).decode(),
            },
        )
    return message


def get_file(fake: FakeTelegram, token: str, params: Params) -> Params:
    file_id = str(params.get("file_id") or "")
    with fake.lock:
        if file_id not in fake.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        path, upload = fake.files[file_id]
    if len(upload.data) > DOWNLOAD_LIMIT:
        raise ApiError(400, "Bad Request: file is too big")
    return {
        "file_id": file_id,
        "file_unique_id": file_id[-12:],
        "file_size": len(upload.data),
        "file_path": path,
    }


COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")


def set_my_commands(fake: FakeTelegram, token: str, params: Params) -> bool:
    """As the Bot API documents it: 1-32 characters of a-z, 0-9 and _ a command, 1-256 a
    description, at most 100 commands; the real API's error texts."""
    commands = json_field(params, "commands")
    if not isinstance(commands, list):
        raise ApiError(400, 'Bad Request: parameter "commands" is required')
    if len(commands) > 100:
        raise ApiError(400, "Bad Request: BOT_COMMANDS_TOO_MUCH")
    for command in commands:
        for name in ("command", "description"):
            if not isinstance(command, dict) or not isinstance(command.get(name), str):
                raise ApiError(
                    400, f"Bad Request: can't parse BotCommand: Can't find field \"{name}\""
                )
        if not COMMAND_NAME.fullmatch(command["command"]):
            raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        if not command["description"].strip():
            raise ApiError(400, "Bad Request: command description must be non-empty")
        if len(command["description"]) > 256:
            raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
    with fake.lock:
        fake.commands = commands
    return True


def delete_my_commands(fake: FakeTelegram, token: str, params: Params) -> bool:
    with fake.lock:
        fake.commands = []
    return True


def get_my_commands(fake: FakeTelegram, token: str, params: Params) -> list[Any]:
    with fake.lock:
        return list(fake.commands)


METHODS: dict[str, Callable[[FakeTelegram, str, Params], Any]] = {
    "getme": lambda fake, token, params: fake.bot_user(token),
    "getupdates": lambda fake, token, params: fake.get_updates(params),
    "sendmessage": send_message,
    "sendchataction": send_chat_action,
    "sendvoice": send_voice,
    "getfile": get_file,
    "setwebhook": lambda fake, token, params: fake.set_webhook(params),
    "deletewebhook": lambda fake, token, params: fake.set_webhook({**params, "url": ""}),
    "getwebhookinfo": lambda fake, token, params: fake.webhook_info(),
    "setmycommands": set_my_commands,
    "getmycommands": get_my_commands,
    "deletemycommands": delete_my_commands,
    "close": lambda fake, token, params: True,
    "logout": lambda fake, token, params: True,
}
TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")


# --- HTTP ---------------------------------------------------------------------------------------


# The faults a test queued (POST /_test/fault; see tests/fakes/faults.py).
FAULTS = Faults()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as python-telegram-bot's httpx client expects
    server: Server

    def do_GET(self) -> None:
        self.route()

    def do_POST(self) -> None:
        self.route()

    def route(self) -> None:
        if intercept(self, FAULTS):
            return
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = unquote(url.path).strip("/").split("/")  # httpx sends the token's ":" as %3A
        try:
            if parts[0] == "_test":
                self.control("/".join(parts[1:]), url.query, body)
            elif parts[0] == "file" and len(parts) > 2 and parts[1].startswith("bot"):
                self.download(parts[1].removeprefix("bot"), "/".join(parts[2:]))
            elif len(parts) == 2 and parts[0].startswith("bot"):
                self.call(parts[0].removeprefix("bot"), parts[1], url.query, body)
            else:
                raise ApiError(404, "Not Found")
        except ApiError as error:
            answer: Params = {"ok": False, "error_code": error.code}
            answer["description"] = error.description
            if error.parameters:
                answer["parameters"] = error.parameters
            self.reply(error.code, answer)
        except Exception as exc:  # a bad control call, or a bug here: say so, loudly
            traceback.print_exc()
            description = f"Internal Server Error (fake): {exc!r}"
            self.reply(500, {"ok": False, "error_code": 500, "description": description})

    def call(self, token: str, method: str, query: str, body: bytes) -> None:
        fake = self.server.fake
        if not TOKEN_SHAPE.fullmatch(token) or fake.token not in (None, token):
            raise ApiError(401, "Unauthorized")
        if method.lower() not in METHODS:
            raise ApiError(404, "Not Found: method not found")
        try:
            params = read_params(query, self.headers.get("Content-Type", ""), body)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "Bad Request: can't parse request parameters") from None
        result = METHODS[method.lower()](fake, token, params)
        self.reply(200, {"ok": True, "result": result})

    def control(self, what: str, query: str, body: bytes) -> None:
        fake = self.server.fake
        args = dict(parse_qsl(query))
        if (self.command, what) == ("POST", "updates"):
            spec = json.loads(body or b"{}")
            queued = fake.queue_messages(spec if isinstance(spec, list) else [spec])
            self.reply(200, queued if isinstance(spec, list) else queued[0])
        elif (self.command, what) == ("POST", "resend"):
            self.reply(200, fake.resend(int(json.loads(body or b"{}")["update_id"])))
        elif (self.command, what) == ("GET", "sent"):
            self.reply(200, fake.sent_list(args.get("chat_id"), int(args.get("since", 0))))
        elif (self.command, what) == ("GET", "confirmed"):
            self.reply(200, fake.confirmed())
        elif (self.command, what) == ("GET", "state"):
            self.reply(200, fake.state())
        elif (self.command, what) == ("POST", "reset"):
            fake.reset()
            self.reply(200, {"ok": True})
        else:
            raise ApiError(404, f"Not Found: no control call {self.command} /_test/{what}")

    def download(self, token: str, path: str) -> None:
        if self.server.fake.token not in (None, token):
            raise ApiError(401, "Unauthorized")
        with self.server.fake.lock:
            uploads = [upload for p, upload in self.server.fake.files.values() if p == path]
        if not uploads:
            raise ApiError(404, "Not Found")
        self.send(200, uploads[0].mime_type, uploads[0].data)

    def reply(self, status: int, answer: Any) -> None:
        self.send(status, "application/json", json.dumps(answer).encode())

    def send(self, status: int, content_type: str, data: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a long poll cut short by a stopping bot)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:  # off by default: request lines hold the bot token
            super().log_message(format, *args)


class Server(ThreadingHTTPServer):
    request_queue_size = 256  # room for a burst of connections (bench/ answers 100 chats at once)

    def __init__(self, port: int, fake: FakeTelegram, verbose: bool) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.fake, self.verbose = fake, verbose

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # not just a bot that stopped
            super().handle_error(request, client_address)


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake Telegram Bot API server for tests.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", help="the only token accepted (default: any)")
    parser.add_argument(
        "--flood-once", action="store_true", help="the first sendMessage answers 429"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args()
    server = Server(args.port, FakeTelegram(args.token, args.flood_once), args.verbose)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
