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
