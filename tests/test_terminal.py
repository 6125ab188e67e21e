"""The terminal chat driven through a pseudo-terminal, keys and pastes as a person sends them."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

TANDEM = shutil.which("tandem", path=str(Path(sys.executable).parent)) or "tandem"
PROMPT = "you › "
LEFT, UP, HOME = "\x1b[D", "\x1b[A", "\x01"
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"  # how a terminal wraps a paste (bracketed)


class Terminal:
    def __init__(self, folder: Path) -> None:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("TELEGRAM_BOT_TOKEN", "ANTHROPIC_API_KEY", "TANDEM_CONFIG")
        }
        env["TANDEM_DATA_DIR"] = str(folder / "data")
        self.child = pexpect.spawn(
            TANDEM, ["chat"], cwd=folder, env=env, encoding="utf-8", timeout=60
        )
        self.child.expect(PROMPT)

    def keys(self, keys: str) -> str:
        """Type `keys` then Enter; Tandem's reply (what it printed before the next prompt)."""
        self.child.send(keys + "\r")
        self.child.expect(PROMPT)
        return self.child.before.split("tandem › ", 1)[-1].strip()

    def leave(self) -> None:
        self.child.send("/quit\r")
        self.child.expect(pexpect.EOF)
        assert "Traceback" not in (self.child.before or "")


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    chat = Terminal(tmp_path)
    yield chat
    chat.leave()


def test_arrow_keys_edit_the_line_and_bring_back_earlier_ones(tmp_path):
    chat = Terminal(tmp_path)
    assert chat.keys(f"/mde{LEFT}{LEFT}o").startswith("Mode: workflow.")
    assert chat.keys(f"voice{HOME}/").startswith("Voice replies: ")
    assert chat.keys(f"{UP}{UP}").startswith("Mode: workflow.")
    chat.leave()

    again = Terminal(tmp_path)  # the history is kept across chats, for the owner's eyes only
    assert again.keys(UP * 3).startswith("Voice replies: ")  # back past /quit and /mode
    again.leave()
    assert (tmp_path / "data" / "terminal-history").stat().st_mode & 0o077 == 0


def test_a_long_paste_is_read_whole_and_its_length_told_right(terminal):
    pasted = "x" * 5000 + "\nand a second line"
    reply = terminal.keys(f"{PASTE_START}{pasted}{PASTE_END}")
    assert f"That message is {len(pasted):,} characters long; I read up to 4,000." in reply


def test_the_owner_is_not_held_to_the_per_minute_limit_in_their_own_terminal(terminal):
    replies = [terminal.keys("hi") for _ in range(12)]  # the limit is 10 a minute
    assert all(reply.startswith("Hello! Ask me about your calendar") for reply in replies)


def interrupted(chat: Terminal) -> tuple[int | None, str]:
    """Ctrl-C at the prompt: how Tandem ended, and what it printed."""
    chat.child.sendintr()
    chat.child.expect(pexpect.EOF)  # before: the prompt's thread held it until the next Enter
    chat.child.close()
    return chat.child.exitstatus, chat.child.before or ""


def test_ctrl_c_at_the_prompt_leaves_at_once_as_interrupted(tmp_path):
    status, said = interrupted(Terminal(tmp_path))
    assert status == 130, said
    assert "Traceback" not in said


def test_ctrl_c_after_a_question_leaves_as_interrupted_and_forgets_the_refused_paste(tmp_path):
    chat = Terminal(tmp_path)
    assert chat.keys("what's on tomorrow?").startswith("Tomorrow, ")  # time phrases read
    chat.keys(f"{PASTE_START}{'x' * 5000}{PASTE_END}")
    status, said = interrupted(chat)
    # Before, the time-phrase reader's runtime had taken Ctrl-C: "interrupted", status 1.
    assert status == 130, said
    assert "interrupted" not in said
    history = (tmp_path / "data" / "terminal-history").read_text()
    assert "what's on tomorrow?" in history and "x" * 5000 not in history
