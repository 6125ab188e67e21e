"""The scenarios file, how an answer is judged, and what a mode's results add up to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from bot.config import LoadedConfig, Mode, Price, Strict, used_twice
from bot.engine.usage import Usage, cost_usd
from bot.store.memory import RunRecord
from bot.tools import TOOLS

ALL_MODES: tuple[Mode, ...] = ("workflow", "agent", "hybrid")


class EvalError(Exception):
    """The eval cannot run or cannot be trusted. The message says what to do about it."""


class ScenarioTurn(Strict):
    """One message of a scenario and what its answer must show."""

    user: str = Field(min_length=1)
    expect: list[str] = Field(default_factory=list)  # facts the answer must contain (any case)
    tools: list[str] = Field(default_factory=list)  # tools that must have been called

    @field_validator("tools")
    @classmethod
    def _known_tools(cls, tools: list[str]) -> list[str]:
        unknown = sorted(set(tools) - TOOLS.names())
        if unknown:
            known = ", ".join(sorted(TOOLS.names()))
            raise ValueError(f"unknown tool(s) {', '.join(unknown)}; tools are {known}")
        return tools


class Scenario(Strict):
    name: str = Field(min_length=1)
    turns: list[ScenarioTurn] = Field(min_length=1)


class ScenarioFile(Strict):
    now: datetime  # the clock of every run; without an offset, in the config's time zone
    recording: str = Field(min_length=1)  # a vcrpy cassette, relative to the scenarios file
    modes: list[Mode] = Field(default_factory=lambda: list(ALL_MODES), min_length=1)
    scenarios: list[Scenario] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> ScenarioFile:
        if twice := used_twice(scenario.name for scenario in self.scenarios):
            raise ValueError(f"scenario names must be unique; used twice: {', '.join(twice)}")
        return self


@dataclass(frozen=True)
class Scenarios:
    path: Path
    now: datetime  # aware
    recording: Path
    modes: tuple[Mode, ...]
    scenarios: tuple[Scenario, ...]


def load_scenarios(path: Path, config: LoadedConfig) -> Scenarios:
    """Read and check a scenarios file; EvalError lists every problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalError(f"{path}: no such scenarios file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise EvalError(f"{path}: cannot be read: {exc}") from None
    try:
        parsed = ScenarioFile.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        problems = "\n".join(
            f"  - {'.'.join(str(part) for part in error['loc']) or 'file'}: {error['msg']}"
            for error in exc.errors()
        )
        raise EvalError(f"{path}: the scenarios file has problems:\n{problems}") from None
    now = parsed.now
    if now.tzinfo is None:
        now = now.replace(tzinfo=config.settings.user.zone)
    return Scenarios(
        path,
        now,
        (path.parent / parsed.recording).resolve(),
        tuple(dict.fromkeys(parsed.modes)),
        tuple(parsed.scenarios),
    )


def judge(turn: ScenarioTurn, answer: str, tools_called: Sequence[str]) -> str | None:
    """Why an answer fails its turn, or None when it passes.

    Every expected fact must appear in the answer, whatever the case and whichever apostrophe;
    every tool listed must have been called at least once during the turn.
    """
    said = _plain(answer)
    missing = [fact for fact in turn.expect if _plain(fact) not in said]
    not_called = [tool for tool in turn.tools if tool not in tools_called]
    reasons = []
    if missing:
        reasons.append("missing " + ", ".join(f"“{fact}”" for fact in missing))
    if not_called:
        reasons.append("did not call " + ", ".join(not_called))
    return "; ".join(reasons) or None


def _plain(text: str) -> str:
    return " ".join(text.replace("’", "'").casefold().split())


@dataclass(frozen=True)
class TurnResult:
    user: str
    run: RunRecord
    failure: str | None  # why the answer failed the turn; None when it passed


@dataclass(frozen=True)
class ScenarioResult:
    scenario: str
    mode: Mode
    turns: tuple[TurnResult, ...]

    @property
    def passed(self) -> bool:
        return all(turn.failure is None for turn in self.turns)

    @property
    def reason(self) -> str:
        """The first failure, with its turn, or "" when the scenario passed."""
        return next(
            (
                f"turn {number}: {turn.failure}" if len(self.turns) > 1 else turn.failure
                for number, turn in enumerate(self.turns, 1)
                if turn.failure
            ),
            "",
        )


@dataclass(frozen=True)
class ModeSummary:
    mode: Mode
    scenarios: int
    passed: int
    answers: int
    usage: Usage
    cost_usd: float
    seconds: float


def summarize(mode: Mode, results: Sequence[ScenarioResult], price: Price) -> ModeSummary:
    runs = [turn.run for result in results for turn in result.turns]
    usage = sum((run.usage for run in runs), Usage())
    return ModeSummary(
        mode,
        len(results),
        sum(result.passed for result in results),
        len(runs),
        usage,
        cost_usd(usage, price),
        sum(run.seconds for run in runs),
    )
