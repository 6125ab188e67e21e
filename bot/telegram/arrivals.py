"""The newest message received in each chat, so that an answer can tell whether the person wrote
again after the question it answers: then it replies to the question's message, quoting it.

Updates are noted as they are received (stored as runs) and as they are handled; a chat's runs
go one at a time, so a burst is all noted before the answer to its first message goes out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

CHATS_KEPT = 10_000  # the chats heard from most recently; older ones are forgotten


class Arrivals:
    def __init__(self, kept: int = CHATS_KEPT) -> None:
        self._newest: OrderedDict[int, int] = OrderedDict()
        self._kept = kept
        self._lock = threading.Lock()

    def note(self, update: dict[str, Any]) -> None:
        """Note the message an update carries (a Bot API update as JSON), if it carries one."""
        message = update.get("message")
        if isinstance(message, dict) and isinstance(message.get("chat"), dict):
            chat_id, message_id = message["chat"].get("id"), message.get("message_id")
            if isinstance(chat_id, int) and isinstance(message_id, int):
                self.noted(chat_id, message_id)

    def noted(self, chat_id: int, message_id: int) -> None:
        with self._lock:
            self._newest[chat_id] = max(message_id, self._newest.pop(chat_id, message_id))
            while len(self._newest) > self._kept:
                self._newest.popitem(last=False)

    def wrote_since(self, chat_id: int, message_id: int) -> bool:
        """Whether a message newer than `message_id` came in the chat."""
        with self._lock:
            return self._newest.get(chat_id, message_id) > message_id
