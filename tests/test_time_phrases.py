"""Every time phrase of tests/data/time_phrases.yaml is read as the window it means."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.understanding import understand

TABLE = yaml.safe_load((Path(__file__).parent / "data" / "time_phrases.yaml").read_text())
ZONE = ZoneInfo(TABLE["timezone"])
NOW = datetime.fromisoformat(str(TABLE["now"])).replace(tzinfo=ZONE)


def local(text: object) -> datetime:
    value = str(text)
    return datetime.fromisoformat(value if "T" in value else f"{value}T00:00").replace(tzinfo=ZONE)


@pytest.mark.parametrize(("phrase", "start", "end"), TABLE["phrases"])
def test_time_phrase(phrase: str, start: object, end: object) -> None:
    question = understand(phrase, NOW)
    assert question.window is not None, phrase
    if end == "at":
        assert question.moment == local(start)
        assert question.window.start <= local(start) < question.window.end
    else:
        assert (question.window.start, question.window.end) == (local(start), local(end))
    assert question.window.label


def test_duckling_reads_a_few_words_at_a_time_however_long_the_message(monkeypatch) -> None:
    """Its work grows steeply with the time words in one string: a message of weekday names
    must not reach it whole (sixteen of them took it 40 s)."""
    import duckling

    from bot.understanding import duckling as bridge

    lengths: list[int] = []
    parse = duckling.parse

    def counting(text: str, *args: object) -> object:
        lengths.append(len(text.split()))
        return parse(text, *args)

    monkeypatch.setattr(duckling, "parse", counting)
    question = understand(" ".join(["monday tuesday wednesday thursday"] * 500), NOW)

    assert question.window is not None
    assert max(lengths) <= bridge.WINDOW
    assert len(lengths) <= bridge.MAX_WORDS // bridge.STRIDE + 1


@pytest.mark.parametrize("filler", [0, 20, 35])
def test_a_time_phrase_is_found_wherever_it_sits_in_the_first_words(filler: int) -> None:
    words = " ".join(["word"] * filler)
    question = understand(f"{words} what is on between 2 and 4 on friday?", NOW)
    assert question.window is not None
    assert (question.window.start, question.window.end) == (
        local("2026-11-27T14:00"),
        local("2026-11-27T16:00"),
    )
