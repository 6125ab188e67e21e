"""What model calls use and cost, and the limits on it: the one place tokens are counted.

`Usage` is what a run used; `cost_usd` prices it from the config's price table; `RunLimits` are
one run's limits (the agent's `llm.limits`), checked by name before every model call and before
tool calls. Per-person daily limits (bot/store/allowances.py), /trace, /compare and the eval
count with the same `Usage` and the same prices.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.config import AgentLimits, LlmSettings, Price

if TYPE_CHECKING:
    from integrations.llm import Completion


@dataclass(frozen=True)
class Usage:
    model_calls: int = 0
    input_tokens: int = 0  # read afresh: not from the prompt cache, not written to it
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @classmethod
    def of(cls, completion: Completion) -> Usage:
        """One completion's usage: one model call, or two when a reply was continued."""
        return cls(
            completion.model_calls,
            completion.input_tokens,
            completion.output_tokens,
            completion.cache_read_tokens,
            completion.cache_write_tokens,
        )

    @property
    def prompt_tokens(self) -> int:
        """Every token the model read: fresh, from the cache and written to it."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.model_calls + other.model_calls,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )


def price_of(settings: LlmSettings) -> Price:
    """The price of the configured model (config validation guarantees there is one)."""
    return settings.prices[settings.model]


def cost_usd(usage: Usage, price: Price) -> float:
    return (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_write_tokens * price.cache_write
        + usage.cache_read_tokens * price.cache_read
    ) / 1_000_000


@dataclass
class RunLimits:
    """One run's limits and what it has used so far."""

    limits: AgentLimits
    price: Price
    started: float = field(default_factory=time.perf_counter)
    usage: Usage = field(default_factory=Usage)
    tool_calls: int = 0

    def exhausted(self) -> str | None:
        """The limit that stops the run before another model call, in words, or None."""
        limits, used = self.limits, self.usage
        dollars = f"{limits.cost_usd:.2f}" if limits.cost_usd >= 0.01 else f"{limits.cost_usd:.4f}"
        checks = [
            (used.model_calls >= limits.model_calls, f"{limits.model_calls} model calls"),
            (self.tool_calls > limits.tool_calls, f"{limits.tool_calls} tool calls"),
            (used.input_tokens >= limits.input_tokens, f"{limits.input_tokens:,} input tokens"),
            (used.output_tokens >= limits.output_tokens, f"{limits.output_tokens:,} output tokens"),
            (cost_usd(used, self.price) >= limits.cost_usd, f"${dollars}"),
            (
                time.perf_counter() - self.started >= limits.wall_seconds,
                f"{limits.wall_seconds:g} seconds",
            ),
        ]
        return next((what for reached, what in checks if reached), None)

    def tools_refused(self, wanted: int) -> str | None:
        """The limit the tools Claude just asked for would pass, in words, or None."""
        if self.tool_calls + wanted > self.limits.tool_calls:
            return f"{self.limits.tool_calls} tool calls"
        return None
